"""Declaring cookies: :class:`Category`, :class:`Cookie` and :class:`Registry`.

A registry is validated and compiled once, when it is built; matching a cookie name
afterwards is a dictionary lookup (exact names) or one compiled regular expression
(``*`` patterns), memoised per name.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, MISSING, dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from .exceptions import RegistryError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["STORAGES", "Category", "Cookie", "Registry", "Storage", "is_token", "name_matches",
           "parse_duration"]

Storage = Literal["cookie", "localStorage", "sessionStorage"]
STORAGES: tuple[Storage, ...] = ("cookie", "localStorage", "sessionStorage")

# RFC 6265 token characters (the cookie-name grammar); ``*`` is one of them and is our wildcard.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CATEGORY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_DURATION = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|year)s?\b", re.IGNORECASE
)


def parse_duration(text: str) -> float | None:
    """Parse a human duration into seconds, where it can be parsed.

    ``"session"`` (and text starting with it, such as ``"Session (cleared when browser
    closes)"``) is ``0.0``: the cookie lives until the browser closes. ``"persistent"`` is
    ``math.inf``. ``"N seconds|minutes|hours|days|weeks|months|years"`` (singular too) is
    N times the unit, a month counted as 30 days and a year as 365. Anything else
    (``"Varies"``, ``""``) is ``None``.
    """
    lowered = text.strip().lower()
    if lowered.startswith("session"):
        return 0.0
    if lowered.startswith("persistent"):
        return math.inf
    match = _DURATION.match(lowered)
    if match is None:
        return None
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class Category:
    """A category of cookies a visitor can accept or refuse.

    :param name: short identifier, lower case (``"analytics"``); what consent records.
    :param required: cookies the site cannot work without; always accepted, never asked.
    :param description: one sentence shown to visitors in the banner and the policy.
    :param title: display name (defaults to the name, capitalised).
    :param consent_mode: Google Consent Mode v2 signals this category grants
        (for example ``("analytics_storage",)``); used by the banner.
    """

    name: str
    _: KW_ONLY
    required: bool = False
    description: str = ""
    title: str = ""
    consent_mode: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The display name: ``title`` or the capitalised name."""
        return self.title or self.name.capitalize()


@dataclass(frozen=True)
class Cookie:
    """A cookie (or a localStorage/sessionStorage key) the site uses.

    :param name: the exact name, or a pattern where ``*`` matches any run of characters.
    :param category: the name of the :class:`Category` it belongs to.
    :param purpose: why the site stores it, in words for visitors.
    :param duration: how long it lives, as people write it (``"2 years"``, ``"session"``);
        :attr:`lifetime` is the parsed number of seconds, when it can be parsed.
    :param provider: who sets it, when that is not the site itself (``"Google Analytics"``).
    :param storage: ``"cookie"`` (default), ``"localStorage"`` or ``"sessionStorage"``.
        Storage keys are declared and listed, and cleared by the banner script, but never
        matched against ``Set-Cookie``.
    :param domain: the ``Domain`` the cookie is set with, when it lives on a parent
        domain (needed to delete it).
    :param path: the ``Path`` the cookie is set with (default ``"/"``).
    :param third_party: whether a third party sets or reads it (shown in the policy;
        defaults to true when a provider is given).
    """

    name: str
    _: KW_ONLY
    category: str
    purpose: str = ""
    duration: str = ""
    provider: str = ""
    storage: Storage = "cookie"
    domain: str | None = None
    path: str = "/"
    third_party: bool | None = None

    @property
    def is_pattern(self) -> bool:
        """Whether the name contains a ``*`` wildcard."""
        return "*" in self.name

    @property
    def weight(self) -> int:
        """The number of literal characters in the name: longer wins among patterns."""
        return len(self.name) - self.name.count("*")

    @property
    def lifetime(self) -> float | None:
        """:attr:`duration` in seconds (``0.0`` session, ``inf`` persistent), or ``None``."""
        return parse_duration(self.duration)

    @property
    def is_third_party(self) -> bool:
        """Whether the policy lists it as third party."""
        return self.third_party if self.third_party is not None else bool(self.provider)

    def matches(self, name: str) -> bool:
        """Whether ``name`` is this entry's name, or matches its pattern."""
        return name_matches(self.name, name)


