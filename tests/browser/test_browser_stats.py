"""The consent stats page (``consentguard log stats --html``) in a real Chromium.

Renders the page of a fortnight's fixture log, checks that it lays out at desktop and phone
widths, and saves ``stats.png`` in the screenshots folder (``docs/stats.png``, shown
in the proof-of-consent guide, is a copy of it).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from logstores import fill, sample_records

from consentguard.cli import main
from consentguard.log import SQLiteConsentLog

from .browserkit import SCREENSHOTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stats_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stats")
    log = SQLiteConsentLog(folder / "consent.db")
    fill(log, sample_records(days=14))
    log.close()
    page = folder / "stats.html"
    assert main(["log", "stats", str(folder / "consent.db"), "--html", str(page),
                 "--title", "Consent choices on shop.example"]) == 0
    return page


def _layout(driver: Any) -> dict[str, Any]:
    layout: dict[str, Any] = driver.execute_script("""
        const charts = [...document.querySelectorAll('svg[role=img]')].map(svg => {
            const box = svg.getBoundingClientRect();
            return {label: svg.querySelector('title').textContent, width: box.width,
                    height: box.height};
        });
        return {overflow: document.documentElement.scrollWidth - window.innerWidth,
                charts: charts, scripts: document.scripts.length,
                font: getComputedStyle(document.body).fontFamily};
    """)
    return layout


def _top_of_page(driver: Any) -> bytes:
    """A PNG of the page from its top to the end of the charts, without scrollbars."""
    driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": True})
    try:
        bottom = driver.execute_script(
            "return document.querySelector('.grid').getBoundingClientRect().bottom"
            " + window.scrollY + 10;")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": bottom, "scale": 1}})
    finally:
        driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": False})
    return base64.b64decode(shot["data"])


def test_stats_page_in_chromium(chromium: Any, stats_page: Path) -> None:
    driver = chromium
    driver.set_window_size(1280, 1160)
    driver.get(stats_page.as_uri())
    layout = _layout(driver)
    assert layout["scripts"] == 0
    assert layout["overflow"] <= 0
    assert [c["label"] for c in layout["charts"]] == [
        "Share of choices per day, by action", "Acceptance rate per category",
        "Share of choices with Global Privacy Control, per day"]
    daily = layout["charts"][0]
    assert daily["width"] > 800 and daily["height"] > 200
    # The bars of one day stack to the same height as every other day's (100 %).
    tops = driver.execute_script("""
        const days = {};
        for (const rect of document.querySelectorAll('svg[role=img]')[0]
                                     .querySelectorAll('rect')) {
            const day = rect.querySelector('title').textContent.slice(0, 10);
            const box = rect.getBoundingClientRect();
            days[day] = Math.min(days[day] ?? 1e9, box.top);
        }
        return Object.values(days);
    """)
    assert len(tops) == 14 and max(tops) - min(tops) < 1.5
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "stats.png").write_bytes(_top_of_page(driver))

    driver.set_window_size(390, 844)  # a phone: cards and charts stack, labels stay readable
    layout = _layout(driver)
    assert layout["overflow"] <= 0  # the daily chart scrolls inside its card, not the page
    smallest = driver.execute_script("""
        return [...document.querySelectorAll('svg[role=img]')].map(svg => Math.min(
            ...[...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect().height)));
    """)
    assert min(smallest) >= 9, smallest  # pixels: no label shrunk to a smudge
    assert driver.save_screenshot(str(SCREENSHOTS / "stats-phone.png"))
    driver.set_window_size(1280, 800)
