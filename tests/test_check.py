"""Registry checking: every problem with its entry and fix, and the lint warnings."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import write_file

from consentguard import Category, ConsentGuard, Cookie, Registry, RegistryError
from consentguard.check import check_file, format_text, lint, summary
from consentguard.cli import main
from consentguard.registry import collect_problems

HEAD = """
version = "2026-04-20"
[categories.essential]
required = true
description = "Needed"
[categories.analytics]
description = "Usage"
[categories.marketing]
description = "Ads"
"""


def entry(name: str, category: str, duration: str = "1 day", **extra: str) -> str:
    fields = "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return (f'[[cookies]]\nname = "{name}"\ncategory = "{category}"\n'
            f'duration = "{duration}"\n{fields}')


def codes(registry: Registry) -> list[tuple[str, str]]:
    return [(w.code, w.entry) for w in lint(registry)]


def test_a_valid_registry_has_a_summary_and_no_problems(tmp_path: Path) -> None:
    path = write_file(tmp_path, HEAD + entry("session", "essential", "session")
                 + entry("_ga_*", "analytics", "13 months", provider="Google")
                 + entry("_fbp", "marketing", "3 months")
                 + entry("theme", "essential", "persistent", storage="localStorage"))
    result = check_file(path)
    assert result.ok and result.problems == () and result.warnings == ()
    data = summary(result.registry)  # type: ignore[arg-type]
    assert data["categories"][0] == {"name": "essential", "required": True, "cookies": 1,
                                     "storage_keys": 1}
    assert data["patterns"] == ["_ga_*"]
    assert data["storage_keys"] == [{"name": "theme", "storage": "localStorage"}]
    text = format_text(result)
    assert f"{path}: valid" in text
    assert "version: 2026-04-20" in text
    assert "patterns: 1 (_ga_*)" in text
    assert "storage keys: 1 (theme [localStorage])" in text


def test_every_problem_is_listed_with_its_entry_and_fix(tmp_path: Path) -> None:
    path = write_file(tmp_path, HEAD
                 + entry("ok", "essential")
                 + entry("bad name", "essential")
                 + entry("_ga", "statistics")
                 + entry("ok", "analytics")
                 + entry("fine", "marketing"))
    result = check_file(path)
    assert not result.ok
    messages = [str(p) for p in result.problems]
    assert len(messages) == 3, messages
    assert messages[0].startswith(f"{path}: entry #1: 'bad name': this is not a valid cookie")
    assert "Fix: use the exact name the Set-Cookie header carries" in messages[0]
    assert messages[1] == (
        f"{path}: entry #2: '_ga': unknown category 'statistics'. Fix: use one of: "
        "analytics, essential, marketing; or declare [categories.statistics].")
    # The duplicate names the first declaration by its number in the file.
    assert messages[2].startswith(f"{path}: entry #3: 'ok': the name is already declared by "
                                  "entry #0 in category 'essential'.")
    assert "Fix: declare each name once" in messages[2]
    # What is valid is still summarised.
    assert [c.name for c in result.registry.cookies] == ["ok", "fine"]  # type: ignore[union-attr]
    assert "3 problem(s)" in format_text(result)


def test_a_file_that_does_not_parse_is_one_problem(tmp_path: Path) -> None:
    path = write_file(tmp_path, HEAD + '[[cookies]]\nname = "x\n')
    result = check_file(path)
    assert result.registry is None
    [problem] = result.problems
    assert str(problem).startswith(f"{path}: the file is not valid TOML:")
    assert "Fix: correct the TOML syntax at the position given." in str(problem)


def test_a_broken_category_is_reported_and_its_cookies_still_checked(tmp_path: Path) -> None:
    path = write_file(tmp_path, """