def _parse(text: str, format: Literal["toml", "json"], source: str | None) -> Any:
    try:
        data = tomllib.loads(text) if format == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(
            f"the file is not valid {format.upper()}: {exc}.",
            source=source,
            fix=f"correct the {format.upper()} syntax at the position given.",
        ) from exc
    except RecursionError:  # the parsers recurse once per nested array or table
        problem: tuple[str, str] | None = _TOO_DEEP
    except ValueError as exc:  # an integer of thousands of digits, say
        raise RegistryError(
            f"the file holds a value that cannot be read: {exc}.", source=source,
            fix="registry values are short strings, booleans and lists of strings.",
        ) from None
    else:
        problem = _hostile(data)
    if problem is not None:
        raise RegistryError(problem[0], source=source, fix=problem[1])
    return data


#: A registry file is four levels deep; far deeper is hostile or broken.
_MAX_DEPTH = 32
_TOO_DEEP = (f"the file nests arrays or tables more than {_MAX_DEPTH} levels deep.",
             "a registry holds [categories.<name>] tables and [[cookies]] entries of "
             "strings, booleans and lists of strings, four levels deep at most.")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _hostile(data: Any) -> tuple[str, str] | None:
    """The problem and fix of what makes parsed ``data`` unsafe to handle, if anything:
    deep nesting (anything recursive, from ``repr`` to ``json.dumps``, would overflow
    the stack on it) or a lone surrogate (JSON's ``"\\ud800"``), which cannot be encoded and would
    break every consent cookie signed with it."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return (f"the string {value!r:.40} holds a lone surrogate, which is not text.",
                        "write the character itself, or both halves of its \\u escape pair.")
        elif isinstance(value, (dict, list)):
            if depth > _MAX_DEPTH:
                return _TOO_DEEP
            if isinstance(value, dict):
                stack.extend((key, depth + 1) for key in value)
                value = list(value.values())
            stack.extend((item, depth + 1) for item in value)
    return None


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 6265 token: what a declared cookie name may hold."""
    return _TOKEN.fullmatch(text) is not None


def name_matches(declared: str, name: str) -> bool:
    """Whether cookie ``name`` is ``declared``, or matches it as a ``*`` pattern."""
    if "*" not in declared:
        return name == declared
    return _glob_match(declared.split("*"), name)


def _pattern_source(pattern: str) -> str:
    """The regular expression (DOTALL) that ``pattern`` stands for."""
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def _glob_match(parts: list[str], name: str) -> bool:
    """Whether ``name`` matches the pattern split at its ``*`` into ``parts`` (two or more).

    Linear time: the first and last parts anchor the ends, and each middle part is taken
    at its leftmost place, which is always right when ``*`` is the only wildcard. (A
    backtracking regex needs polynomial time here, and names come from the outside.)
    """
    first, last = parts[0], parts[-1]
    if len(name) < len(first) + len(last) or not (
        name.startswith(first) and name.endswith(last)
    ):
        return False
    position, end = len(first), len(name) - len(last)
    for part in parts[1:-1]:
        found = name.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def patterns_overlap(a: str, b: str) -> bool:
    """Whether some name matches both ``*`` patterns (or exact names) ``a`` and ``b``.

    Linear time. When both hold a ``*``, they share a name exactly when their literal
    heads (before the first ``*``) are one a prefix of the other and their literal tails
    (after the last ``*``) one a suffix of the other: the longer head, then every middle
    part of both, then the longer tail, is such a name, since each pattern's stars take
    in the other's parts. An exact name overlaps what it matches.
    """
    if "*" not in a or "*" not in b:
        return name_matches(a, b) if "*" in a else name_matches(b, a)
    head_a, head_b = a.partition("*")[0], b.partition("*")[0]
    tail_a, tail_b = a.rpartition("*")[2], b.rpartition("*")[2]
    return ((head_a.startswith(head_b) or head_b.startswith(head_a))
            and (tail_a.endswith(tail_b) or tail_b.endswith(tail_a)))


