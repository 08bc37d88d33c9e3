"""Consent statistics: the numbers, the text table and the HTML page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from logstores import sample_records

from consentguard.log import ConsentRecord
from consentguard.log.stats import compute, format_table, render_html

DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(days=1)
ALL = ("analytics", "marketing")


def choice(at: datetime, action: str, accepted: tuple[str, ...] = (), *, gpc: bool = False,
           version: str | None = "v1") -> ConsentRecord:
    return ConsentRecord(consent_id=f"{at.isoformat()}-{action}", timestamp=at,
                         action=action,  # type: ignore[arg-type]
                         accepted=accepted, refused=tuple(c for c in ALL if c not in accepted),
                         registry_version=version, gpc=gpc)


RECORDS = [
    choice(DAY1, "accept_all", ALL),
    choice(DAY1 + timedelta(hours=1), "reject_all", gpc=True),
    choice(DAY1 + timedelta(hours=2), "custom", ("analytics",)),
    choice(DAY1 + timedelta(hours=3), "withdraw"),
    choice(DAY2, "accept_all", ALL, version="v2"),
    choice(DAY2 + timedelta(hours=14, minutes=59), "custom", ("marketing",), gpc=True,
           version="v2"),
]


def test_per_day_shares_rates_gpc_and_versions() -> None:
    stats = compute(reversed(RECORDS))  # any order
    assert list(stats.days) == [DAY1.date(), DAY2.date()]
    first, second = stats.days.values()
    assert [first.share(a) for a in ("accept_all", "reject_all", "custom", "withdraw")] == [
        0.25, 0.25, 0.25, 0.25]
    assert first.acceptance("analytics") == 0.5  # accept all and custom, of four choices
    assert first.acceptance("marketing") == 0.25
    assert first.gpc_share == 0.25
    assert second.acceptance("analytics") == 0.5 and second.acceptance("marketing") == 1.0
    assert stats.total.choices == 6 and stats.total.gpc == 2
    assert stats.total.acceptance("marketing") == 0.5
    assert [(v.version, v.choices, v.first, v.last) for v in stats.versions] == [
        ("v1", 4, DAY1, DAY1 + timedelta(hours=3)),
        ("v2", 2, DAY2, DAY2 + timedelta(hours=14, minutes=59))]


def test_days_are_utc_days() -> None:
    late = datetime(2026, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 3 Mar UTC
    stats = compute([choice(late, "accept_all", ALL)])
    assert list(stats.days) == [datetime(2026, 3, 3).date()]


def test_a_category_never_asked_about_has_no_rate() -> None:
    stats = compute([choice(DAY1, "accept_all", ALL)])
    assert stats.total.acceptance("functional") is None


def test_text_table() -> None:
    table = format_table(compute(RECORDS))
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("day "))
    assert header.split() == ["day", "choices", "accept", "all", "reject", "all", "customise",
                              "withdraw", "analytics", "marketing", "GPC", "registry",
                              "versions"]
    assert re.search(r"^2026-03-02 +4 +25\.0% +25\.0% +25\.0% +25\.0% +50\.0% +25\.0% +25\.0%"
                     r" +v1$", table, re.M)
    assert re.search(r"^2026-03-03 +2 +50\.0% +0\.0% +50\.0% +0\.0% +50\.0% +100\.0% +50\.0%"
                     r" +v2$", table, re.M)
    assert re.search(r"^all +6 .* v1, v2$", table, re.M)
    assert "v1: 4 choice(s), 2026-03-02 09:00 to 2026-03-02 12:00 UTC" in table


def test_empty_period() -> None:
    assert format_table(compute([])) == "No consent choices recorded in this period.\n"
    page = render_html(compute([]))
    assert "No consent choices were recorded in this period." in page
    assert "<svg" not in page


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(match) for match in re.findall(r"<svg.*?</svg>", page, re.S)]


def test_html_is_self_contained_and_accessible() -> None:
    page = render_html(compute(sample_records(days=10)))
    assert "<script" not in page.lower()
    assert re.findall(r"(?:src|href)=", page) == []  # nothing fetched: no CDN, no font
    urls = set(re.findall(r"https?://[^\s\"<]*", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace only
    svgs = _svgs(page)  # each chart is well-formed XML
    assert len(svgs) == 3
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs:
        assert svg.get("role") == "img"
        labels = svg.get("aria-labelledby", "").split()
        ids = {e.get("id") for e in svg if e.tag in (f"{ns}title", f"{ns}desc")}
        assert set(labels) == ids and len(ids) == 2
        for bar in svg.iter(f"{ns}rect"):  # every data bar says what it shows
            if bar.get("fill") != "#E8ECF2":
                assert bar.find(f"{ns}title") is not None


def test_daily_bars_stack_to_the_full_height() -> None:
    page = render_html(compute(RECORDS))
    daily = _svgs(page)[0]
    ns = "{http://www.w3.org/2000/svg}"
    tips = {r.findtext(f"{ns}title", ""): float(r.get("height", 0))
            for r in daily.iter(f"{ns}rect")}
    first_day = [h for tip, h in tips.items() if tip.startswith("2026-03-02")]
    assert len(first_day) == 4 and sum(first_day) == pytest.approx(320 - 42 - 30, abs=0.5)
    assert "2026-03-02 · accept all: 1 of 4 (25.0%)" in tips
    assert "registry v2" in page  # the version change is marked on the chart


def test_html_escapes_what_the_log_holds() -> None:
    hostile = choice(DAY1, "accept_all", ("<b>x</b>",), version="<script>alert(1)</script>")
    page = render_html(compute([hostile]), title="Shop & <Co>")
    assert "<script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<h1>Shop &amp; &lt;Co&gt;</h1>" in page
    _svgs(page)  # still well-formed