[categories.essential]
required = "yes"
[categories.Analytics]
[categories.ads]
colour = "red"
""" + entry("s", "essential") + entry("a", "Analytics") + entry("m", "ads"))
    result = check_file(path)
    messages = [str(p) for p in result.problems]
    assert any("'essential': field 'required' must be a boolean" in m
               and "Fix: write required = true." in m for m in messages)
    assert any("'Analytics': a category name must be lower-case" in m for m in messages)
    assert any("'ads': unknown field 'colour'" in m for m in messages)
    assert any("no category is required" in m for m in messages)
    # 'a' refers to the category whose name is wrong; 's' and 'm' are fine.
    assert any("entry #1: 'a': unknown category 'Analytics'" in m for m in messages)
    assert len(messages) == 5, messages


def test_json_registries_and_top_level_mistakes(tmp_path: Path) -> None:
    path = write_file(tmp_path, '{"categories": {"essential": {"required": true}}, "cookie": []}',
                 "cookies.json")
    [problem] = check_file(path).problems
    assert "unknown top-level key(s) ['cookie']" in str(problem)
    assert check_file(write_file(tmp_path, "[1, 2]", "list.json")).problems[0].problem == (
        "the top level must be a table/object.")


@pytest.mark.parametrize(("cookies", "expected"), [
    pytest.param([Cookie("_ga*", category="analytics"), Cookie("_gat*", category="marketing")],
                 [("overlapping-patterns", "_gat*")], id="overlap-other-category"),
    pytest.param([Cookie("_ga*", category="analytics"), Cookie("_gat*", category="analytics")],
                 [("overlapping-patterns", "_gat*")], id="overlap-same-category"),
    pytest.param([Cookie("ab*", category="analytics"), Cookie("ac*", category="marketing")],
                 [("broad-pattern", "ab*"), ("broad-pattern", "ac*")], id="broad-no-overlap"),
    pytest.param([Cookie("x*", category="analytics")], [("broad-pattern", "x*")], id="broad"),
    pytest.param([Cookie("a*b", category="analytics")], [("broad-pattern", "a*b")],
                 id="broad-two-literals"),
    pytest.param([Cookie("abc*", category="analytics")], [], id="three-literals-ok"),
    pytest.param([Cookie("_ga_x", category="essential"), Cookie("_ga_*", category="analytics")],
                 [("shadowed-name", "_ga_x")], id="exact-name-in-other-pattern"),
    pytest.param([Cookie("_ga_x", category="analytics"), Cookie("_ga_*", category="analytics")],
                 [], id="exact-name-same-category"),
])
def test_pattern_warnings(cookies: list[Cookie], expected: list[tuple[str, str]]) -> None:
    cookies = [replace(c, duration="1 day") for c in cookies]  # only pattern warnings
    registry = Registry([Category("essential", required=True), Category("analytics"),
                         Category("marketing")], [Cookie("s", category="essential",
                                                          duration="session"), *cookies])
    assert [c for c in codes(registry) if c[0] != "empty-category"] == expected


def test_overlap_warning_names_the_winner() -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")], [
        Cookie("sess_*", category="essential", duration="session"),
        Cookie("sess_ab*", category="analytics", duration="1 day")])
    [warning] = lint(registry)
    assert warning.index == 1
    assert "treated as 'analytics' (the pattern 'sess_ab*' has more literal" in str(warning)


@pytest.mark.parametrize(("duration", "category", "warned"), [
    ("13 months", "analytics", False),
    ("1 year", "analytics", False),
    ("395 days", "analytics", False),  # 13 months of 365.25/12 days, as the guard counts
    ("396 days", "analytics", True),
    ("400 days", "analytics", True),
    ("2 years", "analytics", True),
    ("persistent", "analytics", True),
    ("2 years", "essential", False),  # required categories need no consent
    ("Varies", "analytics", False),  # not parseable: not guessed
    ("session", "analytics", False),
])
def test_long_durations_of_non_essential_cookies(duration: str, category: str,
                                                 warned: bool) -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")],
                        [Cookie("c", category=category, duration=duration),
                         Cookie("d", category="analytics", duration="1 day")])
    assert (("long-duration", "c") in codes(registry)) is warned


@pytest.mark.parametrize("days", [392, 395, 396])
def test_check_and_guard_warn_past_the_same_13_months(days: int,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    # check counted 13 months as 390 days and the guard's max_age warning as 395.
    registry = Registry([Category("essential", required=True), Category("analytics")],
                        [Cookie("c", category="analytics", duration=f"{days} days")])
    warned = ("long-duration", "c") in codes(registry)
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        ConsentGuard(registry, secret_key="k" * 32, max_age=timedelta(days=days))
    logged = any("13 months" in r.getMessage() for r in caplog.records)
    assert warned is logged is (days > 395)


def test_empty_categories_and_missing_durations_are_warned() -> None:
    registry = Registry([Category("essential", required=True), Category("marketing")],
                        [Cookie("s", category="essential")])
    assert codes(registry) == [("empty-category", "marketing"), ("no-duration", "s")]


def test_collecting_problems_is_bounded(tmp_path: Path) -> None:
    path = write_file(tmp_path, HEAD + "".join(entry(f"bad name {i}", "essential")
                                          for i in range(150)))
    result = check_file(path)
    assert result.truncated and len(result.problems) == 100
    assert "stopped after 100 problems" in format_text(result)


def test_each_entry_is_numbered_by_its_place_in_the_file(tmp_path: Path) -> None:
    # (Set-aside entries before it do not shift the number, nor do they in references.)
    path = write_file(tmp_path, """
