"""Declaring cookies: building, loading, validating and matching a :class:`Registry`."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import make_registry

from consentguard import Category, Cookie, Registry, RegistryError
from consentguard.registry import name_matches, parse_duration, patterns_overlap

CATEGORIES = [
    Category("essential", required=True, description="Needed for the site to work"),
    Category("analytics", description="Help us understand usage"),
    Category("marketing", description="Advertising"),
]

TOML = """\
version = 2026-04-20

[categories.essential]
required = true
description = "Needed for the site to work"

[categories.functional]
description = "Remember your preferences"

[categories.analytics]
description = "Help us understand usage"
consent_mode = ["analytics_storage"]

[[cookies]]
name = "session"
category = "essential"
purpose = "Keeps you logged in"
duration = "session"

[[cookies]]
name = "_ga_*"
category = "analytics"
purpose = "Keeps session state"
duration = "2 years"
provider = "Google Analytics"
domain = ".example.com"

[[cookies]]
name = "theme"
category = "functional"
storage = "localStorage"
purpose = "Theme"
duration = "persistent"
"""


def expected_from_toml() -> Registry:
    return Registry(
        [
            Category("essential", required=True, description="Needed for the site to work"),
            Category("functional", description="Remember your preferences"),
            Category("analytics", description="Help us understand usage",
                     consent_mode=("analytics_storage",)),
        ],
        [
            Cookie("session", category="essential", purpose="Keeps you logged in",
                   duration="session"),
            Cookie("_ga_*", category="analytics", purpose="Keeps session state",
                   duration="2 years", provider="Google Analytics", domain=".example.com"),
            Cookie("theme", category="functional", storage="localStorage", purpose="Theme",
                   duration="persistent"),
        ],
        version="2026-04-20",
    )


# -- building and loading ----------------------------------------------------------------------


def test_built_in_code(registry: Registry) -> None:
    assert registry.category_names == ("essential", "functional", "analytics", "marketing")
    assert registry.required == frozenset({"essential"})
    assert [c.name for c in registry.cookies_in("analytics")] == ["_ga", "_ga_*", "stats"]
    assert registry.category("marketing").label == "Marketing"
    with pytest.raises(KeyError):
        registry.category("nope")


def test_value_objects_are_frozen() -> None:
    cookie = Cookie("_ga", category="analytics")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cookie.category = "essential"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Cookie("_ga", "analytics")  # type: ignore[call-arg]  # keyword-only after the name


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "cookies.toml"
    path.write_text(TOML, encoding="utf-8")
    loaded = Registry.load(path)
    assert loaded == expected_from_toml()
    assert loaded.version == "2026-04-20"  # a bare TOML date becomes its ISO text
    assert loaded.source == str(path)


def test_load_json(tmp_path: Path) -> None:
    path = tmp_path / "cookies.json"
    path.write_text(json.dumps(expected_from_toml().to_dict()), encoding="utf-8")
    assert Registry.load(path) == expected_from_toml()


def test_load_accepts_str_path_and_upper_case_suffix(tmp_path: Path) -> None:
    path = tmp_path / "COOKIES.TOML"
    path.write_text(TOML, encoding="utf-8")
    assert Registry.load(str(path)) == expected_from_toml()


def test_read_parses_without_checking(tmp_path: Path) -> None:
    # What `consentguard check` builds on: the structure, even when it declares nonsense.
    path = tmp_path / "cookies.json"
    path.write_text('{"cookies": [{"name": "_ga", "category": "nope"}]}', encoding="utf-8")
    assert Registry.read(path) == {"cookies": [{"name": "_ga", "category": "nope"}]}
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RegistryError, match="not valid JSON"):
        Registry.read(path)


def test_to_dict_round_trips_through_json(registry: Registry) -> None:
    data = json.loads(json.dumps(registry.to_dict()))
    assert Registry.from_dict(data) == registry
    versioned = make_registry(version="v2")
    assert Registry.from_dict(versioned.to_dict()) == versioned


def test_to_dict_leaves_defaults_out() -> None:
    data = Registry([Category("essential", required=True)],
                    [Cookie("session", category="essential")]).to_dict()
    assert data == {"categories": {"essential": {"required": True}},
                    "cookies": [{"name": "session", "category": "essential"}]}


# -- matching and precedence -------------------------------------------------------------------

PRECEDENCE_REGISTRY = Registry(
    [Category("essential", required=True), Category("functional"), Category("analytics"),
     Category("marketing")],
    [
        Cookie("_g*", category="functional"),         # weight 2
        Cookie("_ga_*", category="analytics"),        # weight 4
        Cookie("_ga_ad*", category="marketing"),      # weight 6
        Cookie("_ga", category="analytics"),          # exact
        Cookie("*_ad", category="marketing"),         # weight 3, overlaps _ga_* with less weight
        Cookie("x*y*z", category="essential"),        # several '*'
        Cookie("x*yy*z", category="marketing"),       # heavier, several '*'
        Cookie("theme", category="functional", storage="localStorage"),
        Cookie("ls_*", category="marketing", storage="sessionStorage"),
    ],
)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        pytest.param("_ga", "analytics", id="exact-beats-patterns"),
        pytest.param("_ga_123", "analytics", id="longest-literal-wins"),
        pytest.param("_ga_", "analytics", id="star-matches-empty"),
        pytest.param("_ga_ad99", "marketing", id="heavier-pattern-wins"),
        pytest.param("_ga_ad", "marketing", id="heavier-beats-other-overlap"),
        pytest.param("_gx", "functional", id="light-pattern-still-matches"),
        pytest.param("_g", "functional", id="prefix-only"),
        pytest.param("xyz", "essential", id="multi-star-minimal"),
        pytest.param("x-yy-z", "marketing", id="multi-star-heavier-wins"),
        pytest.param("x-y-z", "essential", id="multi-star"),
        pytest.param("my_ad", "marketing", id="leading-star"),
        pytest.param("_GA", None, id="names-are-case-sensitive"),
        pytest.param("ga", None, id="no-match"),
        pytest.param("", None, id="empty-name"),
        pytest.param("theme", None, id="storage-key-never-matched"),
        pytest.param("ls_x", None, id="storage-pattern-never-matched"),
        pytest.param("_ga_\n", "analytics", id="pattern-spans-any-character"),
    ],
)
def test_match_precedence(name: str, category: str | None) -> None:
    entry = PRECEDENCE_REGISTRY.match(name)
    assert (entry.category if entry else None) == category
    assert PRECEDENCE_REGISTRY.match(name) is entry  # memoised answer is the same
    if entry is not None:
        assert entry.matches(name)


def test_declaration_order_breaks_ties_within_a_category() -> None:
    reg = Registry([Category("essential", required=True), Category("analytics")],
                   [Cookie("a*", category="analytics", path="/one"),
                    Cookie("*b", category="analytics", path="/two")])
    entry = reg.match("ab")
    assert entry is not None and entry.path == "/one"


def test_cookie_and_storage_key_may_share_a_name() -> None:
    reg = Registry([Category("essential", required=True), Category("functional")],
                   [Cookie("theme", category="essential"),
                    Cookie("theme", category="functional", storage="localStorage")])
    entry = reg.match("theme")
    assert entry is not None and entry.category == "essential"


def test_matching_a_hostile_name_is_linear() -> None:
    # Several '*' in one pattern make a backtracking regex polynomial; names come from
    # request headers, so a long crafted one must not stall the worker.
    reg = Registry([Category("essential", required=True), Category("analytics")],
                   [Cookie("a*a*a*b", category="analytics"),
                    Cookie("*a*a*c", category="analytics")])
    start = time.perf_counter()
    for n in range(20):
        assert reg.match("a" * 4000 + str(n)) is None
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("a*", "*b", True),      # "ab"
        ("a*", "b*", False),
        ("a*c", "ab*", True),    # "abc"
        ("a*b", "a*c", False),
        ("*x*", "y*", True),     # "yx"
        ("ab", "ab", True),
        ("a**b", "ab", True),
        ("_ga_*", "_gid*", False),
    ],
)
def test_patterns_overlap(a: str, b: str, overlap: bool) -> None:
    assert patterns_overlap(a, b) is overlap
    assert patterns_overlap(b, a) is overlap


def _share_a_name(a: str, b: str, alphabet: str) -> bool:
    """Brute force: whether some name over ``alphabet`` matches both patterns. A common
    name, if any, is no longer than both patterns' literal characters."""
    longest = len(a.replace("*", "")) + len(b.replace("*", ""))
    names = ("".join(chars) for n in range(longest + 1)
             for chars in itertools.product(alphabet, repeat=n))
    return any(name_matches(a, name) and name_matches(b, name) for name in names)


