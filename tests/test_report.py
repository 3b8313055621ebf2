"""docs/index.html and the diagram exports: golden, deterministic, self-contained, complete.

The structure checks read the page with the standard library's HTML parser, so they run
everywhere; tests/test_report_browser.py opens the same pages in a real browser.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import NoReturn

import pytest

from polyplan.emit.diagram import build_graph, render_dbml, render_dot
from polyplan.emit.report_schema import store_schemas
from polyplan.pipeline import plan_text
from polyplan.plan.ir import Plan
from polyplan.stores import target_for
from polyplan.stores.designs import Designs
from polyplan.testkit import required_engines
from tests.conftest import ROOT, SCENARIOS, Golden, planned, rendered

REPORT = "docs/index.html"
# Attributes through which a page fetches something; none may leave the file.
_FETCHING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src")}


def tool_unavailable(tool: str, why: str, install: str) -> NoReturn:
    """Skip a test that needs a tool (chromium, graphviz), or fail when POLYPLAN_REQUIRE lists it
    (CI installs both: compose/local/tools.sh)."""
    message = f"{tool} not available: {why}. To run: {install}"
    if tool in required_engines():
        pytest.fail(f"POLYPLAN_REQUIRE lists {tool}, so it may not be skipped. {message}", pytrace=False)
    pytest.skip(message)


class Page(HTMLParser):
    """What the checks need from a report: element ids, link targets, fetched URLs, text, tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.fetched: list[str] = []
        self.tags: list[str] = []
        self.data_attributes: dict[str, list[str]] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.append(value)
            elif name == "href":
                self.hrefs.append(value)
            if (tag, name) in _FETCHING:
                self.fetched.append(value)
            if name.startswith("data-"):
                self.data_attributes.setdefault(name, []).append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Page:
    """The report parsed."""
    page = Page()
    page.feed(text)
    page.close()
    return page


def designs_of_plan(plan: Plan) -> Designs:
    """Every store target's design of `plan`, as the pipeline hands them to the report."""
    return Designs.of(
        design for family in plan.families_used() if (design := target_for(family).emit(plan).design) is not None
    )


def designs_of(scenario: Path) -> Designs:
    """`designs_of_plan` of a bundled scenario."""
    return designs_of_plan(planned(scenario))


def expected_indexes(files: dict[str, str]) -> set[str]:
    """Every index the plan's artifacts name (relational indexes of the chosen engine, MongoDB
    indexes), from the artifacts themselves rather than from the report's own reader."""
    names: set[str] = set()
    index_data = files.get("tests/data/indexes.json")
    plan = json.loads(files["plan.json"])
    if index_data is not None:
        engine = plan["engines"]["relational"]
        names |= {i["name"] for i in json.loads(index_data)["indexes"].get(engine, [])}
    for path, text in files.items():
        if path.startswith("mongodb/collections/"):
            names |= {i["name"] for i in json.loads(text)["indexes"]}
    return names


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_report_and_diagrams_match_golden(scenario: Path, golden: Golden) -> None:
    files = rendered(scenario)
    for path in (REPORT, "erd.dot", "erd.dbml"):
        golden.check(f"{scenario.stem}/report/{path.replace('/', '_')}", files[path])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_report_holds_every_entity_index_store_and_diagram(scenario: Path) -> None:
    files = rendered(scenario)
    page = parse(files[REPORT])
    plan = planned(scenario)
    assert len(page.ids) == len(set(page.ids)), "duplicate element ids"
    assert set(page.data_attributes["data-entity"]) == set(plan.entities)
    assert expected_indexes(files) <= set(page.data_attributes["data-index"])
    # Every in-page link lands on an element of the page.
    targets = {href[1:] for href in page.hrefs if href.startswith("#")}
    assert targets <= set(page.ids)
    # The whole-plan diagram, and one per store when there are several.
    stores = {f"{e.family.value}:{e.engine}" for e in plan.entities.values()}
    assert "svg-erd-all" in page.ids
    assert sum(1 for i in page.ids if i.startswith("svg-erd-")) == 1 + (len(stores) if len(stores) > 1 else 0)
    assert "svg-capacity" in page.ids and "search" in page.ids
    text = "".join(page.text)
    for schema in store_schemas(designs_of(scenario), plan.model.engines.relational or "postgresql"):
        assert schema.store in text
        for obj in schema.objects:
            assert obj.name in page.data_attributes["data-object"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_report_fetches_nothing(scenario: Path) -> None:
    page = parse(rendered(scenario)[REPORT])
    assert page.fetched == []
    # Only in-page anchors; the SVG namespace is an identifier, not a fetch.
    assert all(href.startswith("#") for href in page.hrefs)
    text = rendered(scenario)[REPORT].replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text)
    assert "@import" not in text and "url(" not in text


