"""examples/seeds/: each registry renders the cookie policy it was written from.

The rows below are transcribed from the four published policies the examples express
(Mi Connect, Mihari, Mia Chat, MITPO). Each row is found in the rendered policy, in the
section of its category, with its duration; and each section holds exactly those rows.
Mi Connect and Mia Chat name their cookies and storage keys, so rows are found by name;
Mihari and MITPO describe theirs by purpose only, so rows are found by purpose.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from test_policy import markdown_sections, parse_html

from consentguard import Registry
from consentguard.cli import main
from consentguard.policy import COLUMNS, render_policy

SEEDS = Path(__file__).resolve().parent.parent / "examples" / "seeds"
NOT_STATED = "Not stated"

# (find by "name" or "purpose", text, section title, type, duration)
Row = tuple[str, str, str, str, str]

POLICIES: dict[str, tuple[str | None, list[str], list[Row]]] = {
    "mi-connect": (None, ["Essential", "Functional", "Analytics"], [
        ("name", "mc_token", "Essential", "localStorage", "7 days"),
        ("name", "mc_cookies", "Essential", "localStorage", "Persistent"),
        ("name", "mc_session", "Analytics", "sessionStorage",
         "Session (cleared when browser closes)"),
        # "Stripe cookies | Functional | ... | Varies"
        ("purpose", "Stripe sets cookies during the checkout process", "Functional", "cookie",
         "Varies"),
    ]),
    "mihari": ("2026-03-01", ["Essential cookies", "Performance cookies", "Functional cookies",
                              "Analytics cookies"], [
        ("purpose", "Session management and user authentication", "Essential cookies",
         "cookie", NOT_STATED),
        ("purpose", "Security tokens and CSRF protection", "Essential cookies", "cookie",
         NOT_STATED),
        ("purpose", "Load balancing and infrastructure routing", "Essential cookies", "cookie",
         NOT_STATED),
        ("purpose", "Stripe sets cookies to detect fraud", "Essential cookies", "cookie",
         NOT_STATED),
        ("purpose", "Page load times and performance metrics", "Performance cookies", "cookie",
         NOT_STATED),
        ("purpose", "Error rates and diagnostic information", "Performance cookies", "cookie",
         NOT_STATED),
        ("purpose", "Feature usage patterns", "Performance cookies", "cookie", NOT_STATED),
        ("purpose", "User preferences and display settings", "Functional cookies", "cookie",
         NOT_STATED),
        ("purpose", "Language and timezone selection", "Functional cookies", "cookie",
         NOT_STATED),
        ("purpose", "Dashboard layout and customization", "Functional cookies", "cookie",
         NOT_STATED),
        ("purpose", "Page views and visitor counts", "Analytics cookies", "cookie", NOT_STATED),
        ("purpose", "Traffic sources and referral data", "Analytics cookies", "cookie",
         NOT_STATED),
        ("purpose", "General geographic location (country level)", "Analytics cookies",
         "cookie", NOT_STATED),
    ]),
    "mia-chat": ("2026-04-25", ["Essential cookies", "Functional cookies",
                                "Analytics cookies"], [
        ("name", "access_token", "Essential cookies", "cookie", "Session"),
        ("name", "refresh_token", "Essential cookies", "cookie", "30 days"),
        ("name", "csrf_token", "Essential cookies", "cookie", "Session"),
        ("name", "mia_chat_theme", "Functional cookies", "localStorage", "Persistent"),
        ("name", "mia_language", "Functional cookies", "localStorage", "Persistent"),
        ("name", "mia_accent_color", "Functional cookies", "localStorage", "Persistent"),
        ("name", "cookie_consent", "Functional cookies", "localStorage", "12 months"),
    ]),
    "mitpo": ("2026-04-20", ["Essential Cookies", "Preference Storage", "Analytics",
                             "Billing"], [
        ("purpose", "keeps you logged in across pages", "Essential Cookies", "cookie",
         NOT_STATED),
        ("purpose", "protects form submissions against cross-site request forgery",
         "Essential Cookies", "cookie", NOT_STATED),
        ("purpose", "carries the return-to URL through an external SSO redirect",
         "Essential Cookies", "cookie", NOT_STATED),
        ("purpose", "prevent abusive request volume on public endpoints", "Essential Cookies",
         "cookie", NOT_STATED),
        ("purpose", "Theme preference (light / dark / system)", "Preference Storage",
         "localStorage", NOT_STATED),
        ("purpose", "Creative Studio layout choice (sidebar vs chat view)",
         "Preference Storage", "localStorage", NOT_STATED),
        ("purpose", "Last-used AI model per mode", "Preference Storage", "localStorage",
         NOT_STATED),
        ("purpose", "Dismissed tips and onboarding hints", "Preference Storage",
         "localStorage", NOT_STATED),
        ("purpose", "Page views and route transitions", "Analytics", "cookie", NOT_STATED),
        ("purpose", "Anonymized event telemetry", "Analytics", "cookie", NOT_STATED),
        ("purpose", "Error and performance monitoring", "Analytics", "cookie", NOT_STATED),
        ("purpose", "when you enter or update a card", "Billing", "cookie", NOT_STATED),
    ]),
}


def find(sections: dict[str, list[list[str]]], row: Row) -> None:
    by, text, section, storage, duration = row
    column = 0 if by == "name" else 2
    assert section in sections, f"no section {section!r}: {list(sections)}"
    hits = [r for r in sections[section] if
            (r[column] == text if by == "name" else text in r[column])]
    assert len(hits) == 1, f"{text!r} not found once in {section!r}: {sections[section]}"
    assert hits[0][1] == storage, f"{text!r}: type {hits[0][1]!r}, expected {storage!r}"
    assert hits[0][3] == duration, f"{text!r}: duration {hits[0][3]!r}, expected {duration!r}"
    elsewhere = [name for name, rows in sections.items() if name != section
                 and any(text in r[column] for r in rows)]
    assert not elsewhere, f"{text!r} also in {elsewhere}"


def html_sections(text: str) -> dict[str, list[list[str]]]:
    return {str(s["title"]): [list(r) for r in s["rows"][1:]]  # type: ignore[index]
            for s in parse_html(text).sections}


def md_sections(text: str) -> dict[str, list[list[str]]]:
    return {title: [[html.unescape(c).strip("`") for c in r] for r in rows]
            for title, rows in markdown_sections(text).items()}


@pytest.mark.parametrize("seed", sorted(POLICIES))
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_seed_policy_lists_every_entry_with_its_category_and_duration(seed: str,
                                                                     fmt: str) -> None:
    version, titles, rows = POLICIES[seed]
    registry = Registry.load(SEEDS / f"{seed}.toml")
    text = render_policy(registry, fmt)  # type: ignore[arg-type]
    sections = md_sections(text) if fmt == "markdown" else html_sections(text)
    assert list(sections) == titles
    for row in rows:
        find(sections, row)
    for title in titles:  # nothing the policy does not list
        assert len(sections[title]) == sum(1 for r in rows if r[2] == title), title
        assert all(len(r) == len(COLUMNS) for r in sections[title])
    if version is None:
        assert "Last updated" not in text
    else:
        assert f"Last updated: {version}" in text or f'datetime="{version}"' in text


def test_every_seed_file_is_covered() -> None:
    assert sorted(p.stem for p in SEEDS.glob("*.toml")) == sorted(POLICIES)


@pytest.mark.parametrize("seed", sorted(POLICIES))
def test_check_accepts_each_seed(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SEEDS / f"{seed}.toml")]) == 0
    assert ": valid" in capsys.readouterr().out