@settings(max_examples=500, deadline=None)
@given(st.text("ab*", max_size=5), st.text("ab*", max_size=5))
def test_patterns_overlap_is_exactly_a_common_name(a: str, b: str) -> None:
    assert patterns_overlap(a, b) is _share_a_name(a, b, "ab")


@settings(max_examples=300, deadline=None)
@given(st.text("abc*", max_size=3), st.text("abc*", max_size=3))
def test_patterns_overlap_agrees_with_brute_force_on_three_letters(a: str, b: str) -> None:
    assert patterns_overlap(a, b) is _share_a_name(a, b, "abc")


def test_patterns_overlap_is_linear() -> None:
    # A DP over both patterns would take 10^10 steps here.
    start = time.perf_counter()
    n = 100_000
    assert patterns_overlap("a" * n + "*", "*" + "a" * n)
    assert patterns_overlap("*a" * n + "*", "a*" * n)
    assert not patterns_overlap("a" * n + "*b", "*" + "a" * n + "c")
    assert time.perf_counter() - start < 5  # a sanity guard; it takes milliseconds


ADVERSARIAL = [
    pytest.param(["a" * i + "*" for i in range(1, 401)], id="nested-prefixes"),
    pytest.param(["*" + "a" * i for i in range(1, 401)], id="nested-suffixes"),
    pytest.param(["*a" * i + "*" for i in range(1, 401)], id="stars-between"),
    pytest.param(["a" + "*" * i + "b" * i for i in range(1, 401)], id="many-stars"),
    # Equal weights: every pair is compared (a different category each).
    pytest.param([f"{i:03d}*x" for i in range(400)], id="equal-weight-disjoint"),
]