[categories.Bad]
[categories.essential]
required = true
[categories."x y"]
[categories.analytics]
""" + entry("bad name", "essential") + entry("ab*", "analytics") + entry("*ab", "essential"))
    messages = [str(p) for p in check_file(path).problems]
    assert [m.split(": ")[1] for m in messages] == ["entry #0", "entry #2", "entry #0",
                                                    "entry #2"]
    assert "'x y': a category name must be" in messages[1]
    assert "entry #2: '*ab': the pattern overlaps 'ab*' (entry #1, category " in messages[3]


def test_a_category_with_bad_fields_and_a_bad_name_shows_both(tmp_path: Path) -> None:
    path = write_file(tmp_path, HEAD + '[categories.Ads]\nrequired = "yes"\n'
                 + entry("_fbp", "Ads"))
    problems = [p.problem for p in check_file(path).problems]
    assert problems[0] == "field 'required' must be a boolean, not str."
    assert problems[1].startswith("a category name must be lower-case")
    assert problems[2] == "unknown category 'Ads'."
    assert len(problems) == 3


_SCALARS = st.one_of(st.booleans(), st.integers(), st.text(max_size=3))
_CATEGORY = st.one_of(
    st.fixed_dictionaries({}, optional={"required": st.one_of(st.booleans(), _SCALARS),
                                        "description": _SCALARS, "colour": _SCALARS}),
    _SCALARS)
_COOKIE = st.one_of(
    st.fixed_dictionaries({}, optional={
        "name": st.one_of(st.sampled_from(["_ga", "_ga*", "*_ga", "ab*", "*ab", "s", "bad name",
                                           "*", "__Host-x"]), _SCALARS),
        "category": st.sampled_from(["essential", "analytics", "Bad", "x y", "stats"]),
        "path": st.sampled_from(["/", "x", "/a"]),
        "domain": st.sampled_from([".example.com", "bad domain"]),
        "storage": st.sampled_from(["cookie", "localStorage", "disk"]),
        "purpose": _SCALARS, "extra": _SCALARS}),
    _SCALARS)
_REGISTRY: st.SearchStrategy[dict[str, object]] = st.fixed_dictionaries(
    {"categories": st.one_of(
        st.dictionaries(st.sampled_from(["essential", "analytics", "Bad", "x y", ""]), _CATEGORY,
                        max_size=4), _SCALARS),
     "cookies": st.one_of(st.lists(_COOKIE, max_size=8), _SCALARS)},
    optional={"version": st.one_of(st.text(max_size=3), st.integers()), "cookie": st.just([])})


@settings(max_examples=400, deadline=None)
@given(_REGISTRY)
def test_building_raises_the_first_problem_the_check_lists(data: dict[str, object]) -> None:
    registry, problems, truncated = collect_problems(data, source="r.toml")
    assert not truncated
    try:
        built = Registry.from_dict(data, source="r.toml")
    except RegistryError as first:
        assert problems and str(first) == str(problems[0])
        # What is left builds, and has nothing left to report.
        if registry is not None:
            assert collect_problems(registry.to_dict())[1] == []
    else:
        assert problems == [] and built == registry
    # Each problem is about a different entry, or the same one once per fact.
    assert len({str(p) for p in problems}) == len(problems)


def test_collecting_needs_room_for_one_problem() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        collect_problems({}, limit=0)


def test_cookies_of_the_wrong_shape_are_said_even_with_no_category_left() -> None:
    registry, problems, _ = collect_problems({"categories": {}, "cookies": 0})
    assert registry is None
    assert [p.problem for p in problems] == ["no category is required.",
                                             "'cookies' must be a list."]


# -- hostile files ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "text"), [
    pytest.param("cookies.json", "[" * 20_000, id="json"),
    pytest.param("cookies.toml", "x = " + "[" * 20_000 + "]" * 20_000, id="toml"),
    pytest.param("cookies.toml", HEAD + "[categories.x]\nconsent_mode = " + "[" * 50
                 + "]" * 50 + "\n", id="toml-deep-value"),
])
def test_a_deeply_nested_file_is_one_clear_problem(tmp_path: Path, name: str, text: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write_file(tmp_path, text, name)
    [problem] = check_file(path).problems
    assert problem.source == str(path)
    assert problem.problem == "the file nests arrays or tables more than 32 levels deep."
    assert main(["check", str(path)]) == 1  # as for any other file that does not parse
    out = capsys.readouterr()
    assert f"{path}: the file nests arrays" in out.out and "Traceback" not in out.err


def nested_prefixes(n: int) -> str:
    return HEAD + "".join(entry("a" * i + "*", "analytics") for i in range(1, n + 1))


def test_nested_prefix_patterns_are_checked_quickly(tmp_path: Path) -> None:
    # 400 patterns each overlapping every other: 200 took 83 s with a DP per pair.
    path = write_file(tmp_path, nested_prefixes(400))
    start = time.perf_counter()
    result = check_file(path)
    assert time.perf_counter() - start < 10  # a sanity guard; it takes well under a second
    assert result.ok


def test_one_overlap_warning_per_pattern_counts_the_others(tmp_path: Path) -> None:
    # Every pair would be 79,800 warnings; one per entry is what a person can act on.
    warnings = check_file(write_file(tmp_path, nested_prefixes(400))).warnings
    overlaps = [w for w in warnings if w.code == "overlapping-patterns"]
    assert [w.index for w in overlaps] == list(range(1, 400))
    assert str(overlaps[0]).endswith("otherwise drop one of them.")  # one overlap only
    assert "It also overlaps the pattern(s) of entries #1, #2, #3, #4, #5 and 393 more." in (
        str(overlaps[-1]))


def test_the_overlap_named_is_one_in_another_category() -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")], [
        Cookie("ab*", category="analytics", duration="1 day"),
        Cookie("abc*", category="essential", duration="1 day"),
        Cookie("abcd*", category="analytics", duration="1 day")])
    last = [w for w in lint(registry) if w.code == "overlapping-patterns"][-1]
    assert last.index == 2
    assert "overlaps 'abc*' (entry #1, category 'essential')" in last.message
    assert last.message.endswith("It also overlaps the pattern(s) of entries #0.")


def test_one_shadowed_name_warning_per_name() -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")], [
        Cookie("_ga*", category="analytics", duration="1 day"),
        Cookie("_g*", category="analytics", duration="1 day"),
        Cookie("_ga_x", category="essential", duration="1 day")])
    [shadowed] = [w for w in lint(registry) if w.code == "shadowed-name"]
    assert "also matches the pattern '_ga*' (entry #0" in shadowed.message
    assert shadowed.message.endswith("It also matches the pattern(s) of entries #1.")
