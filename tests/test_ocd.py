"""Open Cookie Database import and the TOML writer."""

from __future__ import annotations

import csv
import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentguard import Category, Cookie, Registry
from consentguard.ocd import (
    COLUMNS,
    OcdError,
    convert,
    import_toml,
    read_ocd,
    registry_toml,
    seen_names,
    toml_string,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def ocd_csv(*rows: tuple[str, str, str, str, str]) -> str:
    """A CSV in the OCD format: rows of (platform, category, name, retention, wildcard)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i, (platform, category, name, retention, wildcard) in enumerate(rows):
        writer.writerow([f"id-{i}", platform, category, name, "", f"What {name} does",
                         retention, f"{platform} Inc.", "https://example.com/privacy",
                         wildcard])
    return out.getvalue()


def rows_of(text: str):  # type: ignore[no-untyped-def]
    return read_ocd(io.StringIO(text))


def test_categories_map_and_fields_carry_over() -> None:
    result = convert(rows_of(ocd_csv(
        ("Google Analytics", "Analytics", "_ga", "2 years", "0"),
        ("PHP", "Functional", "PHPSESSID", "session", "0"),
        ("Cloudflare", "Security", "__cf_bm", "30 minutes", "0"),
        ("Shop", "Personalization", "lang", "1 year", "0"),
        ("Meta", "Marketing", "_fbp", "3 months", "0"),
        ("Site", "Necessary", "csrftoken", "1 year", "0"),
    )))
    assert [(c.name, c.category) for _, c in result.entries] == [
        ("_ga", "analytics"), ("PHPSESSID", "essential"), ("__cf_bm", "essential"),
        ("lang", "functional"), ("_fbp", "marketing"), ("csrftoken", "essential")]
    ga = result.entries[0][1]
    assert (ga.purpose, ga.duration, ga.provider) == ("What _ga does", "2 years",
                                                       "Google Analytics")
    assert result.notes == ()


def test_wildcard_rows_become_prefix_patterns() -> None:
    result = convert(rows_of(ocd_csv(
        ("Google Analytics", "Analytics", "_ga_", "2 years", "1"),
        ("Hotjar", "Analytics", "_hjSession_", "30 minutes", "1"),
        ("X", "Marketing", "SSPR_*", "1 day", "0"),  # a star in the name: a pattern already
    )))
    names = [c.name for _, c in result.entries]
    assert names == ["_ga_*", "_hjSession_*", "SSPR_*"]
    assert result.registry.match("_ga_ABC123").name == "_ga_*"  # type: ignore[union-attr]
    assert [(n.kind, n.name) for n in result.notes] == [("wildcard", "SSPR_*")]


def test_duplicates_and_case_variants_are_reported_not_merged() -> None:
    result = convert(rows_of(ocd_csv(
        ("Adform", "Marketing", "token", "1 day", "0"),
        ("Site", "Functional", "token", "session", "0"),
        ("A", "Marketing", "uid", "1 year", "0"),
        ("B", "Marketing", "UID", "1 year", "0"),
    )))
    assert [c.name for _, c in result.entries] == ["token", "uid", "UID"]
    duplicate, variant = result.notes
    assert (duplicate.kind, duplicate.line, duplicate.name) == ("duplicate", 3, "token")
    assert "also on line 2" in duplicate.message
    assert "'essential' here, 'marketing' there" in duplicate.message
    assert (variant.kind, variant.line, variant.name) == ("case-variant", 5, "UID")
    assert "'uid' (line 2)" not in variant.message and "(line 4)" in variant.message
    assert "both are kept" in variant.message


@pytest.mark.parametrize(("name", "wildcard", "reason"), [
    ("pagead/conv/%INTEGER%", "0", "it contains '/'"),
    ("a0_users:sess", "0", "it contains ':'"),
    ("Site History", "0", "' ' (space)"),
    ("logglytrackings\xadession", "0", "U+00AD"),
    ("", "0", "the name is empty"),
    ("*", "1", "would match every cookie"),
])
def test_invalid_names_are_skipped_with_the_reason(name: str, wildcard: str,
                                                   reason: str) -> None:
    result = convert(rows_of(ocd_csv(("P", "Marketing", name, "1 day", wildcard))))
    assert result.entries == ()
    [note] = result.notes
    assert note.kind == "skipped" and note.line == 2
    assert reason in note.message


def test_spaces_around_names_are_trimmed_and_unknown_categories_skipped() -> None:
    result = convert(rows_of(ocd_csv(
        ("P", "Marketing", "ce_need_secure_cookie\t", "1 day", "0"),
        ("P", "Other", "mystery", "1 day", "0"),
    )))
    assert [c.name for _, c in result.entries] == ["ce_need_secure_cookie"]
    assert [(n.kind, n.line) for n in result.notes] == [("trimmed", 2), ("skipped", 3)]
    assert "unknown OCD category 'Other'" in result.notes[1].message


def test_multiline_fields_keep_line_numbers_right() -> None:
    text = ocd_csv(("P", "Marketing", "a", "1 day", "0"), ("P", "Marketing", "a", "1 day", "0"))
    text = text.replace("What a does", '"What\na\ndoes"', 1)
    result = convert(rows_of(text))
    assert result.notes[0].line == 5 and "also on line 2" in result.notes[0].message


def test_a_csv_without_the_columns_is_refused() -> None:
    with pytest.raises(OcdError, match="no 'Cookie / Data Key name' column"):
        read_ocd(io.StringIO("ID,Platform,Category\n1,x,Analytics\n"))


def test_only_seen_keeps_matching_rows_and_names_unmatched_cookies() -> None:
    rows = rows_of(ocd_csv(
        ("Google Analytics", "Analytics", "_ga", "2 years", "0"),
        ("Google Analytics", "Analytics", "_ga_", "2 years", "1"),
        ("Meta", "Marketing", "_fbp", "3 months", "0"),
        ("X", "Marketing", "not seen/invalid", "1 day", "0"),  # not reported: not seen
    ))
    audit = {"version": 1, "cookies": [{"name": "_ga_XYZ"}, {"name": "session"}]}
    result = convert(rows, only_seen=seen_names(audit))
    assert [c.name for _, c in result.entries] == ["_ga_*"]
    assert [(n.kind, n.name) for n in result.notes] == [("unmatched", "session")]
    with pytest.raises(OcdError, match="not a consentguard audit report"):
        seen_names({"cookies": "nope"})


def test_only_seen_keeps_the_notes_of_a_mid_name_pattern_it_matches() -> None:
    # Found in review: relevance was a prefix test, wrong for a '*' inside the name.
    rows = rows_of(ocd_csv(("Hotjar", "Analytics", "_hj*Session", "30 minutes", "0")))
    result = convert(rows, only_seen=["_hjXYZSession"])
    assert [c.name for _, c in result.entries] == ["_hj*Session"]
    assert [(n.kind, n.name) for n in result.notes] == [("wildcard", "_hj*Session")]


def test_the_written_toml_loads_back_as_the_same_registry() -> None:
    result = convert(rows_of(ocd_csv(
        ("Google \"Analytics\"", "Analytics", "_ga_", "2 years", "1"),
        ("PHP", "Functional", "PHPSESSID", "session", "0"),
    )))
    text = import_toml(result, source="ocd.csv")
    assert text.startswith("# Generated by `consentguard import-ocd` from ocd.csv")
    assert "# OCD line 2 · id: id-0 · controller: Google \"Analytics\" Inc." in text
    loaded = Registry.loads(text, format="toml")
    assert loaded == result.registry
    assert loaded.category_names == ("essential", "analytics")  # only categories in use


# -- the TOML writer ----------------------------------------------------------------------------

# Text a UTF-8 file can hold: anything but lone surrogates.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)


@given(any_text)
def test_toml_string_round_trips(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_toml_string_escapes_what_toml_forbids() -> None:
    assert toml_string('a"b\\c\n\x00\x7f\t') == '"a\\"b\\\\c\\n\\u0000\\u007F\\t"'
    assert toml_string("\ud800") == '"\\uFFFD"'  # a lone surrogate cannot be written


@given(purpose=any_text, description=any_text, title=any_text, duration=any_text,
       comment=any_text, version=any_text)
def test_registry_toml_round_trips_arbitrary_text(purpose: str, description: str, title: str,
                                                  duration: str, comment: str,
                                                  version: str) -> None:
    registry = Registry(
        [Category("essential", required=True, description=description, title=title,
                  consent_mode=("ad_storage", purpose))],
        [Cookie("c*", category="essential", purpose=purpose, duration=duration,
                provider=title, third_party=False, domain=".example.com"),
         Cookie("k", category="essential", storage="sessionStorage", purpose=description)],
        version=version,
    )
    text = registry_toml(registry, header=(comment,), comments={0: comment, 1: comment})
    assert Registry.loads(text, format="toml") == registry