@pytest.mark.parametrize("names", ADVERSARIAL)
def test_adversarial_patterns_build_quickly(names: list[str]) -> None:
    categories = [Category("essential", required=True),
                  *(Category(f"c{i}") for i in range(len(names)))]
    cookies = [Cookie(name, category=f"c{i}") for i, name in enumerate(names)]
    start = time.perf_counter()
    registry = Registry(categories, cookies)
    assert registry.match(names[-1].replace("*", "")) is not None
    # A sanity guard many times the time it takes (the pairwise DP took minutes).
    assert time.perf_counter() - start < 10


def test_equal_weight_overlaps_are_each_reported_quickly() -> None:
    # 400 patterns of one weight that all overlap, in alternating categories.
    data = {"categories": {"essential": {"required": True}, "a": {}, "b": {}},
            "cookies": [{"name": "a" * i + "*" + "a" * (400 - i), "category": "ab"[i % 2]}
                        for i in range(400)]}
    start = time.perf_counter()
    with pytest.raises(RegistryError, match=r"entry #1: .* the pattern overlaps"):
        Registry.from_dict(data)
    assert time.perf_counter() - start < 10


def test_patterns_overlap_handles_long_patterns() -> None:
    # A recursive search would hit Python's recursion limit on long names.
    assert patterns_overlap("a" * 900 + "*", "*" + "a" * 900)
    assert not patterns_overlap("a" * 900 + "*b", "*" + "a" * 900 + "c")


