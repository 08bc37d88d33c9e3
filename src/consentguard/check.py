"""``consentguard check``: validate a registry file, list every problem, warn on risky entries.

:func:`check_file` loads a ``.toml`` or ``.json`` registry. When it is invalid, the entries
at fault are set aside so that *every* problem is reported (each a
:class:`~consentguard.RegistryError` naming the file, the entry and the fix), not only
the first (:func:`consentguard.registry.collect_problems`). :func:`lint` gives the
warnings for a valid registry: overlapping patterns, very broad patterns, categories with
no cookies, entries with no duration, and non-essential durations longer than 13 months.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import RegistryError
from .registry import THIRTEEN_MONTHS, Cookie, Registry, collect_problems, patterns_overlap

__all__ = ["MAX_PROBLEMS", "CheckResult", "LintWarning", "check_file", "lint", "summary"]

#: Stop collecting problems after this many (a file that wrong needs fixing in bulk).
MAX_PROBLEMS = 100
#: A pattern with this many literal characters or fewer matches almost any name.
BROAD_LITERAL = 2


@dataclass(frozen=True)
class LintWarning:
    """Something legal but probably not meant.

    :param code: stable identifier: ``overlapping-patterns``, ``shadowed-name``,
        ``broad-pattern``, ``empty-category``, ``no-duration``, ``long-duration``.
    :param entry: the cookie or category name concerned.
    :param message: what is risky and how to fix it.
    :param index: the cookie's position in the file, when the warning is about a cookie.
    """

    code: str
    entry: str
    message: str
    index: int | None = None

    def __str__(self) -> str:
        where = f"entry #{self.index} {self.entry!r}" if self.index is not None else (
            repr(self.entry))
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The warning as a JSON-ready dict."""
        return {"code": self.code, "entry": self.entry, "index": self.index,
                "message": self.message}


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check_file` found.

    :param source: the file checked.
    :param registry: the registry built from every valid entry (``None`` when the file
        cannot be read or parsed, or no category is usable).
    :param problems: every error: the file's shape and the categories' first, then the
        cookies' in file order (see :func:`consentguard.registry.collect_problems`).
    :param warnings: the lint warnings of :attr:`registry`.
    :param truncated: more than :data:`MAX_PROBLEMS` problems; the rest were not listed.
    """

    source: str
    registry: Registry | None
    problems: tuple[RegistryError, ...] = ()
    warnings: tuple[LintWarning, ...] = field(default=())
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """Whether the registry is valid (warnings allowed)."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (what ``--format json`` prints)."""
        return {
            "source": self.source,
            "valid": self.ok,
            "summary": summary(self.registry) if self.registry is not None else None,
            "problems": [
                {"message": str(p), "problem": p.problem, "index": p.index, "entry": p.entry,
                 "fix": p.fix} for p in self.problems
            ],
            "truncated": self.truncated,
            "warnings": [w.to_json() for w in self.warnings],
        }


def check_file(path: str | Path) -> CheckResult:
    """Validate the registry file ``path``; every problem and warning in a :class:`CheckResult`."""
    source = str(path)
    try:
        data = Registry.read(path)
    except RegistryError as unreadable:  # not read, or not TOML/JSON: the only problem
        return CheckResult(source, None, (unreadable,))
    registry, problems, truncated = collect_problems(data, source=source, limit=MAX_PROBLEMS)
    warnings = tuple(lint(registry)) if registry is not None else ()
    return CheckResult(source, registry, tuple(problems), warnings, truncated)


# -- warnings ---------------------------------------------------------------------------------


def lint(registry: Registry) -> Iterable[LintWarning]:
    """The warnings for a valid registry, in file order within each kind."""
    index = {id(c): i for i, c in enumerate(registry.cookies)}
    patterns = [c for c in registry.cookies if c.is_pattern]
    # One warning per entry, naming one other and counting the rest: a registry of
    # nested prefixes ('a*', 'aa*', ...) would otherwise warn about every pair.
    for b_pos, b in enumerate(patterns):
        others = [a for a in patterns[:b_pos] if (a.storage == "cookie") == (b.storage == "cookie")
                  and patterns_overlap(a.name, b.name)]
        if not others:
            continue
        # The one named: another category's if any (that is where a name changes hands).
        a = next((a for a in others if a.category != b.category), others[0])
        heavier = a if a.weight >= b.weight else b
        if a.category == b.category:
            message = (f"overlaps {a.name!r} (entry #{index[id(a)]}) in the same "
                       f"category; names matching both are described by {heavier.name!r}. "
                       "Fix: nothing if that is meant (a more precise purpose); "
                       "otherwise drop one of them.")
        else:
            message = (f"overlaps {a.name!r} (entry #{index[id(a)]}, category "
                       f"{a.category!r}); a name matching both is treated as "
                       f"{heavier.category!r} (the pattern {heavier.name!r} has more "
                       "literal characters). Fix: make sure that is meant, or declare "
                       "the names that match both exactly.")
        yield LintWarning("overlapping-patterns", b.name,
                          message + _also(others, a, index, "overlaps"), index[id(b)])
    for cookie in registry.cookies:
        if cookie.is_pattern or cookie.storage != "cookie":
            continue
        shadowing = [p for p in patterns if p.storage == "cookie"
                     and p.category != cookie.category and p.matches(cookie.name)]
        if shadowing:
            pattern = shadowing[0]
            yield LintWarning("shadowed-name", cookie.name, (
                f"also matches the pattern {pattern.name!r} (entry "
                f"#{index[id(pattern)]}, category {pattern.category!r}); the exact name "
                f"wins, so it is {cookie.category!r}. Fix: make sure that is meant."
                + _also(shadowing, pattern, index, "matches")), index[id(cookie)])
    for cookie in patterns:
        if cookie.weight <= BROAD_LITERAL:
            yield LintWarning("broad-pattern", cookie.name, (
                f"the pattern has only {cookie.weight} literal character(s), so it matches "
                "a great many names, including cookies you never meant to declare. Fix: "
                "use a longer prefix, or declare the names exactly."), index[id(cookie)])
    for category in registry.categories:
        if not registry.cookies_in(category.name):
            yield LintWarning("empty-category", category.name, (
                "the category declares no cookies or storage keys; visitors are asked "
                "about it for nothing. Fix: declare its cookies, or remove it."))
    required = registry.required
    for cookie in registry.cookies:
        position = index[id(cookie)]
        if not cookie.duration.strip():
            yield LintWarning("no-duration", cookie.name, (
                "no duration is declared; the policy must tell visitors how long it is "
                'kept. Fix: add duration = "session", "30 days", ...'), position)
            continue
        lifetime = cookie.lifetime
        if (cookie.category not in required and lifetime is not None
                and lifetime > THIRTEEN_MONTHS.total_seconds()):
            shown = ("with no time limit" if math.isinf(lifetime)
                     else f"for {cookie.duration!r}")
            yield LintWarning("long-duration", cookie.name, (
                f"it needs consent ({cookie.category!r}) but is kept {shown}, longer than "
                "the 13 months regulators accept for consent-based trackers (CNIL). Fix: "
                "shorten it to 13 months or less."), position)


def _also(others: list[Cookie], named: Cookie, index: dict[int, int], verb: str) -> str:
    """`` It also <verb> entries #i, #j and N more.`` for the patterns not named."""
    rest = [index[id(c)] for c in others if c is not named]
    if not rest:
        return ""
    shown = ", ".join(f"#{i}" for i in rest[:_SHOWN])
    more = f" and {len(rest) - _SHOWN} more" if len(rest) > _SHOWN else ""
    return f" It also {verb} the pattern(s) of entries {shown}{more}."


#: How many further entries a warning lists by number.
_SHOWN = 5


# -- summary ----------------------------------------------------------------------------------


def summary(registry: Registry) -> dict[str, Any]:
    """Counts per category, patterns and storage keys, as a JSON-ready dict."""
    cookies = [c for c in registry.cookies if c.storage == "cookie"]
    storage = [c for c in registry.cookies if c.storage != "cookie"]
    return {
        "version": registry.version,
        "categories": [
            {"name": c.name, "required": c.required,
             "cookies": sum(1 for k in cookies if k.category == c.name),
             "storage_keys": sum(1 for k in storage if k.category == c.name)}
            for c in registry.categories
        ],
        "cookies": len(cookies),
        "patterns": [c.name for c in cookies if c.is_pattern],
        "storage_keys": [{"name": c.name, "storage": c.storage} for c in storage],
    }


def format_text(result: CheckResult) -> str:
    """The result for people: summary, problems, warnings."""
    lines: list[str] = []
    registry = result.registry
    status = "valid" if result.ok else f"{len(result.problems)} problem(s)"
    lines.append(f"{result.source}: {status}")
    if registry is not None:
        data = summary(registry)
        if registry.version:
            lines.append(f"  version: {registry.version}")
        lines.append(f"  categories: {len(registry.categories)}")
        width = max(len(c.name) for c in registry.categories)
        for category in data["categories"]:
            flag = " (required)" if category["required"] else ""
            lines.append(f"    {category['name']:<{width}}  {category['cookies']:>4} cookie(s), "
                         f"{category['storage_keys']:>3} storage key(s){flag}")
        patterns = data["patterns"]
        lines.append(f"  cookies: {data['cookies']}, of which patterns: {len(patterns)}"
                     + (f" ({_short_list(patterns)})" if patterns else ""))
        keys = [f"{k['name']} [{k['storage']}]" for k in data["storage_keys"]]
        lines.append(f"  storage keys: {len(keys)}" + (f" ({_short_list(keys)})" if keys else ""))
    if result.problems:
        lines.append("")
        lines.append("problems:")
        lines += [f"  - {p}" for p in result.problems]
        if result.truncated:
            lines.append(f"  ... stopped after {MAX_PROBLEMS} problems")
    if result.warnings:
        lines.append("")
        lines.append(f"warnings ({len(result.warnings)}):")
        lines += [f"  - {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _short_list(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... {len(items) - limit} more" if len(items) > limit else "")
