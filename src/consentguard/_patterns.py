"""Cookie-name patterns, where ``*`` matches any run of characters: matching a name,
finding the entry that governs it, and telling whether two patterns share a name.

Everything here is linear in the length of the name or patterns: names come from request
headers, and patterns from registry files that may be hostile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["Matcher", "name_matches", "patterns_overlap", "weight"]

T = TypeVar("T")

def weight(pattern: str) -> int:
    """The number of literal characters in ``pattern``: the heavier pattern wins."""
    return len(pattern) - pattern.count("*")


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


class Matcher(Generic[T]):
    """The entry that governs a name, among ``(name or pattern, entry)`` pairs.

    An exact name wins; among patterns the heaviest (:func:`weight`), the first declared
    among equals. Nothing is remembered between calls: the guard's hot path keeps its own
    memo of what each name is (:meth:`consentguard.ConsentGuard.verdict`).
    """

    __slots__ = ("_exact", "_globs", "_regex", "_regex_entries", "_regex_ranks")

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        self._exact: dict[str, T] = {}
        patterns: list[tuple[str, T]] = []
        for name, entry in entries:
            if "*" in name:
                patterns.append((name, entry))
            else:
                self._exact[name] = entry
        # Heaviest first (stable: declaration order among equals); the alternation tries
        # alternatives in order, so the first group that matches is the winner.
        patterns.sort(key=lambda p: -weight(p[0]))
        # Patterns with one '*' go into one regex: each alternative matches in linear
        # time. Those with several would backtrack polynomially on a long hostile name,
        # so they are matched by _glob_match, keeping their rank in the order above.
        simple = [(rank, p) for rank, p in enumerate(patterns) if p[0].count("*") == 1]
        self._regex_entries = tuple(entry for _, (_, entry) in simple)
        self._regex_ranks = tuple(rank for rank, _ in simple)
        self._regex = (
            re.compile("|".join(f"({_pattern_source(name)})" for _, (name, _) in simple),
                       re.DOTALL)
            if simple else None
        )
        self._globs = tuple((rank, name.split("*"), entry)
                            for rank, (name, entry) in enumerate(patterns)
                            if name.count("*") > 1)

    def match(self, name: str) -> T | None:
        """The entry governing ``name``, or ``None``."""
        found = self._exact.get(name)
        if found is None:
            best = len(self._regex_entries) + len(self._globs)
            if self._regex is not None:
                m = self._regex.fullmatch(name)
                if m is not None and m.lastindex is not None:
                    found = self._regex_entries[m.lastindex - 1]
                    best = self._regex_ranks[m.lastindex - 1]
            for rank, parts, entry in self._globs:
                if rank > best:
                    break
                if _glob_match(parts, name):
                    found = entry
                    break
        return found