class Registry:
    """Every cookie and storage key a site uses, by category. Immutable once built.

    :param categories: the categories; at least one must be ``required``.
    :param cookies: the declared cookies and storage keys.
    :param version: optional label of the policy revision (a date, say); changing it
        makes every stored consent lapse, so visitors are asked again.
    :param source: where the registry came from, used in error messages.
    :raises RegistryError: when a declaration is invalid; the message names the entry
        and the fix.

    ``Registry.load("cookies.toml")`` reads the same structure from TOML or JSON.
    """

    __slots__ = (
        "_cache",
        "_exact",
        "_globs",
        "_pattern_entries",
        "_pattern_ranks",
        "_pattern_regex",
        "categories",
        "cookies",
        "required",
        "revisions",
        "source",
        "version",
    )

    categories: tuple[Category, ...]
    cookies: tuple[Cookie, ...]
    version: str | None
    source: str | None
    required: frozenset[str]
    revisions: Mapping[str, str]

    def __init__(
        self,
        categories: Iterable[Category],
        cookies: Iterable[Cookie] = (),
        *,
        version: str | None = None,
        source: str | None = None,
    ) -> None:
        self.categories = tuple(categories)
        self.cookies = tuple(cookies)
        self.version = version
        self.source = source
        self._validate()
        self._finish()

    @classmethod
    def _checked(cls, categories: Iterable[Category], cookies: Iterable[Cookie],
                 version: str | None, source: str | None) -> Registry:
        """A registry of declarations :func:`_problems` has just found nothing wrong with:
        built without checking them again (a large registry's clash check is O(n²))."""
        if cls is not Registry:  # a subclass gets its own __init__
            return cls(categories, cookies, version=version, source=source)
        registry = object.__new__(cls)
        registry.categories = tuple(categories)
        registry.cookies = tuple(cookies)
        registry.version = version
        registry.source = source
        registry._finish()
        return registry

    def _finish(self) -> None:
        self.required = frozenset(c.name for c in self.categories if c.required)
        self.revisions = self._compute_revisions()
        self._compile()

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Registry:
        """Load a registry from a ``.toml`` or ``.json`` file.

        :raises RegistryError: when the file cannot be read or parsed, or declares
            something invalid; the message names the file and the entry.
        """
        return cls.from_dict(cls.read(path), source=str(path))

    @classmethod
    def read(cls, path: str | Path) -> Any:
        """The parsed structure of a ``.toml`` or ``.json`` registry file, not yet checked.

        :raises RegistryError: when the file cannot be read or is not valid TOML/JSON.
        """
        path = Path(path)
        source = str(path)
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise RegistryError(
                f"unsupported file type {suffix or '(none)'!r}.",
                source=source,
                fix="use a .toml or .json file with the schema from the README.",
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(
                f"cannot read the file ({exc}).",
                source=source,
                fix="check the path and that the file is UTF-8 text.",
            ) from exc
        return _parse(text, "toml" if suffix == ".toml" else "json", source)

    @classmethod
    def loads(
        cls, text: str, *, format: Literal["toml", "json"], source: str | None = None
    ) -> Registry:
        """Build a registry from TOML or JSON text (see :meth:`load`)."""
        return cls.from_dict(_parse(text, format, source), source=source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Registry:
        """Build a registry from the parsed file structure (the schema in the README).

        :raises RegistryError: for the first problem :func:`collect_problems` lists.
        """
        registry, problems, _ = _collect(cls, data, source, sys.maxsize)
        if problems:
            raise problems[0]
        assert registry is not None  # (only a problem leaves none)
        return registry

    def to_dict(self) -> dict[str, Any]:
        """The registry in the file schema (what :meth:`from_dict` reads back)."""
        out: dict[str, Any] = {}
        if self.version is not None:
            out["version"] = self.version
        out["categories"] = {
            c.name: _non_default(c, skip=("name",)) for c in self.categories
        }
        out["cookies"] = [_non_default(c) for c in self.cookies]
        return out

    # -- validation -------------------------------------------------------------------------

    def _validate(self) -> None:
        found = _in_file_order(_problems(self.categories, self.cookies, self.source))
        if found:
            raise found[0]

    # -- compiled lookups -------------------------------------------------------------------

    def _compute_revisions(self) -> dict[str, str]:
        revisions = {}
        for category in self.categories:
            declared = sorted(
                (c.storage, c.name, c.provider, c.domain or "")
                for c in self.cookies if c.category == category.name
            )
            digest = hashlib.sha256(json.dumps(declared).encode()).hexdigest()
            revisions[category.name] = digest[:8]
        return revisions

    def _compile(self) -> None:
        self._exact: dict[str, Cookie] = {}
        patterns: list[Cookie] = []
        for cookie in self.cookies:
            if cookie.storage != "cookie":
                continue
            if cookie.is_pattern:
                patterns.append(cookie)
            else:
                self._exact[cookie.name] = cookie
        # Heaviest first (stable: declaration order among equals); the alternation tries
        # alternatives in order, so the first group that matches is the winner.
        patterns.sort(key=lambda c: -c.weight)
        # Patterns with one '*' go into one regex: each alternative matches in linear
        # time. Those with several would backtrack polynomially on a long hostile name,
        # so they are matched by _glob_match, keeping their rank in the order above.
        simple = [(rank, c) for rank, c in enumerate(patterns) if c.name.count("*") == 1]
        self._pattern_entries = tuple(c for _, c in simple)
        self._pattern_ranks = tuple(rank for rank, _ in simple)
        self._pattern_regex = (
            re.compile("|".join(f"({_pattern_source(c.name)})" for _, c in simple),
                       re.DOTALL)
            if simple else None
        )
        self._globs = tuple((rank, c.name.split("*"), c) for rank, c in enumerate(patterns)
                            if c.name.count("*") > 1)
        self._cache: dict[str, Cookie | None] = {}

    def match(self, name: str) -> Cookie | None:
        """The declared cookie entry that governs the cookie ``name``, or ``None``.

        Exact names win over patterns; among patterns the one with the most literal
        characters wins. Storage keys are never matched.
        """
        try:
            return self._cache[name]
        except KeyError:
            pass
        found = self._exact.get(name)
        if found is None:
            best = len(self.cookies)
            if self._pattern_regex is not None:
                m = self._pattern_regex.fullmatch(name)
                if m is not None and m.lastindex is not None:
                    found = self._pattern_entries[m.lastindex - 1]
                    best = self._pattern_ranks[m.lastindex - 1]
            for rank, parts, cookie in self._globs:
                if rank > best:
                    break
                if _glob_match(parts, name):
                    found = cookie
                    break
        if len(self._cache) >= 8192:  # bounded: names come from the outside world
            self._cache.clear()
        self._cache[name] = found
        return found

    def category(self, name: str) -> Category:
        """The category called ``name``; :class:`KeyError` if there is none."""
        for category in self.categories:
            if category.name == name:
                return category
        raise KeyError(name)

    @property
    def category_names(self) -> tuple[str, ...]:
        """The category names, in declaration order."""
        return tuple(c.name for c in self.categories)

    def cookies_in(self, category: str) -> tuple[Cookie, ...]:
        """The entries (cookies and storage keys) declared under ``category``."""
        return tuple(c for c in self.cookies if c.category == category)

    def __repr__(self) -> str:
        return (f"<Registry {len(self.categories)} categories, {len(self.cookies)} entries"
                f"{f', version {self.version!r}' if self.version else ''}>")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Registry):
            return NotImplemented
        return (self.categories, self.cookies, self.version) == (
            other.categories, other.cookies, other.version)

    def __hash__(self) -> int:
        return hash((self.categories, self.cookies, self.version))


# -- validation: the first problem (building), or every problem (consentguard check) ------


class _Enough(Exception):
    """More problems than the collector was asked for."""


class _Problems:
    """Where validation puts what it finds, up to a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.found: list[RegistryError] = []

    def add(self, problem: RegistryError) -> None:
        if len(self.found) >= self.limit:
            raise _Enough
        self.found.append(problem)


def collect_problems(data: Any, *, source: str | None = None, limit: int = 100
                     ) -> tuple[Registry | None, list[RegistryError], bool]:
    """Every problem of a parsed registry file, and a registry of what is valid in it.

    Each entry at fault is set aside (a category whose fields are wrong is kept bare, so
    its cookies are still checked against it), so each problem is reported once, under
    its entry's number in the file. :meth:`Registry.from_dict` raises the first problem
    of this list.

    :returns: the registry built from the valid entries (``None`` when the file's shape
        allows none, or past ``limit`` problems; when no category is required, the first
        is taken as required so that the rest can be summarised), the problems (the
        file's shape first, then the categories': their fields, then the rest; then the
        cookies', in file order), and whether there were more than ``limit``.
    :raises ValueError: for a ``limit`` under 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return _collect(Registry, data, source, limit)


def _collect(cls: type[Registry], data: Any, source: str | None, limit: int
             ) -> tuple[Registry | None, list[RegistryError], bool]:
    problems = _Problems(limit)
    try:
        registry = _build(cls, data, source, problems)
    except _Enough:
        return None, problems.found, True
    return registry, problems.found, False


def _build(cls: type[Registry], data: Any, source: str | None, problems: _Problems
           ) -> Registry | None:
    """The registry in ``data``, its problems put in ``problems`` (see :func:`collect_problems`)."""
    if not isinstance(data, Mapping):
        problems.add(RegistryError(
            "the top level must be a table/object.", source=source,
            fix="start the file with [categories.<name>] tables and [[cookies]] entries.",
        ))
        return None
    unknown_keys = set(data) - {"version", "categories", "cookies"}
    if unknown_keys:
        problems.add(RegistryError(
            f"unknown top-level key(s) {sorted(unknown_keys)}.",
            source=source,
            fix="only 'version', 'categories' and 'cookies' are allowed at the top level.",
        ))
    version = data.get("version")
    if version is not None and not isinstance(version, str):
        if hasattr(version, "isoformat"):  # TOML reads a bare date as a date
            version = version.isoformat()
        else:
            problems.add(RegistryError("'version' must be a string.", source=source,
                                       fix='write version = "2026-04-20".'))
            version = None
    raw_categories = data.get("categories", {})
    raw_cookies = data.get("cookies", [])
    if not isinstance(raw_categories, Mapping):
        problems.add(RegistryError(
            "'categories' must be a table of tables.",
            source=source,
            fix="declare each category as [categories.<name>].",
        ))
        return None
    categories = []
    for index, (name, fields) in enumerate(raw_categories.items()):
        try:
            fields = _check_fields(fields, _CATEGORY_FIELDS, source, index, str(name),
                                   "category")
        except RegistryError as problem:
            problems.add(problem)
            fields = {}  # kept bare: its cookies are still checked against it
        categories.append(Category(str(name), **fields))
    # The categories first: a cookie is checked against the ones that are valid.
    names: dict[str, int] = {}  # the valid categories
    for _, _, found in _category_problems(categories, source, names):
        problems.add(found)
    kept = [categories[i] for i in names.values()]
    if not isinstance(raw_cookies, list):
        problems.add(RegistryError(
            "'cookies' must be a list.", source=source,
            fix="declare each cookie as a [[cookies]] entry.",
        ))
        return None
    if not kept:  # every cookie would only add "unknown category"
        return None
    cookies: list[Cookie | None] = []  # None: set aside, its place kept for the numbering
    set_aside: set[int] = set()
    # The cookies' problems go after the categories' (a category's can make a cookie's).
    cookie_problems: list[RegistryError] = []
    for index, fields in enumerate(raw_cookies):
        name = fields.get("name") if isinstance(fields, Mapping) else None
        try:
            if not isinstance(name, str):
                raise RegistryError(
                    "the entry has no 'name' string.", source=source, index=index,
                    fix='give every [[cookies]] entry a name = "...".',
                )
            cookies.append(Cookie(**_check_fields(fields, _COOKIE_FIELDS, source, index,
                                                  name, "cookie")))
        except RegistryError as problem:
            cookie_problems.append(problem)
            cookies.append(None)
            set_aside.add(index)
    dropped: set[int | None] = set()
    for _, at, found in _cookie_problems(cookies, source, names, set_aside):
        cookie_problems.append(found)
        dropped.add(at)
    for found in _by_entry(cookie_problems):
        problems.add(found)
    valid = [c for i, c in enumerate(cookies) if c is not None and i not in dropped]
    if not problems.found:  # (checked just now: not again)
        return cls._checked(kept, valid, version, source)
    if not any(c.required for c in kept):  # (reported above: summarise the rest)
        kept[0] = replace(kept[0], required=True)
    return cls(kept, valid, version=version, source=source)


_Kind = Literal["category", "required", "cookie"]


def _by_entry(found: Iterable[RegistryError]) -> list[RegistryError]:
    """Cookie problems in file order (a clash between two patterns is found after every
    other entry's problem)."""
    return sorted(found, key=lambda p: -1 if p.index is None else p.index)


def _in_file_order(found: Iterable[tuple[_Kind, int | None, RegistryError]]
                   ) -> list[RegistryError]:
    """:func:`_problems`' problems as :func:`collect_problems` lists them."""
    found = list(found)
    return ([p for kind, _, p in found if kind != "cookie"]
            + _by_entry(p for kind, _, p in found if kind == "cookie"))


def _problems(categories: Sequence[Category], cookies: Sequence[Cookie | None],
              source: str | None) -> Iterator[tuple[_Kind, int | None, RegistryError]]:
    """Each problem of these declarations, with the entry it sets aside, in the order a
    registry is checked: categories, then cookies."""
    names: dict[str, int] = {}
    yield from _category_problems(categories, source, names)
    yield from _cookie_problems(cookies, source, names)


_Error = Callable[..., RegistryError]


def _error_in(source: str | None) -> _Error:
    def error(problem: str, *, index: int | None = None, entry: str | None = None,
              fix: str | None = None) -> RegistryError:
        return RegistryError(problem, source=source, index=index, entry=entry, fix=fix)

    return error


def _category_problems(categories: Sequence[Category], source: str | None,
                       names: dict[str, int]
                       ) -> Iterator[tuple[_Kind, int | None, RegistryError]]:
    """The categories' problems; fills ``names`` (name → index) with the valid ones."""
    error = _error_in(source)
    for index, category in enumerate(categories):
        if not isinstance(category, Category):
            yield "category", index, error(
                f"categories must be Category objects, not {type(category).__name__}.",
                index=index, fix="use Category(name, ...).")
        elif not isinstance(category.name, str) or not _CATEGORY_NAME.fullmatch(category.name):
            yield "category", index, error(
                "a category name must be lower-case letters, digits, '-' or '_'.",
                index=index, entry=category.name,
                fix="rename it, for example 'analytics'; put the display name in 'title'.",
            )
        elif category.name in names:
            yield "category", index, error(
                "the category is declared twice.", index=index, entry=category.name,
                fix="remove one of the declarations.")
        else:
            names[category.name] = index
    if not any(categories[i].required for i in names.values()):
        yield "required", None, error(
            "no category is required.",
            fix="mark the category of the cookies the site cannot work without with "
            "required = true (usually 'essential').",
        )


def _cookie_problems(cookies: Sequence[Cookie | None], source: str | None,
                     names: Mapping[str, int], set_aside: Collection[int] = ()
                     ) -> Iterator[tuple[_Kind, int | None, RegistryError]]:
    """The cookies' problems against the valid category ``names``; those at
    ``set_aside`` indices are skipped (their problems are known already)."""
    error = _error_in(source)
    seen: dict[tuple[str, str], int] = {}
    valid: list[int] = []
    for index, cookie in enumerate(cookies):
        if index in set_aside:
            continue
        if not isinstance(cookie, Cookie):
            yield "cookie", index, error(
                f"cookies must be Cookie objects, not {type(cookie).__name__}.",
                index=index, fix="use Cookie(name, category=...).")
            continue
        problem = _cookie_problem(index, cookie, names, error)
        if problem is not None:
            yield "cookie", index, problem
            continue
        kind = "cookie" if cookie.storage == "cookie" else "storage"
        key = (kind, cookie.name)
        if key in seen:
            other = cookies[seen[key]]
            assert other is not None
            where = (f"in category {other.category!r}" if other.category != cookie.category
                     else "in the same category")
            yield "cookie", index, error(
                f"the name is already declared by entry #{seen[key]} {where}.",
                index=index, entry=cookie.name,
                fix="declare each name once, in the one category it belongs to.",
            )
            continue
        seen[key] = index
        valid.append(index)
    # Patterns of the same weight (literal characters) in different categories must not
    # overlap: a name matching both would have no clear category.
    by_weight: dict[tuple[str, int], list[int]] = {}
    for index in valid:
        cookie = cast(Cookie, cookies[index])
        if cookie.is_pattern:
            kind = "cookie" if cookie.storage == "cookie" else "storage"
            by_weight.setdefault((kind, cookie.weight), []).append(index)
    for group in by_weight.values():
        clashing: set[int] = set()
        for i, first in enumerate(group):
            if first in clashing:
                continue
            a = cast(Cookie, cookies[first])
            for second in group[i + 1:]:
                b = cast(Cookie, cookies[second])
                if (second not in clashing and a.category != b.category
                        and patterns_overlap(a.name, b.name)):
                    clashing.add(second)
                    yield "cookie", second, error(
                        f"the pattern overlaps {a.name!r} (entry #{first}, category "
                        f"{a.category!r}) with the same weight, so a name matching both "
                        "has no clear category.",
                        index=second, entry=b.name,
                        fix="make one pattern more specific (more literal characters), "
                        "or declare the overlapping names exactly.",
                    )


def _cookie_problem(index: int, cookie: Cookie, categories: Mapping[str, int],
                    error: _Error) -> RegistryError | None:
    """What is wrong with one cookie declaration on its own, if anything."""
    name = cookie.name
    if cookie.storage not in STORAGES:
        return error(
            f"storage must be one of {', '.join(STORAGES)}, not {cookie.storage!r}.",
            index=index, entry=name, fix="write storage = \"cookie\" (or leave it out).",
        )
    if cookie.storage == "cookie":
        if not isinstance(name, str) or not is_token(name):
            return error(
                "this is not a valid cookie name (RFC 6265 token: letters, digits and "
                "!#$%&'*+-.^_`|~; no spaces, '=', ';', ',' or quotes).",
                index=index, entry=name,
                fix="use the exact name the Set-Cookie header carries, with '*' for a "
                "varying part.",
            )
    elif not isinstance(name, str) or not name or _CONTROL.search(name):
        return error(
            "a storage key must be a non-empty string without control characters.",
            index=index, entry=name, fix="use the key exactly as the script stores it.",
        )
    if name.strip("*") == "":
        return error(
            "a name made only of '*' would match every cookie.",
            index=index, entry=name,
            fix="use unknown='allow' to let undeclared cookies through instead.",
        )
    if not isinstance(cookie.category, str) or cookie.category not in categories:
        known = ", ".join(sorted(categories))
        return error(
            f"unknown category {cookie.category!r}.",
            index=index, entry=name,
            fix=f"use one of: {known}; or declare [categories.{cookie.category}].",
        )
    for attribute in ("purpose", "duration", "provider", "path"):
        if not isinstance(getattr(cookie, attribute), str):
            return error(f"'{attribute}' must be a string.", index=index, entry=name,
                         fix=f'write {attribute} = "...".')
    if not cookie.path.startswith("/") or _CONTROL.search(cookie.path) or ";" in cookie.path:
        return error("'path' must start with '/' and hold no ';' or control "
                     "character.", index=index, entry=name,
                     fix='write path = "/" or the path the cookie is set with.')
    if (cookie.storage == "cookie" and name[:7].lower() == "__host-"
            and (cookie.path != "/" or cookie.domain is not None)):
        # A browser only stores a __Host- cookie with Path=/ and no Domain (RFC 6265bis
        # §4.1.3.2), and a deletion must name the same path to reach it.
        return error("a __Host- cookie always has path \"/\" and no domain.",
                     index=index, entry=name,
                     fix='remove domain and write path = "/" (or leave it out).')
    if cookie.domain is not None and (
        not isinstance(cookie.domain, str)
        or not re.fullmatch(r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", cookie.domain)
    ):
        return error("'domain' must be a host name such as '.example.com'.",
                     index=index, entry=name,
                     fix="write the Domain attribute the cookie is set with.")
    return None


_CATEGORY_FIELDS = {"required": bool, "description": str, "title": str, "consent_mode": list}
_COOKIE_FIELDS = {
    "name": str, "category": str, "purpose": str, "duration": str, "provider": str,
    "storage": str, "domain": str, "path": str, "third_party": bool,
}


def _check_fields(
    fields: Any, allowed: Mapping[str, type], source: str | None, index: int, name: str, what: str
) -> dict[str, Any]:
    if not isinstance(fields, Mapping):
        raise RegistryError(f"the {what} must be a table/object.", source=source, index=index,
                            entry=name, fix=f"write its fields under the {what} entry.")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        expected = allowed.get(key)
        if expected is None:
            raise RegistryError(
                f"unknown field {key!r}.", source=source, index=index, entry=name,
                fix=f"a {what} may have: {', '.join(sorted(allowed))}.",
            )
        if not isinstance(value, expected):
            raise RegistryError(
                f"field {key!r} must be a {_TYPE_WORDS[expected]}, not {type(value).__name__}.",
                source=source, index=index, entry=name,
                fix=f"write {key} = {_TYPE_EXAMPLES[expected]}.",
            )
        if expected is list:
            value = tuple(cast(list[Any], value))
            if not all(isinstance(item, str) for item in value):
                raise RegistryError(
                    f"field {key!r} must be a list of strings.", source=source, index=index,
                    entry=name, fix=f"write {key} = {_TYPE_EXAMPLES[list]}.",
                )
        out[key] = value
    if what == "cookie" and "category" not in out:
        raise RegistryError("the entry has no category.", source=source, index=index, entry=name,
                            fix='add category = "essential" (or the category it belongs to).')
    if what == "cookie" and out.get("storage", "cookie") not in STORAGES:
        raise RegistryError(
            f"storage must be one of {', '.join(STORAGES)}, not {out['storage']!r}.",
            source=source, index=index, entry=name,
            fix='write storage = "cookie", "localStorage" or "sessionStorage".',
        )
    return out


_TYPE_WORDS = {bool: "boolean", str: "string", list: "list"}
_TYPE_EXAMPLES = {bool: "true", str: '"..."', list: '["..."]'}


def _non_default(obj: Category | Cookie, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in type(obj).__dataclass_fields__.items():
        if name == "_" or name in skip:
            continue
        value = getattr(obj, name)
        if spec.default is not MISSING and value == spec.default:
            continue
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
