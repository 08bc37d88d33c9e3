"""The cookie policy renderer: Markdown, HTML and JSON from one registry."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import make_registry

from consentguard import Category, Cookie, Registry
from consentguard.policy import COLUMNS, cookie_data, policy_data, render_policy


class Sections(HTMLParser):
    """Collects, per <section>, its heading, paragraphs and table rows (cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, object]] = []
        self.stack: list[str] = []
        self.text = ""
        self.row: list[str] = []
        self.starttags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starttags.append((tag, dict(attrs)))
        self.stack.append(tag)
        if tag == "section":
            self.sections.append({"title": "", "paragraphs": [], "rows": [], "caption": ""})
        if tag in ("th", "td", "h2", "p", "caption"):
            self.text = ""
        if tag == "tr":
            self.row = []

    def handle_endtag(self, tag: str) -> None:
        self.stack.pop()
        if not self.sections:
            return
        current = self.sections[-1]
        if tag == "h2":
            current["title"] = self.text
        elif tag == "caption":
            current["caption"] = self.text
        elif tag == "p":
            current["paragraphs"].append(self.text)  # type: ignore[attr-defined]
        elif tag in ("th", "td"):
            self.row.append(self.text)
        elif tag == "tr":
            current["rows"].append(self.row)  # type: ignore[attr-defined]

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_html(text: str) -> Sections:
    parser = Sections()
    parser.feed(text)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