@pytest.mark.parametrize(
    ("categories", "cookies", "words"),
    [
        pytest.param([Category("e", required=True)], [None], "entry #0: cookies must be Cookie "
                     "objects, not NoneType", id="none-cookie"),
        pytest.param([Category("Bad"), Category(None)], [],  # type: ignore[arg-type]
                     "entry #0: 'Bad': a category name must be", id="name-not-str"),
        pytest.param([Category("e", required=True)],
                     [Cookie("bad name", category="e"), Cookie("x", category=["e"])],  # type: ignore[arg-type]
                     "entry #0: 'bad name'", id="category-not-str"),
        pytest.param([Category("e", required=True)], [Cookie("x", category=["e"])],  # type: ignore[arg-type]
                     "entry #0: 'x': unknown category ['e']", id="category-list"),
    ],
)
def test_declarations_of_the_wrong_type_are_registry_errors(
        categories: list[Any], cookies: list[Any], words: str) -> None:
    with pytest.raises(RegistryError, match=re.escape(words)):
        Registry(categories, cookies)


def test_a_subclass_loads_as_itself() -> None:
    class Site(Registry):
        __slots__ = ()

    loaded = Site.from_dict({"categories": {"essential": {"required": True}},
                             "cookies": [{"name": "s", "category": "essential"}]})
    assert type(loaded) is Site and loaded.match("s") is not None


def test_equal_weight_overlap_in_different_categories_is_an_error() -> None:
    with pytest.raises(RegistryError) as info:
        Registry(CATEGORIES, [Cookie("a_*", category="analytics"),
                              Cookie("*_b", category="marketing")])
    message = str(info.value)
    assert "entry #1" in message and "'*_b'" in message and "'a_*'" in message
    assert "Fix:" in message


@pytest.mark.parametrize(
    "cookies",
    [
        pytest.param([Cookie("a_*", category="analytics"), Cookie("b_*", category="marketing")],
                     id="equal-weight-disjoint"),
        pytest.param([Cookie("a_*", category="analytics"), Cookie("*_b", category="analytics")],
                     id="equal-weight-same-category"),
        pytest.param([Cookie("ab*", category="analytics"), Cookie("a*", category="marketing")],
                     id="different-weight"),
        pytest.param([Cookie("a_*", category="analytics"),
                      Cookie("*_b", category="marketing", storage="localStorage")],
                     id="cookie-vs-storage"),
    ],
)
def test_patterns_that_do_not_clash(cookies: list[Cookie]) -> None:
    Registry(CATEGORIES, cookies)


# -- validation errors ---------------------------------------------------------------------------

BASE = """\
[categories.essential]
required = true

[categories.analytics]

[[cookies]]
name = "session"
category = "essential"
"""