def test_report_escapes_model_strings() -> None:
    model = """
name: esc
description: "<script>alert(1)</script> & <b>bold</b>"
entities:
  Thing:
    description: "<img src=x onerror=alert(2)>"
    attributes:
      label: {type: string, max_length: 40, description: "</td><script>alert(3)</script>"}
    growth: {initial_rows: 10, rows_per_day: 1}
access_patterns:
  - {name: thing_by_label, entity: Thing, filters: [{attribute: label, op: eq}], rate: 1, latency_ms: 50}
"""
    from polyplan.pipeline import render

    files, _ = render(plan_text(model))
    page = parse(files[REPORT])
    assert "script" not in page.tags[:-1], "only the report's own script may appear"
    assert page.tags.count("script") == 1 and "img" not in page.tags
    text = "".join(page.text)
    # Shown as the text it is, in the header, the entity's notes and the schema tables.
    assert "<script>alert(1)</script> & <b>bold</b>" in text
    assert "</td><script>alert(3)</script>" in files["relational/postgresql/schema.sql"]


def test_report_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios" / "shop.yaml"
    code = (
        "import sys, hashlib; from polyplan.pipeline import plan_file, render;"
        "files = render(plan_file(sys.argv[1]))[0];"
        "print(hashlib.sha256(''.join(files[p] for p in ('docs/index.html', 'erd.dot', 'erd.dbml')).encode()).hexdigest())"
    )
    digests = set()
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code, str(scenario)], capture_output=True, text=True, env=env, check=True
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_diagrams_show_store_cardinality_and_link_attributes(scenario: Path) -> None:
    plan = planned(scenario)
    graph = build_graph(plan)
    dot, dbml = render_dot(graph), render_dbml(graph)
    for box in graph.boxes:
        assert box.store in dot and f"stored in {box.store}" in dbml
    for link in graph.links:
        assert f'taillabel="{link.ends[0]}"' in dot or f"taillabel={link.ends[0]}" in dot
        for attribute in link.attributes:
            assert attribute.name in dot and attribute.name in dbml
    assert set(rendered(scenario)) >= {"erd.dot", "erd.dbml", "erd.mmd", REPORT}


def test_per_store_diagrams_split_the_plan() -> None:
    files = rendered(ROOT / "scenarios" / "shop.yaml")
    plan = planned(ROOT / "scenarios" / "shop.yaml")
    stores = sorted({f"{e.family.value}-{e.engine}" for e in plan.entities.values()})
    assert (
        sorted(p[len("diagrams/") : -len(".mmd")] for p in files if p.startswith("diagrams/") and p.endswith(".mmd"))
        == stores
    )
    cart = files["diagrams/cache-redis.dbml"]
    assert 'Table "Cart"' in cart and 'Table "Order"' not in cart


def test_dot_renders_with_graphviz_when_installed(tmp_path: Path) -> None:
    dot_binary = shutil.which("dot")
    if dot_binary is None:
        tool_unavailable(
            "graphviz", "no `dot` on PATH (erd.dot is still checked as text above)", "apt-get install -y graphviz"
        )
    source = rendered(ROOT / "scenarios" / "social.yaml")["erd.dot"]
    result = subprocess.run([dot_binary, "-Tsvg"], input=source, capture_output=True, text=True, check=True)
    assert "<svg" in result.stdout and result.stderr == ""


def test_diagram_command_prints_each_format_and_refuses_in_one_line() -> None:
    from tests.test_cli_conventions import SHOP, polyplan

    files = rendered(ROOT / SHOP)
    for fmt, path in (("mermaid", "erd.mmd"), ("dot", "erd.dot"), ("dbml", "erd.dbml")):
        result = polyplan("diagram", SHOP, "--format", fmt)
        assert result.returncode == 0 and result.stdout == files[path], fmt
    one_store = polyplan("diagram", SHOP, "--store", "cache:redis", "-f", "dbml")
    assert one_store.stdout == files["diagrams/cache-redis.dbml"]
    unknown = polyplan("diagram", SHOP, "--store", "search:nowhere")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "[PP611]" in unknown.stderr
    assert "relational:postgresql" in unknown.stderr
    no_dot = polyplan("diagram", SHOP, "-f", "svg", env={"PATH": "/nonexistent"})
    assert no_dot.returncode == 2 and no_dot.stderr.count("\n") == 1 and "[PP610]" in no_dot.stderr
    if shutil.which("dot") is None:
        tool_unavailable("graphviz", "no `dot` on PATH for --format svg", "apt-get install -y graphviz")
    svg = polyplan("diagram", SHOP, "-f", "svg")
    assert svg.returncode == 0 and "<svg" in svg.stdout and "Customer" in svg.stdout


