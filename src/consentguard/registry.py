"""Declaring cookies: :class:`Category`, :class:`Cookie` and :class:`Registry`, built in
code or loaded from a TOML/JSON file.

A registry is validated (:mod:`._validation`) and compiled (:mod:`._patterns`) once, when
it is built; matching a cookie name afterwards is a dictionary lookup (exact names) or one
compiled regular expression (``*`` patterns), memoised per name.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import MISSING
from pathlib import Path
from typing import Any, Literal

from ._declarations import STORAGES as STORAGES
from ._declarations import THIRTEEN_MONTHS as THIRTEEN_MONTHS
from ._declarations import Category as Category
from ._declarations import Cookie as Cookie
from ._declarations import Storage as Storage
from ._declarations import parse_duration as parse_duration
from ._patterns import Matcher
from ._patterns import name_matches as name_matches
from ._patterns import patterns_overlap as patterns_overlap
from ._validation import SURROGATE, Enough, Problems, declarations, in_file_order, problems
from ._validation import is_token as is_token
from .exceptions import RegistryError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["STORAGES", "Category", "Cookie", "Registry", "Storage", "collect_problems",
           "is_token", "name_matches", "parse_duration", "patterns_overlap"]


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


def _hostile(data: Any) -> tuple[str, str] | None:
    """The problem and fix of what makes parsed ``data`` unsafe to handle, if anything:
    deep nesting (anything recursive, from ``repr`` to ``json.dumps``, would overflow
    the stack on it) or a lone surrogate (JSON's ``"\\ud800"``), which cannot be encoded and would
    break every consent cookie signed with it."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
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
        "_matcher",
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
        """A registry of declarations validation has just found nothing wrong with: built
        without checking them again (a large registry's clash check is O(n²))."""
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
                fix="use a .toml or .json file with the schema in docs/reference/registry.md.",
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
        """Build a registry from the parsed file structure (the schema in
        docs/reference/registry.md).

        :raises RegistryError: for the first problem
            :func:`~consentguard.registry.collect_problems` lists.
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
        found = in_file_order(problems(self.categories, self.cookies, self.source,
                                       self.version))
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
        self._matcher = Matcher((c.name, c) for c in self.cookies if c.storage == "cookie")

    def match(self, name: str) -> Cookie | None:
        """The declared cookie entry that governs the cookie ``name``, or ``None``.

        Exact names win over patterns; among patterns the one with the most literal
        characters wins. Storage keys are never matched.
        """
        return self._matcher.match(name)

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


# -- every problem (consentguard check) -----------------------------------------------------


def collect_problems(data: Any, *, source: str | None = None, limit: int = 100
                     ) -> tuple[Registry | None, list[RegistryError], bool]:
    """Every problem of a parsed registry file, and a registry of what is valid in it.

    Each entry at fault is set aside (a category whose fields are wrong is kept bare, so
    its cookies are still checked against it), so each problem is reported once, under
    its entry's number in the file. :meth:`~consentguard.Registry.from_dict` raises the first
    problem of this list.

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
    found = Problems(limit)
    try:
        declared = declarations(data, source, found)
    except Enough:
        return None, found.found, True
    if declared is None:
        return None, found.found, False
    categories, cookies, version = declared
    if not found.found:  # (checked just now: not again)
        return cls._checked(categories, cookies, version, source), [], False
    return cls(categories, cookies, version=version, source=source), found.found, False



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