# (file text, entry index or None, entry name or None, words the problem must contain)
FILE_ERRORS = [
    pytest.param(BASE + '[[cookies]]\nname = "_x"\ncategory = "ads"\n', 1, "_x",
                 "unknown category 'ads'", id="unknown-category"),
    pytest.param('[categories.analytics]\n[[cookies]]\nname = "a"\ncategory = "analytics"\n',
                 None, None, "no category is required", id="no-required-category"),
    pytest.param(BASE + '[[cookies]]\nname = "_ga"\ncategory = "analytics"\n'
                 '[[cookies]]\nname = "_ga"\ncategory = "essential"\n', 2, "_ga",
                 "already declared by entry #1", id="duplicate-name"),
    pytest.param(BASE + '[[cookies]]\nname = "my cookie"\ncategory = "analytics"\n', 1,
                 "my cookie", "not a valid cookie name", id="invalid-cookie-name"),
    pytest.param(BASE + '[[cookies]]\nname = "a=b"\ncategory = "analytics"\n', 1,
                 "a=b", "not a valid cookie name", id="equals-in-name"),
    pytest.param(BASE + '[[cookies]]\nname = "**"\ncategory = "analytics"\n', 1,
                 "**", "only of '*'", id="star-only-name"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\nstorage = "indexedDB"\n',
                 1, "k", "storage must be one of", id="bad-storage"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\nlifetime = "2y"\n',
                 1, "k", "unknown field 'lifetime'", id="unknown-field"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\npurpose = 3\n',
                 1, "k", "'purpose' must be a string", id="wrong-field-type"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\nthird_party = "yes"\n',
                 1, "k", "'third_party' must be a boolean", id="wrong-bool-type"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\n', 1, "k", "no category", id="missing-category"),
    pytest.param(BASE + '[[cookies]]\ncategory = "analytics"\n', 1, None, "no 'name'",
                 id="missing-name"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\npath = "shop"\n',
                 1, "k", "'path' must start with '/'", id="relative-path"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\npath = "/a;b"\n',
                 1, "k", "no ';'", id="semicolon-in-path"),
    pytest.param(BASE + '[[cookies]]\nname = "k"\ncategory = "analytics"\n'
                 'domain = "https://example.com"\n', 1, "k", "'domain' must be a host name",
                 id="url-as-domain"),
    pytest.param(BASE + '[[cookies]]\nname = "__Host-id"\ncategory = "analytics"\n'
                 'domain = "example.com"\n', 1, "__Host-id", "__Host- cookie",
                 id="host-prefix-with-domain"),
    pytest.param(BASE + '[[cookies]]\nname = "__host-id"\ncategory = "analytics"\n'
                 'path = "/shop"\n', 1, "__host-id", "__Host- cookie",
                 id="host-prefix-with-path"),
    pytest.param(BASE + '[[cookies]]\nname = "a_*"\ncategory = "essential"\n'
                 '[[cookies]]\nname = "*_b"\ncategory = "analytics"\n', 2, "*_b",
                 "overlaps 'a_*'", id="pattern-clash"),
    pytest.param(BASE + "[categories.Analytics2]\n", 2, "Analytics2",
                 "lower-case letters", id="bad-category-name"),
    pytest.param(BASE + "[categories.ads]\nrequried = true\n", 2, "ads",
                 "unknown field 'requried'", id="category-unknown-field"),
    pytest.param(BASE + '[categories.ads]\nrequired = "yes"\n', 2, "ads",
                 "'required' must be a boolean", id="category-wrong-type"),
    pytest.param("title = 'x'\n" + BASE, None, None, "unknown top-level key",
                 id="unknown-top-level-key"),
    pytest.param("version = 3\n" + BASE, None, None, "'version' must be a string",
                 id="version-not-string"),
    pytest.param(BASE + "[[cookies]\nname = 'x'\n", None, None, "not valid TOML",
                 id="unparseable-toml"),
    pytest.param(BASE + 'name = "again"\n', None, None, "not valid TOML",
                 id="toml-duplicate-key"),
]


def assert_names_and_fixes(message: str, source: str | None, index: int | None,
                           name: str | None, words: str) -> None:
    if source is not None:
        assert message.startswith(source)
    if index is not None:
        assert f"entry #{index}" in message
    if name is not None:
        assert repr(name) in message
    assert words in message
    assert "Fix:" in message
    assert message.split("Fix:", 1)[1].strip()  # the fix says something


@pytest.mark.parametrize(("text", "index", "name", "words"), FILE_ERRORS)
def test_toml_errors_name_file_entry_and_fix(
    tmp_path: Path, text: str, index: int | None, name: str | None, words: str
) -> None:
    path = tmp_path / "cookies.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        Registry.load(path)
    error = info.value
    assert_names_and_fixes(str(error), str(path), index, name, words)
    assert (error.source, error.index, error.entry) == (str(path), index, name)


JSON_ERRORS = [
    pytest.param('{"categories": {"essential": {"required": true}}, "cookies": [', None, None,
                 "not valid JSON", id="unparseable-json"),
    pytest.param('["not", "an", "object"]', None, None, "top level must be", id="json-list"),
    pytest.param('{"categories": {"essential": {"required": true}}, '
                 '"cookies": [{"name": "a", "category": "essential", "domain": null}]}',
                 0, "a", "'domain' must be a string", id="json-null-field"),
    pytest.param('{"categories": {"essential": {"required": true}}, "cookies": {"a": 1}}',
                 None, None, "'cookies' must be a list", id="cookies-not-list"),
    pytest.param('{"categories": {"essential": {"required": true}}, "cookies": ["a"]}',
                 0, None, "no 'name'", id="cookie-not-object"),
]


@pytest.mark.parametrize(("text", "index", "name", "words"), JSON_ERRORS)
def test_json_errors_name_file_entry_and_fix(
    tmp_path: Path, text: str, index: int | None, name: str | None, words: str
) -> None:
    path = tmp_path / "cookies.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        Registry.load(path)
    assert_names_and_fixes(str(info.value), str(path), index, name, words)


@pytest.mark.parametrize(
    ("filename", "content", "words"),
    [
        pytest.param("cookies.yaml", "x: 1", "unsupported file type", id="wrong-suffix"),
        pytest.param("cookies.toml", None, "cannot read", id="missing-file"),
        pytest.param("cookies.toml", b"\xff\xfe", "cannot read", id="not-utf8"),
    ],
)
def test_unreadable_files(tmp_path: Path, filename: str, content: str | bytes | None,
                          words: str) -> None:
    path = tmp_path / filename
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(RegistryError) as info:
        Registry.load(path)
    assert_names_and_fixes(str(info.value), str(path), None, None, words)


DEEP = 20_000  # far past Python's recursion limit
HOSTILE_FILES = [
    pytest.param("cookies.json", "[" * DEEP, "more than 32 levels deep", id="json-unclosed"),
    pytest.param("cookies.json", "[" * DEEP + "]" * DEEP, "more than 32 levels deep",
                 id="json-whole-file"),
    pytest.param("cookies.json", '{"version": ' + "[" * DEEP + "]" * DEEP + "}",
                 "more than 32 levels deep", id="json-in-a-value"),
    pytest.param("cookies.json", '{"a": ' * DEEP + "1" + "}" * DEEP,
                 "more than 32 levels deep", id="json-objects"),
    pytest.param("cookies.json", "[" * 40 + "]" * 40, "more than 32 levels deep",
                 id="json-deep-but-parseable"),
    pytest.param("cookies.toml", "x = " + "[" * DEEP, "more than 32 levels deep",
                 id="toml-unclosed"),
    pytest.param("cookies.toml", "x = " + "[" * DEEP + "]" * DEEP,
                 "more than 32 levels deep", id="toml-in-a-value"),
    pytest.param("cookies.toml", "x = " + "{a = " * DEEP + "1" + "}" * DEEP,
                 "more than 32 levels deep", id="toml-inline-tables"),
    pytest.param("cookies.toml", "[categories.e]\nconsent_mode = " + "[" * 40 + "]" * 40,
                 "more than 32 levels deep", id="toml-deep-but-parseable"),
    pytest.param("cookies.toml", "x = " + "1" * 5000, "cannot be read", id="toml-huge-int"),
    pytest.param("cookies.json", '{"version": ' + "1" * 5000 + "}", "cannot be read",
                 id="json-huge-int"),
    # A lone surrogate cannot be encoded: every consent cookie signed with it would fail.
    pytest.param("cookies.json", '{"version": "\\ud800"}', "lone surrogate",
                 id="json-lone-surrogate"),
]


@pytest.mark.parametrize(("filename", "content", "words"), HOSTILE_FILES)
def test_hostile_files_are_registry_errors(tmp_path: Path, filename: str, content: str,
                                           words: str) -> None:
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    for read in (Registry.load, Registry.read):
        with pytest.raises(RegistryError) as info:
            read(path)
        assert_names_and_fixes(str(info.value), str(path), None, None, words)
    with pytest.raises(RegistryError, match=re.escape(words)):
        Registry.loads(content, format="json" if filename.endswith("json") else "toml")


def test_consent_mode_must_hold_strings() -> None:
    # Anything else made the registry unhashable, and a nested list reached the endpoint.
    with pytest.raises(RegistryError, match="'consent_mode' must be a list of strings"):
        Registry.loads('[categories.e]\nrequired = true\nconsent_mode = [["x"]]\n',
                       format="toml")


CODE_ERRORS = [
    pytest.param([Cookie("a", category="ads")], 0, "a", "unknown category", id="unknown-category"),
    pytest.param([Cookie("a", category="analytics"), Cookie("a", category="marketing")], 1, "a",
                 "already declared", id="duplicate"),
    pytest.param([Cookie("a;b", category="analytics")], 0, "a;b", "not a valid cookie name",
                 id="semicolon-in-name"),
    pytest.param([Cookie("", category="analytics")], 0, "", "not a valid cookie name",
                 id="empty-name"),
    pytest.param([Cookie("k", category="analytics", storage="indexedDB")],  # type: ignore[arg-type]
                 0, "k", "storage must be one of", id="bad-storage"),
    pytest.param([Cookie("k\n", category="analytics", storage="localStorage")], 0, "k\n",
                 "storage key", id="control-in-storage-key"),
]


@pytest.mark.parametrize(("cookies", "index", "name", "words"), CODE_ERRORS)
def test_errors_in_code_name_entry_and_fix(cookies: list[Cookie], index: int, name: str,
                                           words: str) -> None:
    with pytest.raises(RegistryError) as info:
        Registry(CATEGORIES, cookies)
    assert_names_and_fixes(str(info.value), None, index, name, words)


ESSENTIAL = Category("essential", required=True)
# What a file could not hold, built in code: a clear error, never a registry that fails
# later (an unhashable one, a version no consent cookie can be signed with).
CODE_FIELD_ERRORS = [
    pytest.param([Category("e", required=True, consent_mode=[1])], [], {},  # type: ignore[arg-type]
                 0, "e", "'consent_mode' must hold strings", id="consent-mode-not-strings"),
    pytest.param([Category("e", required=True, consent_mode="ad_storage")], [], {},  # type: ignore[arg-type]
                 0, "e", "'consent_mode' must be a tuple", id="consent-mode-a-string"),
    pytest.param([Category("e", required="yes")], [], {},  # type: ignore[arg-type]
                 0, "e", "'required' must be a boolean, not str", id="required-not-bool"),
    pytest.param([ESSENTIAL, Category("a", description=None)], [], {},  # type: ignore[arg-type]
                 1, "a", "'description' must be a string", id="description-none"),
    pytest.param([ESSENTIAL, Category("a", title="\ud800")], [], {},
                 1, "a", "lone surrogate", id="title-surrogate"),
    pytest.param([ESSENTIAL], [Cookie("k", category="essential", purpose="\udfff")], {},
                 0, "k", "lone surrogate", id="purpose-surrogate"),
    pytest.param([ESSENTIAL], [Cookie("k", category="essential", third_party="no")], {},  # type: ignore[arg-type]
                 0, "k", "'third_party' must be a boolean", id="third-party-not-bool"),
    pytest.param([ESSENTIAL], [], {"version": "\ud800"}, None, None, "lone surrogate",
                 id="version-surrogate"),
    pytest.param([ESSENTIAL], [], {"version": 20260420}, None, None,
                 "'version' must be a string", id="version-int"),
]


@pytest.mark.parametrize(("categories", "cookies", "options", "index", "name", "words"),
                         CODE_FIELD_ERRORS)
def test_fields_built_in_code_are_checked_as_a_file_is(
        categories: list[Category], cookies: list[Cookie], options: dict[str, Any],
        index: int | None, name: str | None, words: str) -> None:
    with pytest.raises(RegistryError) as info:
        Registry(categories, cookies, **options)
    assert_names_and_fixes(str(info.value), None, index, name, words)


def test_consent_mode_given_as_a_list_in_code_is_a_tuple() -> None:
    category = Category("e", required=True, consent_mode=["ad_storage"])  # type: ignore[arg-type]
    assert category.consent_mode == ("ad_storage",)
    assert hash(Registry([category])) == hash(Registry([category]))


FIELD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                         st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=2))


