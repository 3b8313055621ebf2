"""The loader's composer resolves each distinct scalar's tag once (issue 7: PyYAML's Python
resolver was asked again for every repeated text; a fifth of composing a large model), with the same
tags, data and positions as PyYAML's own resolution."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from polyplan.model import loader

TRICKY = """\
plain: text
quoted: "yes"
single: 'null'
flags: [yes, no, on, off, true, False, ~, null, '']
numbers: [1, -2, +3, 0x1A, 0o17, 1_000, 1e3, 1.5, .inf, -.Inf, .nan, "12", '1e3']
dates: [2024-01-01, 2024-13-45, 2024-01-01T10:00:00Z, "2024-01-01"]
empty:
tagged: !!str 5
"on": key
? [complex]
: value
"""


def _tags(node: yaml.Node) -> list[Any]:
    found: list[Any] = [(type(node).__name__, node.tag, node.start_mark.line, node.start_mark.column)]
    if isinstance(node, yaml.ScalarNode):
        found.append(node.value)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found += _tags(key) + _tags(value)
    else:
        for item in node.value:
            found += _tags(item)
    return found


needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")


@needs_libyaml
def test_same_tags_as_pyyaml() -> None:
    # The same texts three times over: the repeats come from the memo.
    text = "\n".join(f"doc{i}:\n" + "\n".join("  " + line for line in TRICKY.splitlines()) for i in range(3))
    mine = yaml.compose(text, Loader=loader._COMPOSER)
    theirs = yaml.compose(text, Loader=yaml.CSafeLoader)
    assert _tags(mine) == _tags(theirs)
    assert _tags(yaml.compose(text, Loader=yaml.SafeLoader)) == _tags(theirs)


@needs_libyaml
def test_each_distinct_text_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    original = yaml.resolver.BaseResolver.resolve

    def counting(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
        calls.append(value)
        return original(self, kind, value, implicit)

    monkeypatch.setattr(yaml.resolver.BaseResolver, "resolve", counting)
    text = "items:\n" + "".join("  - {type: integer, nullable: true}\n" for _ in range(500))
    data, _, _ = loader.parse_yaml(text, "many.yaml")
    assert data["items"] == [{"type": "integer", "nullable": True}] * 500
    # 2,001 scalars and 501 collections; the distinct ones are 5 texts and the two collection kinds.
    assert len(calls) < 20


@needs_libyaml
def test_dispose_drops_the_memo() -> None:
    composer = loader._COMPOSER("a: 1\n")
    assert composer.get_single_node() is not None
    composer.dispose()
    # The memo refers back to the loader: left in place, the pair would wait for the collector.
    assert "resolve" not in composer.__dict__