def test_hostile_models_give_a_well_formed_report() -> None:
    """The hostile names and values of tests/test_escaping.py (quotes, markup, placeholders, line
    breaks) stay text: one script (the report's), nothing fetched, every entity anchored, and
    each diagram's SVG parses as XML."""
    import xml.etree.ElementTree as ElementTree

    from tests.test_escaping import CASES, emit, hostile_model

    for name, case in sorted(CASES.items()):
        files = emit(hostile_model(*case))
        page = parse(files[REPORT])
        assert page.tags.count("script") == 1 and page.fetched == [], name
        assert len(page.ids) == len(set(page.ids)), name
        for match in re.finditer(r"<svg .*?</svg>", files[REPORT], re.DOTALL):
            ElementTree.fromstring(match.group(0))


def test_a_large_markdown_artifact_is_named_not_inlined() -> None:
    from polyplan.emit.report import MARKDOWN_INLINE_MAX, render_report

    scenario = ROOT / "scenarios" / "shop.yaml"
    files = dict(rendered(scenario))
    files["docs/index-plan.md"] = "# Index plan\n\n" + "- marker-of-a-large-plan\n" * (MARKDOWN_INLINE_MAX // 20)
    text = "".join(parse(render_report(planned(scenario), files, [], designs_of(scenario))).text)
    assert "docs/index-plan.md (" in text and "is too large to show here" in text
    assert "marker-of-a-large-plan" not in text and "Security plan" in text  # the small ones are still shown


Rect = tuple[float, float, float, float]  # x, y, width, height
_SVG = "{http://www.w3.org/2000/svg}"


def erd_geometry(svg: str) -> tuple[list[Rect], list[list[tuple[float, float]]]]:
    """An ER diagram's entity boxes (the frame rect of each `<a class="box">`) and its edges as
    point lists (`<polyline>` or `<line>` of class link), read from the SVG as XML."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(svg)
    boxes = []
    for box in root.iter(f"{_SVG}a"):
        frame = box.find(f"{_SVG}rect")
        assert frame is not None
        boxes.append(tuple(float(frame.get(k, "")) for k in ("x", "y", "width", "height")))
    edges = []
    for element in root.iter():
        if element.get("class") != "link":
            continue
        if element.tag == f"{_SVG}polyline":
            pairs = [pair.split(",") for pair in element.get("points", "").split()]
            edges.append([(float(x), float(y)) for x, y in pairs])
        elif element.tag == f"{_SVG}line":
            edges.append([(float(element.get(f"x{i}", "")), float(element.get(f"y{i}", ""))) for i in (1, 2)])
        else:
            pytest.fail(f"an edge drawn as <{element.tag}> is not checked")
    return boxes, edges  # type: ignore[return-value]


def segment_enters(p: tuple[float, float], q: tuple[float, float], rect: Rect, inset: float) -> bool:
    """Whether segment p-q meets the rectangle shrunk by `inset` on each side (Liang-Barsky)."""
    left, top = rect[0] + inset, rect[1] + inset
    right, bottom = rect[0] + rect[2] - inset, rect[1] + rect[3] - inset
    dx, dy = q[0] - p[0], q[1] - p[1]
    low, high = 0.0, 1.0
    for step, room in ((-dx, p[0] - left), (dx, right - p[0]), (-dy, p[1] - top), (dy, bottom - p[1])):
        if step == 0:
            if room < 0:
                return False
            continue
        t = room / step
        if step < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def on_border(point: tuple[float, float], rect: Rect) -> bool:
    """Whether a point lies on the rectangle's outline (to the SVG's 0.1 px rounding)."""
    x, y, w, h = rect
    inside = x - 0.06 <= point[0] <= x + w + 0.06 and y - 0.06 <= point[1] <= y + h + 0.06
    near = min(abs(point[0] - x), abs(point[0] - x - w), abs(point[1] - y), abs(point[1] - y - h))
    return inside and near <= 0.06


def assert_edges_avoid_boxes(svg: str) -> tuple[int, int]:
    """Every edge starts and ends on the outlines of its box(es), does not cross into them, meets
    no other box at all (outline included) and is orthogonal. Returns (boxes, edges)."""
    boxes, edges = erd_geometry(svg)
    for points in edges:
        ends = [i for i, rect in enumerate(boxes) if on_border(points[0], rect) or on_border(points[-1], rect)]
        assert 1 <= len(ends) <= 2, f"edge {points} does not start and end on box outlines"
        for p, q in itertools.pairwise(points):
            for index, rect in enumerate(boxes):
                inset = 0.5 if index in ends else -0.5
                assert not segment_enters(p, q, rect, inset), f"edge {points} crosses box {rect}"
            # Orthogonal: a slanted line could cut a corner the check above lets through.
            assert p[0] == q[0] or p[1] == q[1], f"edge {points} has a slanted segment"
    return len(boxes), len(edges)


def erd_labels(svg: str) -> tuple[list[Rect], list[Rect]]:
    """An ER diagram's box frames and the rectangle each label outside the boxes covers: its text
    (`text_width` of the 12 px monospace font, from the baseline up 10 px and down 3 px; the
    browser test measures the drawn glyphs instead) and 1 px of halo each side."""
    import xml.etree.ElementTree as ElementTree

    from polyplan.emit.erd_layout import text_width

    root = ElementTree.fromstring(svg)
    inside = {id(text) for box in root.iter(f"{_SVG}a") for text in box.iter(f"{_SVG}text")}
    labels: list[Rect] = []
    for text in root.iter(f"{_SVG}text"):
        if id(text) in inside:
            continue
        width = text_width(text.text or "")
        left = float(text.get("x", "")) - (width / 2 if text.get("text-anchor") == "middle" else 0.0)
        labels.append((left - 1, float(text.get("y", "")) - 10, width + 2, 13))
    return erd_geometry(svg)[0], labels


def overlap(a: Rect, b: Rect) -> bool:
    """Whether two rectangles share more than an outline."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def assert_labels_clear(svg: str) -> int:
    """No label (relationship name or cardinality) covers a box or another label, and every label
    is inside the drawing. Returns the number of labels."""
    import xml.etree.ElementTree as ElementTree

    boxes, labels = erd_labels(svg)
    root = ElementTree.fromstring(svg)
    width, height = float(root.get("width", "")), float(root.get("height", ""))
    for index, label in enumerate(labels):
        assert label[0] >= 0 and label[0] + label[2] <= width and 0 <= label[1] <= label[1] + label[3] <= height, (
            f"label {label} is outside the {width} x {height} drawing"
        )
        assert not any(overlap(label, box) for box in boxes), f"label {label} covers a box"
        clash = [other for other in labels[index + 1 :] if overlap(label, other)]
        assert not clash, f"label {label} covers label(s) {clash}"
    return len(labels)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_erd_edges_pass_no_other_box(scenario: Path) -> None:
    """Every ER diagram of the report (whole plan and per store) routes its edges around boxes,
    and places its labels where they cover no box and no other label."""
    report = rendered(scenario)[REPORT]
    diagrams = re.findall(r'<svg [^>]*class="erd".*?</svg>', report, re.DOTALL)
    model = planned(scenario).model
    assert diagrams, "no ER diagram in the report"
    # The whole plan: one box per entity and one edge per relationship, with a name and two
    # cardinalities each.
    assert assert_edges_avoid_boxes(diagrams[0]) == (len(model.entities), len(model.relationships))
    assert assert_labels_clear(diagrams[0]) == 3 * len(model.relationships)
    for svg in diagrams[1:]:
        assert_edges_avoid_boxes(svg)
        assert_labels_clear(svg)