@given(required=FIELD_VALUES, title=FIELD_VALUES, consent_mode=FIELD_VALUES,
       version=FIELD_VALUES)
@settings(max_examples=200, deadline=None)
def test_a_registry_built_in_code_is_valid_or_a_registry_error(
        required: Any, title: Any, consent_mode: Any, version: Any) -> None:
    try:
        registry = Registry([Category("e", required=required, title=title,
                                      consent_mode=consent_mode)], version=version)
    except RegistryError:
        return
    hash(registry)
    (category,) = registry.categories
    assert category.required is True and isinstance(category.title, str)
    assert all(isinstance(signal, str) for signal in category.consent_mode)
    for text in (version or "", category.title, *category.consent_mode):
        text.encode("utf-8")  # a consent cookie can be signed with it, a page written


def test_no_required_category_in_code() -> None:
    with pytest.raises(RegistryError, match=r"no category is required\..*Fix:"):
        Registry([Category("analytics")], [])


def test_registry_error_is_a_value_error_and_pickles() -> None:
    import pickle

    error = RegistryError("bad.", source="f.toml", index=2, entry="x", fix="do y.")
    assert isinstance(error, ValueError)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) == "f.toml: entry #2: 'x': bad. Fix: do y."


# -- durations -----------------------------------------------------------------------------------

