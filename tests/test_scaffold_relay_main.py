"""The command every generated outbox relay runs (`relay_metrics.relay_main`, issue 15): the flags
of `relay`, `doc_relay` and `keyed_relay`, their one-line failures (exit 2), an interrupt (130),
and the metrics endpoint served while the relay runs. Unit tests: no store is needed (the
generated relays' own commands run on the real stores in test_scaffold*.py)."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from polyplan.scaffold.relay_metrics import Metrics, relay_main
from polyplan.scaffold.relay_render import relay_command


class Unreachable(Exception):
    """A store that never answered (what a relay's FAILURES names)."""


def test_the_flags_reach_run_and_the_stores_are_started_first() -> None:
    calls: list[tuple[str, int, bool]] = []

    def run(stores: str, batch: int, once: bool, metrics: Metrics) -> int:
        calls.append((stores, batch, once))
        return 0

    assert relay_main("app.relay", "Relay.", "events per transaction", [], lambda: "stores", run, ()) == 0
    assert relay_main("app.relay", "Relay.", "events", ["--once", "--batch", "7"], lambda: "s", run, ()) == 0
    assert calls == [("stores", 100, False), ("s", 7, True)]


def test_a_failure_is_one_line_and_exit_2_an_interrupt_130(capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable() -> str:
        raise Unreachable("Redis is not reachable\n(a second line the command does not print)")

    def interrupted(stores: str, batch: int, once: bool, metrics: Metrics) -> int:
        raise KeyboardInterrupt

    def never(stores: str, batch: int, once: bool, metrics: Metrics) -> int:
        raise AssertionError("run without stores")

    assert relay_main("app.keyed_relay", "Relay.", "events", [], unreachable, never, (Unreachable,)) == 2
    assert capsys.readouterr().err == "app.keyed_relay: Redis is not reachable\n"
    assert relay_main("app.relay", "Relay.", "events", [], lambda: "stores", interrupted, (Unreachable,)) == 130
    with pytest.raises(ValueError):  # anything else is a crash, with its traceback
        relay_main("app.relay", "Relay.", "events", [], lambda: int("x"), never, (Unreachable,))


def test_the_help_names_the_relay_and_its_batch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        relay_main("app.doc_relay", "Relay the outbox.", "records per batch", ["--help"], str, print, ())
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: app.doc_relay [-h] [--once] [--batch BATCH]")
    assert "Relay the outbox." in shown and "records per batch" in shown and "--metrics-host" in shown


def test_the_metrics_are_served_while_the_relay_runs() -> None:
    scraped: list[str] = []

    def run(stores: object, batch: int, once: bool, metrics: Metrics) -> int:
        metrics.record([0.5, 0.25])
        server_port = int(str(stores))
        with urllib.request.urlopen(f"http://127.0.0.1:{server_port}/metrics", timeout=5) as answer:
            scraped.append(answer.read().decode())
        return 2

    with socket.socket() as probe:  # a free port, as the command line would name one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["--metrics-port", str(port)]
    assert relay_main("app.relay", "Relay.", "events", argv, lambda: port, run, ()) == 0
    assert 'polyplan_relay_events_total{relay="app.relay"} 2.0' in scraped[0]


def test_each_relay_template_keeps_only_its_name_text_and_installs() -> None:
    text = relay_command("app.relay", "Relay outbox events to the cache.", "events per transaction", ["a", "b"])
    assert "    stores = connect()\n    a(stores)\n    b(stores)\n    return stores\n" in text
    assert '        "app.relay",\n        "Relay outbox events to the cache.",\n' in text
    assert text.endswith('if __name__ == "__main__":\n    sys.exit(main())\n')
    compile(text, "relay.py", "exec")