def test_erd_edges_pass_no_other_box_on_a_dense_grid() -> None:
    """A 5 x 5 grid of boxes of different sizes, each joined to boxes in its own row, the next row
    and rows further away on either side, plus a self-reference: lanes and ports in every
    channel, and still no edge through a box."""
    from polyplan.emit.diagram import Box, Column, Graph, Link
    from polyplan.emit.svg import erd_svg

    boxes = tuple(
        Box(
            f"E{i}",
            "relational:postgresql",
            (),
            tuple(Column("c" * (1 + i % 7), "string", (), None) for _ in range(i % 4)),
        )
        for i in range(25)
    )
    pairs = [(i, j) for i in range(25) for j in range(25) if i != j and (i * 7 + j * 3) % 11 == 0]
    links = (
        *(Link(f"r{i}_{j}", "one_to_many", f"E{i}", f"E{j}", ("1", "*"), True, False, (), ()) for i, j in pairs),
        Link("self", "one_to_many", "E12", "E12", ("0..1", "*"), False, False, (), ()),
    )
    svg = erd_svg(Graph("dense", boxes, links), {box.name: box.name for box in boxes}, "svg-dense")
    assert assert_edges_avoid_boxes(svg) == (25, len(links)) and len(pairs) > 40
    assert assert_labels_clear(svg) == 3 * len(links)