DAY = 86400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("session", 0.0),
        ("Session (deleted when you close the browser)", 0.0),
        ("persistent", math.inf),
        ("Persistent", math.inf),
        ("1 day", DAY),
        ("30 days", 30 * DAY),
        ("2 weeks", 14 * DAY),
        ("1 month", 30 * DAY),
        ("13 months", 13 * 30 * DAY),
        ("1 year", 365 * DAY),
        ("2 years", 2 * 365 * DAY),
        ("2years", 2 * 365 * DAY),
        ("1.5 hours", 1.5 * 3600),
        ("90 seconds", 90),
        ("Varies", None),
        ("", None),
        ("up to 2 years", None),
        ("2 dayz", None),
        ("-1 days", None),
    ],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds
    assert Cookie("a", category="x", duration=text).lifetime == seconds


def test_duration_text_is_kept(registry: Registry) -> None:
    entry = registry.match("_ga")
    assert entry is not None and entry.duration == "2 years"


# -- revisions -----------------------------------------------------------------------------------


def test_revisions_change_only_for_the_category_that_gained_a_cookie(registry: Registry) -> None:
    grown = make_registry(extra=(Cookie("_gid", category="analytics", duration="1 day"),))
    changed = {c for c in registry.category_names
               if registry.revisions[c] != grown.revisions[c]}
    assert changed == {"analytics"}


def test_revisions_are_stable(registry: Registry) -> None:
    reordered = Registry(registry.categories, tuple(reversed(registry.cookies)))
    assert reordered.revisions == registry.revisions == make_registry().revisions
    assert all(re.fullmatch(r"[0-9a-f]{8}", rev) for rev in registry.revisions.values())


def test_revisions_follow_what_is_stored_not_its_wording(registry: Registry) -> None:
    # Rewording a purpose keeps consent; a new provider or domain is a new recipient.
    reworded = Registry(registry.categories, [
        dataclasses.replace(c, purpose=c.purpose + "!") for c in registry.cookies])
    assert reworded.revisions == registry.revisions
    moved = Registry(registry.categories, [
        dataclasses.replace(c, provider="Other Ads") if c.name == "_fbp" else c
        for c in registry.cookies])
    assert {c for c in registry.revisions
            if moved.revisions[c] != registry.revisions[c]} == {"marketing"}
