"""Every bundled scenario's docs/index.html opened in a real headless browser (Debian's Chromium
through Selenium and chromium-driver): no console message, every entity, index and diagram on
the page and drawn, search filters, in-page links land. A screenshot of each page and of its
ER diagram goes to POLYPLAN_SCREENSHOTS (default build/report-screenshots/).

Skips when Chromium or its driver is missing, unless POLYPLAN_REQUIRE lists `chromium` (CI
does): then it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.conftest import ROOT, SCENARIOS, planned, rendered
from tests.test_report import REPORT, expected_indexes, tool_unavailable

SCREENSHOTS = Path(os.environ.get("POLYPLAN_SCREENSHOTS", ROOT / "build" / "report-screenshots"))
# The flags Debian's chromium needs to run headless in a container with no session bus, and
# that stop it from reaching the network on its own (updates, sync, safe browsing).
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


# For every ER diagram on the page: each label's drawn box (getBBox, glyph metrics of the font
# the browser picked) against every entity box and every other label; the clashes, as text.
_LABEL_CLASHES = """
const meets = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const clashes = [];
for (const svg of document.querySelectorAll('svg.erd')) {
  const boxes = [...svg.querySelectorAll('a.box > rect:first-of-type')].map(r => r.getBBox());
  const labels = [...svg.querySelectorAll(':scope > text')].map(t => [t.textContent, t.getBBox()]);
  labels.forEach(([text, box], i) => {
    if (boxes.some(b => meets(box, b))) clashes.push(`${svg.id}: ${text} covers a box`);
    labels.slice(i + 1).forEach(([other, o]) => { if (meets(box, o)) clashes.push(`${svg.id}: ${text} / ${other}`); });
  });
}
return clashes;
"""


def _unavailable(why: str) -> NoReturn:
    tool_unavailable("chromium", why, "apt-get install -y chromium chromium-driver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Chrome WebDriver session on the system's chromium, with the console log recorded."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _unavailable("no `chromium` or `chromedriver` on PATH")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("the selenium package is not installed (pip install 'polyplan[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_report_in_browser(browser: object, scenario: Path, tmp_path: Path, record_property: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    files = rendered(scenario)
    page = tmp_path / "index.html"
    page.write_text(files[REPORT], encoding="utf-8")
    browser.get_log("browser")  # drop whatever an earlier page left
    browser.get(page.as_uri())

    entities = [e.get_attribute("data-entity") for e in browser.find_elements(By.CSS_SELECTOR, "[data-entity]")]
    assert entities == list(planned(scenario).entities)
    indexes = {e.get_attribute("data-index") for e in browser.find_elements(By.CSS_SELECTOR, "[data-index]")}
    assert expected_indexes(files) <= indexes
    # Diagrams are drawn, not only present: each SVG has a size and one box per entity.
    whole = browser.find_element(By.ID, "svg-erd-all")
    assert whole.size["width"] > 100 and whole.size["height"] > 50
    assert len(whole.find_elements(By.CSS_SELECTOR, "a.box")) == len(entities)
    assert browser.find_element(By.ID, "svg-capacity").size["height"] > 0

    # Search hides what does not match, and clearing it shows everything again.
    search = browser.find_element(By.ID, "search")
    first = entities[0]
    search.send_keys(first)
    visible = [
        e.get_attribute("data-entity")
        for e in browser.find_elements(By.CSS_SELECTOR, "article[data-entity]")
        if e.is_displayed()
    ]
    assert first in visible and len(visible) < len(entities) + 1
    assert "match" in browser.find_element(By.ID, "search-count").text
    search.clear()
    search.send_keys(" ")
    # A box in the diagram links to its entity's decision.
    box = whole.find_element(By.CSS_SELECTOR, "a.box")
    target = box.get_dom_attribute("href")
    assert target is not None and target.startswith("#")
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", box)
    assert browser.execute_script("return location.hash") == target
    assert browser.find_element(By.ID, target[1:]).is_displayed()
    browser.execute_script("window.scrollTo(0, 0)")
    # Labels as the browser draws them (its own font metrics): none covers a box or another label.
    clashes = browser.execute_script(_LABEL_CLASHES)
    assert clashes == [], f"ER diagram labels that cover a box or each other: {clashes}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot, diagram_shot = SCREENSHOTS / f"{scenario.stem}.png", SCREENSHOTS / f"{scenario.stem}-erd.png"
    assert browser.save_screenshot(str(shot)) and whole.screenshot(str(diagram_shot))
    record_property("screenshots", f"{shot} {diagram_shot}")  # type: ignore[operator]

    messages = [entry for entry in browser.get_log("browser") if entry.get("level") in ("SEVERE", "WARNING")]
    assert messages == [], f"console messages: {messages}"