def test_erd_edges_pass_no_other_box_on_a_large_random_graph() -> None:
    """150 boxes of random sizes (a 13-column grid with a part-filled last row) and 250 random
    relationships, self-references and repeats included, from a fixed seed."""
    import random

    from polyplan.emit.diagram import Box, Column, Graph, Link
    from polyplan.emit.svg import erd_svg

    rng = random.Random(13)
    boxes = tuple(
        Box(
            f"E{i}",
            "document:mongodb",
            (),
            tuple(Column("c" * rng.randint(1, 30), "int", (), None) for _ in range(rng.randint(0, 8))),
        )
        for i in range(150)
    )
    links = tuple(
        Link(
            f"r{k}",
            "many_to_many",
            f"E{rng.randrange(150)}",
            f"E{rng.randrange(150)}",
            ("*", "*"),
            False,
            False,
            (),
            (),
        )
        for k in range(250)
    )
    svg = erd_svg(Graph("random", boxes, links), {box.name: box.name for box in boxes}, "svg-random")
    assert assert_edges_avoid_boxes(svg) == (150, 250)
    assert assert_labels_clear(svg) == 750


def crowded_graph() -> object:
    """A hub joined to 11 boxes twice (both directions, optional ends, long names and link
    attributes), three self-references on one box and one on a narrow box, and wide (East Asian)
    names: the gaps and box sides where labels used to pile up."""
    from polyplan.emit.diagram import Box, Column, Graph, Link

    names = ["Hub", "注文明細", "X", *(f"Entity{i}" for i in range(9))]
    boxes = tuple(
        Box(name, "document:mongodb", (), tuple(Column(f"c{j}", "string", (), None) for j in range(i % 3)))
        for i, name in enumerate(names)
    )
    attribute = Column("a_rather_long_attribute_name", "timestamp", (), None)
    links: list[Link] = []
    for name in names[1:]:
        links.append(Link(f"hub_to_{name}_long", "one_to_one", "Hub", name, ("0..1", "0..1"), False, True, (), ()))
        links.append(Link(f"{name}_back", "many_to_many", name, "Hub", ("*", "*"), False, False, (), (attribute,)))
    links += [
        Link(f"self{k}", "one_to_many", "Entity4", "Entity4", ("0..1", "*"), False, False, (), ()) for k in range(3)
    ]
    links.append(Link("parent_of_x", "one_to_many", "X", "X", ("0..1", "*"), False, False, (), ()))
    return Graph("crowded", boxes, tuple(links))


def test_erd_labels_clear_on_a_crowded_graph() -> None:
    """The crowded graph keeps its edges off other boxes and every label clear."""
    from polyplan.emit.diagram import Graph
    from polyplan.emit.svg import erd_svg

    graph = crowded_graph()
    assert isinstance(graph, Graph)
    svg = erd_svg(graph, {box.name: box.name for box in graph.boxes}, "svg-crowded")
    assert assert_edges_avoid_boxes(svg) == (12, len(graph.links))
    assert assert_labels_clear(svg) == 3 * len(graph.links)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_store_family_hands_its_design_to_the_report(scenario: Path) -> None:
    """Each family the plan uses hands on its typed design object, and each store's schema in the
    report is read from it (store_schemas takes no rendered file)."""
    plan = planned(scenario)
    designs = designs_of(scenario)
    for family in plan.families_used():
        assert getattr(designs, family.value) is not None, f"{family.value} handed no design"
    shown = {schema.store.split(":")[0] for schema in store_schemas(designs, plan.model.engines.relational or "x")}
    assert shown == {family.value for family in plan.families_used()}


def test_report_shows_a_document_decimal_bound_as_a_number() -> None:
    """A MongoDB validator's Decimal128 bound reads as digits, not as Extended JSON."""
    text = (ROOT / "scenarios" / "saas.yaml").read_text(encoding="utf-8")
    line = "      record_type: {type: string, max_length: 64, distinct: 40}\n"
    assert line in text
    text = text.replace(line, line + "      amount: {type: decimal, precision: 12, scale: 2, min: 0.01, max: 5000}\n")
    plan = plan_text(text, "saas.yaml")
    records = next(s for s in store_schemas(designs_of_plan(plan), "postgresql") if s.store == "document:mongodb")
    amount = next(f for o in records.objects for f in o.fields if f.name == "amount")
    assert amount.constraints == "required; minimum 0.01; maximum 5000"