def markdown_sections(text: str) -> dict[str, list[list[str]]]:
    """Section title → table rows (cells split on unescaped pipes, unescaped)."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], [])
        elif line.startswith("| ") and not line.startswith("| Cookie / storage key"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            current.append([re.sub(r"\\(.)", r"\1", c.strip()) for c in cells])
    return sections


def test_markdown_groups_by_category_with_descriptions_and_a_table_each() -> None:
    text = render_policy(make_registry(version="2026-04-20"))
    assert text.startswith("# Cookie policy\n")
    assert "Last updated: 2026-04-20" in text
    sections = markdown_sections(text)
    assert list(sections) == ["Essential", "Functional", "Analytics", "Marketing"]
    assert "Help us understand usage" in text.split("## Analytics")[1].split("## Marketing")[0]
    assert ["`_ga`", "cookie", "Distinguishes visitors", "2 years", "Google Analytics",
            "Third party"] in sections["Analytics"]
    assert ["`theme`", "localStorage", "Theme", "persistent", "This site",
            "First party"] in sections["Functional"]
    assert ["`session`", "cookie", "Keeps you logged in", "session", "This site",
            "First party"] in sections["Essential"]


def test_markdown_escapes_table_breaking_and_html_text() -> None:
    registry = Registry(
        [Category("essential", required=True, description="a | b <script>x</script>")],
        [Cookie("we|rd`name", category="essential", purpose="line one\nline | two *bold*",
                duration="")],
    )
    text = render_policy(registry, "markdown")
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    rows = markdown_sections(text)["Essential"]
    assert len(rows) == 1 and len(rows[0]) == len(COLUMNS)
    name, _, purpose, duration, *_ = rows[0]
    assert name == "`` we|rd`name ``"
    assert purpose == "line one line | two *bold*"
    assert duration == "Not stated"


def test_html_is_a_semantic_self_contained_fragment() -> None:
    text = render_policy(make_registry(version="2026-04-20"), "html")
    doc = parse_html(text)
    tags = [tag for tag, _ in doc.starttags]
    assert tags[0] == "div" and "script" not in tags and "style" not in tags
    assert "<html" not in text and "<body" not in text
    headers = [a for t, a in doc.starttags if t == "th" and a.get("scope") == "col"]
    assert len(headers) == 4 * len(COLUMNS)
    assert tags.count("section") == tags.count("table") == tags.count("caption") == 4
    assert '<time datetime="2026-04-20">2026-04-20</time>' in text
    analytics = next(s for s in doc.sections if s["title"] == "Analytics")
    assert analytics["rows"][0] == list(COLUMNS)  # type: ignore[index]
    assert ["_ga_*", "cookie", "Keeps session state", "2 years", "Google Analytics",
            "Third party"] in analytics["rows"]  # type: ignore[operator]
    assert "Help us understand usage" in analytics["paragraphs"]  # type: ignore[operator]


def test_html_escapes_every_piece_of_registry_text() -> None:
    evil = '<script>alert("x")</script>'
    registry = Registry(
        [Category("essential", required=True, title=evil, description=evil)],
        [Cookie("tok", category="essential", purpose=evil, duration=evil, provider=evil,
                storage="localStorage"),
         Cookie("<img src=x onerror=alert(1)>", category="essential", storage="localStorage")],
        version='"><script>',
    )
    text = render_policy(registry, "html")
    assert "<script" not in text and "<img" not in text
    doc = parse_html(text)
    assert {t for t, _ in doc.starttags} <= {
        "div", "p", "section", "h2", "table", "caption", "thead", "tbody", "tr", "th", "td",
        "code"}
    section = doc.sections[0]
    assert section["title"] == evil
    assert [r[2] for r in section["rows"][1:]] == [evil, ""]  # type: ignore[index]
    assert section["rows"][2][0] == "<img src=x onerror=alert(1)>"  # type: ignore[index]
    assert "Last updated: &quot;&gt;&lt;script&gt;</p>" in text  # not a date: no <time>


def test_a_category_with_no_cookies_says_so_instead_of_an_empty_table() -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")],
                        [Cookie("s", category="essential", duration="session")])
    html_text = render_policy(registry, "html")
    assert html_text.count("<table>") == 1
    assert "No cookies or storage keys in this category." in html_text
    assert "No cookies or storage keys in this category." in render_policy(registry)


def test_json_is_policy_data_and_matches_the_endpoint_cookie_shape() -> None:
    registry = make_registry(version="v7")
    data = json.loads(render_policy(registry, "json"))
    assert data == policy_data(registry)
    assert data["version"] == data["last_updated"] == "v7"
    assert [c["name"] for c in data["categories"]] == list(registry.category_names)
    analytics = data["categories"][2]
    assert analytics["title"] == "Analytics" and analytics["required"] is False
    assert analytics["cookies"][0] == {
        "name": "_ga", "storage": "cookie", "purpose": "Distinguishes visitors",
        "duration": "2 years", "provider": "Google Analytics", "third_party": True,
        "domain": ".example.com", "path": "/"}
    assert cookie_data(registry.cookies[0])["third_party"] is False


def test_third_party_flag_overrides_the_provider_default() -> None:
    registry = Registry([Category("essential", required=True)], [
        Cookie("a", category="essential", provider="Our CDN", third_party=False),
        Cookie("b", category="essential", third_party=True)])
    rows = markdown_sections(render_policy(registry))["Essential"]
    assert [r[-1] for r in rows] == ["First party", "Third party"]
    assert [r[-2] for r in rows] == ["Our CDN", "This site"]


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown policy format 'pdf'"):
        render_policy(make_registry(), "pdf")  # type: ignore[arg-type]


text_strategy = st.text(max_size=40)


@given(purpose=text_strategy, description=text_strategy, provider=text_strategy)
def test_any_text_renders_without_breaking_the_markup(purpose: str, description: str,
                                                      provider: str) -> None:
    registry = Registry(
        [Category("essential", required=True, description=description)],
        [Cookie("c", category="essential", purpose=purpose, provider=provider,
                duration="1 day")])
    doc = parse_html(render_policy(registry, "html"))
    rows = doc.sections[0]["rows"]
    assert len(rows) == 2 and len(rows[1]) == len(COLUMNS)  # type: ignore[arg-type,index]
    assert rows[1][2] == purpose  # type: ignore[index]
    md_rows = markdown_sections(render_policy(registry))["Essential"]
    assert len(md_rows) == 1 and len(md_rows[0]) == len(COLUMNS)
    assert md_rows[0][3] == "1 day"
