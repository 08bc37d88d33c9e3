"""Validating a registry's declarations: every problem, each a
:class:`~consentguard.RegistryError` naming the entry and the fix.

Used both ways: building a registry raises the first problem; ``consentguard check``
lists them all (:func:`consentguard.registry.collect_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast

from ._declarations import STORAGES, Category, Cookie
from ._patterns import patterns_overlap
from .exceptions import RegistryError

__all__ = ["CONTROL", "SURROGATE", "Enough", "Problems", "declarations", "in_file_order",
           "is_token", "problems"]

# RFC 6265 token characters (the cookie-name grammar); ``*`` is one of them and is our wildcard.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CATEGORY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
#: Control characters: never in a storage key or a path (nor a redirect target).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: A lone surrogate (JSON's ``"\ud800"``) is not text: no encoding can write it, so a
#: consent cookie signed with it, or a page showing it, would fail.
SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_FIX = "write the character itself, or both halves of its \\u escape pair."


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 6265 token: what a declared cookie name may hold."""
    return _TOKEN.fullmatch(text) is not None


class Enough(Exception):
    """More problems than the collector was asked for."""


class Problems:
    """Where validation puts what it finds, up to a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.found: list[RegistryError] = []

    def add(self, problem: RegistryError) -> None:
        if len(self.found) >= self.limit:
            raise Enough
        self.found.append(problem)


Declarations = tuple[list[Category], list[Cookie], str | None]


def declarations(data: Any, source: str | None, problems: Problems) -> Declarations | None:
    """The valid categories and cookies in the parsed file ``data``, and its version; its
    problems put in ``problems`` (see :func:`consentguard.registry.collect_problems`).

    :returns: ``None`` when the file's shape allows no registry. When there are problems
        and no category is required, the first is taken as required (so that the rest
        can be summarised).
    """
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
    if problems.found and not any(c.required for c in kept):  # (reported: summarise the rest)
        kept[0] = replace(kept[0], required=True)
    return kept, valid, version


_Kind = Literal["version", "category", "required", "cookie"]


def _by_entry(found: Iterable[RegistryError]) -> list[RegistryError]:
    """Cookie problems in file order (a clash between two patterns is found after every
    other entry's problem)."""
    return sorted(found, key=lambda p: -1 if p.index is None else p.index)


def in_file_order(found: Iterable[tuple[_Kind, int | None, RegistryError]]
                   ) -> list[RegistryError]:
    """:func:`problems` as :func:`~consentguard.registry.collect_problems` lists them."""
    found = list(found)
    return ([p for kind, _, p in found if kind != "cookie"]
            + _by_entry(p for kind, _, p in found if kind == "cookie"))


def problems(categories: Sequence[Category], cookies: Sequence[Cookie | None],
              source: str | None, version: object = None
              ) -> Iterator[tuple[_Kind, int | None, RegistryError]]:
    """Each problem of these declarations (built in code: their fields' types are checked
    as a file's are), with the entry it sets aside, in the order a registry is checked:
    the version, categories, then cookies."""
    if version is not None and not isinstance(version, str):
        yield "version", None, RegistryError(
            f"'version' must be a string, not {type(version).__name__}.", source=source,
            fix='write version="2026-04-20".')
    elif version is not None and SURROGATE.search(version):
        yield "version", None, RegistryError(
            "'version' holds a lone surrogate, which is not text.", source=source,
            fix=_SURROGATE_FIX)
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
        elif (found := _field_problem(category, _CATEGORY_TYPES)) is not None:
            yield "category", index, error(found[0], index=index, entry=category.name,
                                           fix=found[1])
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
    elif not isinstance(name, str) or not name or CONTROL.search(name):
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
    found = _field_problem(cookie, _COOKIE_TYPES)
    if found is not None:
        return error(found[0], index=index, entry=name, fix=found[1])
    if not cookie.path.startswith("/") or CONTROL.search(cookie.path) or ";" in cookie.path:
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


# The fields' types in code; None: the field may be None (a file leaves it out).
_CATEGORY_TYPES: dict[str, tuple[type, ...]] = {
    "required": (bool,), "description": (str,), "title": (str,), "consent_mode": (tuple,)}
_COOKIE_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "purpose": (str,), "duration": (str,), "provider": (str,),
    "domain": (str, type(None)), "third_party": (bool, type(None))}


def _field_problem(entry: Category | Cookie, types: Mapping[str, tuple[type, ...]]
                   ) -> tuple[str, str] | None:
    """(problem, fix) for a field of an entry built in code that a file could not hold: a
    value of another type, or a lone surrogate."""
    for field, allowed in types.items():
        value = getattr(entry, field)
        if not isinstance(value, allowed):
            return (f"'{field}' must be a {_TYPE_WORDS[allowed[0]]}, not "
                    f"{type(value).__name__}.", f"write {field}={_CODE_EXAMPLES[allowed[0]]}.")
        texts = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and not all(isinstance(text, str) for text in value):
            return (f"'{field}' must hold strings, not {value!r:.60}.",
                    f"write {field}={_CODE_EXAMPLES[tuple]}.")
        if any(isinstance(text, str) and SURROGATE.search(text) for text in texts):
            return f"'{field}' holds a lone surrogate, which is not text.", _SURROGATE_FIX
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


_TYPE_WORDS = {bool: "boolean", str: "string", list: "list", tuple: "tuple of strings"}
_CODE_EXAMPLES = {bool: "True", str: '"..."', tuple: '("analytics_storage",)'}
_TYPE_EXAMPLES = {bool: "true", str: '"..."', list: '["..."]'}
