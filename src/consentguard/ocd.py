"""``consentguard import-ocd``: registry entries from the Open Cookie Database CSV.

The Open Cookie Database (github.com/jkwakman/Open-Cookie-Database, Apache-2.0) lists
cookies of common platforms with a category, a description and a retention period. You
download the CSV; :func:`read_ocd` reads it, :func:`convert` turns each row into a
:class:`~consentguard.Cookie` and :func:`registry_toml` writes a registry file in our
schema that you review, trim and commit.

Conversion rules:

* OCD categories map to ours: ``Functional`` (OCD's word for strictly necessary),
  ``Necessary`` and ``Security`` → ``essential``; ``Personalization`` → ``functional``;
  ``Analytics`` → ``analytics``; ``Marketing`` → ``marketing``.
* A row with ``Wildcard match`` = 1 stores only the name's prefix: it becomes ``prefix*``.
* ``Description`` → ``purpose``, ``Retention period`` → ``duration``, ``Platform`` →
  ``provider``; the ID, data controller, domain and privacy portal go in a comment.
* Nothing is merged silently: a second row for the same name is reported and left out
  (the registry declares each name once), names that differ only in case are reported
  and both kept (browsers treat them as different cookies), and rows whose name is not a
  valid cookie name are reported and left out, with the reason.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from .exceptions import ConsentGuardError
from .registry import Category, Cookie, Registry, is_token, name_matches

__all__ = [
    "CATEGORY_MAP",
    "COLUMNS",
    "ImportNote",
    "ImportResult",
    "OcdError",
    "OcdRow",
    "convert",
    "read_ocd",
    "registry_toml",
    "seen_names",
    "toml_string",
]

#: The columns of the Open Cookie Database CSV, in its order.
COLUMNS = (
    "ID", "Platform", "Category", "Cookie / Data Key name", "Domain", "Description",
    "Retention period", "Data Controller", "User Privacy & GDPR Rights Portals",
    "Wildcard match",
)
_REQUIRED_COLUMNS = ("Category", "Cookie / Data Key name")

#: OCD category (lower case) → consentguard category.
CATEGORY_MAP: Mapping[str, str] = {
    "functional": "essential",  # OCD: "technical / strictly necessary"
    "necessary": "essential",
    "security": "essential",
    "personalization": "functional",
    "analytics": "analytics",
    "marketing": "marketing",
}

_CATEGORIES = (
    Category("essential", required=True,
             description="Needed for the site to work; always active."),
    Category("functional", description="Remember your choices and preferences."),
    Category("analytics", description="Help us understand how the site is used."),
    Category("marketing", description="Advertising and tracking across sites."),
)

_CHAR_NAMES = {" ": "space", "\t": "tab", "\xad": "soft hyphen", "\xa0": "no-break space"}

NoteKind = Literal["skipped", "duplicate", "case-variant", "wildcard", "trimmed", "unmatched"]


class OcdError(ConsentGuardError):
    """The CSV (or the audit report) cannot be used; the message says why."""


@dataclass(frozen=True)
class OcdRow:
    """One row of the CSV, with the line it starts on."""

    line: int
    id: str
    platform: str
    category: str
    name: str
    domain: str
    description: str
    retention: str
    controller: str
    portal: str
    wildcard: bool


@dataclass(frozen=True)
class ImportNote:
    """Something the import did not take as is; printed on standard error.

    :param kind: ``skipped`` (row left out), ``duplicate`` (left out: the name is
        declared by an earlier row), ``case-variant`` (kept; another row differs only
        in case), ``wildcard`` (a ``*`` in the name read as a pattern), ``trimmed``
        (spaces around the name removed), ``unmatched`` (a cookie the audit saw that no
        row covers).
    """

    kind: NoteKind
    line: int | None
    name: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.kind}: {self.name!r}: {self.message}"


@dataclass(frozen=True)
class ImportResult:
    """What :func:`convert` produced: the kept rows with their entries, and the notes."""

    rows: int
    entries: tuple[tuple[OcdRow, Cookie], ...]
    notes: tuple[ImportNote, ...]
    seen: int | None = None  #: how many cookie names ``only_seen`` held, if given

    @property
    def registry(self) -> Registry:
        """The entries as a registry (every category that has an entry, plus essential)."""
        used = {cookie.category for _, cookie in self.entries}
        return Registry([c for c in _CATEGORIES if c.required or c.name in used],
                        [cookie for _, cookie in self.entries])

    def count(self, kind: NoteKind) -> int:
        """How many notes of ``kind``."""
        return sum(1 for n in self.notes if n.kind == kind)


def read_ocd(stream: TextIO) -> list[OcdRow]:
    """Read the Open Cookie Database CSV from an open text stream.

    :raises OcdError: when a required column (Category, Cookie / Data Key name) is missing.
    """
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise OcdError(
            f"not an Open Cookie Database CSV: no {' or '.join(repr(c) for c in missing)} "
            f"column (found: {', '.join(header) or 'nothing'}). Fix: use the CSV from "
            "github.com/jkwakman/Open-Cookie-Database, whose header is: " + ",".join(COLUMNS))
    rows = []
    start = 2  # line 1 is the header
    for raw in reader:
        def get(column: str, raw: dict[str | Any, str | Any] = raw) -> str:
            value = raw.get(column)
            return value if isinstance(value, str) else ""

        rows.append(OcdRow(
            line=start, id=get("ID").strip(), platform=get("Platform").strip(),
            category=get("Category").strip(), name=get("Cookie / Data Key name"),
            domain=get("Domain").strip(), description=get("Description").strip(),
            retention=get("Retention period").strip(), controller=get("Data Controller").strip(),
            portal=get("User Privacy & GDPR Rights Portals").strip(),
            wildcard=get("Wildcard match").strip().lower() in ("1", "true", "yes"),
        ))
        start = reader.line_num + 1
    return rows


def _describe(chars: Iterable[str]) -> str:
    shown = []
    for ch in sorted(set(chars)):
        labels = [f"U+{ord(ch):04X}"] if ord(ch) < 0x20 or ord(ch) > 0x7E else []
        if ch in _CHAR_NAMES:
            labels.append(_CHAR_NAMES[ch])
        shown.append(f"{ch!r} ({', '.join(labels)})" if labels else repr(ch))
    return ", ".join(shown)


def convert(rows: Sequence[OcdRow], *, only_seen: Iterable[str] | None = None) -> ImportResult:
    """Turn OCD rows into registry entries (see the module docstring for the rules).

    :param only_seen: keep only rows whose name (or pattern) matches one of these cookie
        names, such as the names a ``consentguard audit`` saw.
    """
    all_notes: list[ImportNote] = []
    seen = None if only_seen is None else sorted(set(only_seen))
    candidates: list[tuple[OcdRow, Cookie]] = []
    for row in rows:
        name = row.name.strip(" \t")
        # With only_seen, the notes about rows no seen cookie matches are noise: drop them.
        pattern = name + "*" if row.wildcard and not name.endswith("*") else name
        relevant = seen is None or any(name_matches(pattern, s) for s in seen)
        notes: list[ImportNote] = all_notes if relevant else []
        if not name:
            notes.append(ImportNote("skipped", row.line, row.name, "the name is empty."))
            continue
        if name != row.name:
            notes.append(ImportNote("trimmed", row.line, name,
                                    "spaces or tabs around the name removed (browsers trim them)."))
        bad = [ch for ch in name if not is_token(ch)]  # the registry's name grammar
        if bad:
            notes.append(ImportNote("skipped", row.line, name, (
                f"not a valid cookie name: it contains {_describe(bad)}, which a cookie "
                "name cannot hold (RFC 6265 token). If it is a localStorage or "
                "sessionStorage key, declare it by hand with storage = \"localStorage\".")))
            continue
        if "*" in name and not row.wildcard:
            notes.append(ImportNote("wildcard", row.line, name, (
                "the name holds '*', which consentguard reads as a wildcard (any run of "
                "characters); kept as a pattern.")))
        if row.wildcard and not name.endswith("*"):
            name += "*"
        if not name.strip("*"):
            notes.append(ImportNote("skipped", row.line, name,
                                    "a pattern with no literal part would match every cookie."))
            continue
        category = CATEGORY_MAP.get(row.category.lower())
        if category is None:
            notes.append(ImportNote("skipped", row.line, name, (
                f"unknown OCD category {row.category!r}; known: "
                f"{', '.join(k.capitalize() for k in CATEGORY_MAP)}. Declare it by hand.")))
            continue
        candidates.append((row, Cookie(
            name, category=category, purpose=row.description, duration=row.retention,
            provider=row.platform)))

    notes = all_notes
    if seen is not None:
        kept = [(row, c) for row, c in candidates if any(c.matches(n) for n in seen)]
        for name in seen:
            if not any(c.matches(name) for _, c in kept):
                notes.append(ImportNote("unmatched", None, name, (
                    "the audit saw this cookie, but no OCD row covers it: declare it by "
                    "hand.")))
        candidates = kept

    entries: list[tuple[OcdRow, Cookie]] = []
    first: dict[str, tuple[OcdRow, Cookie]] = {}
    by_lower: dict[str, tuple[OcdRow, Cookie]] = {}
    for row, cookie in candidates:
        earlier = first.get(cookie.name)
        if earlier is not None:
            where = (f"{cookie.category!r} here, {earlier[1].category!r} there"
                     if cookie.category != earlier[1].category else
                     f"both {cookie.category!r}")
            notes.append(ImportNote("duplicate", row.line, cookie.name, (
                f"also on line {earlier[0].line} ({earlier[0].platform or 'no platform'}; "
                f"{where}); kept line {earlier[0].line} only. Fix: check which one your "
                "site sets and edit the output.")))
            continue
        variant = by_lower.get(cookie.name.lower())
        if variant is not None:
            notes.append(ImportNote("case-variant", row.line, cookie.name, (
                f"differs only in case from {variant[1].name!r} (line {variant[0].line}); "
                "browsers treat them as two cookies, so both are kept. Fix: remove the "
                "one your site does not set.")))
        first[cookie.name] = (row, cookie)
        by_lower.setdefault(cookie.name.lower(), (row, cookie))
        entries.append((row, cookie))
    notes.sort(key=lambda n: (n.line is None, n.line or 0))
    return ImportResult(rows=len(rows), entries=tuple(entries), notes=tuple(notes),
                        seen=None if seen is None else len(seen))


def seen_names(report: Any) -> set[str]:
    """The cookie names in a ``consentguard audit --format json`` report.

    :raises OcdError: when ``report`` is not such a report.
    """
    cookies = report.get("cookies") if isinstance(report, dict) else None
    if not isinstance(cookies, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) for c in cookies):
        raise OcdError("not a consentguard audit report: expected the JSON that "
                       "`consentguard audit APP --format json` writes (a 'cookies' list).")
    return {c["name"] for c in cookies}


# -- TOML -------------------------------------------------------------------------------------

_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\b"): "\\b", ord("\t"): "\\t",
            ord("\n"): "\\n", ord("\f"): "\\f", ord("\r"): "\\r"}
for _code in (*range(0x20), 0x7F):
    _ESCAPES.setdefault(_code, f"\\u{_code:04X}")
for _code in range(0xD800, 0xE000):  # lone surrogates: not text, and not encodable in UTF-8
    _ESCAPES[_code] = "\\uFFFD"
del _code
_COMMENT_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]+")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quoted, with ``"``, ``\\`` and control characters
    escaped (a lone surrogate, which UTF-8 cannot hold, becomes U+FFFD)."""
    return '"' + text.translate(_ESCAPES) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")  # pragma: no cover


def _comment(text: str) -> str:
    return "# " + _COMMENT_UNSAFE.sub(" ", text).strip()


def registry_toml(registry: Registry, *, header: Sequence[str] = (),
                  comments: Mapping[int, str] | None = None) -> str:
    """The registry as a TOML file in our schema (``Registry.loads`` reads it back equal).

    :param header: comment lines for the top of the file.
    :param comments: cookie index → a comment line written above that ``[[cookies]]``.
    """
    data = registry.to_dict()
    lines = [_comment(line) for line in header]
    if lines:
        lines.append("")
    if "version" in data:
        lines += [f"version = {toml_string(data['version'])}", ""]
    for name, fields in data["categories"].items():
        lines.append(f"[categories.{name}]")  # category names are bare keys by rule
        lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
        lines.append("")
    for index, fields in enumerate(data["cookies"]):
        lines.append("[[cookies]]")
        if comments and index in comments:
            lines.append(_comment(comments[index]))
        lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
        lines.append("")
    return "\n".join(lines)


def import_toml(result: ImportResult, *, source: str = "the Open Cookie Database CSV") -> str:
    """The TOML registry for an :class:`ImportResult`, with a comment per entry."""
    registry = result.registry
    comments = {}
    for index, (row, _) in enumerate(result.entries):
        parts = [f"OCD line {row.line}"]
        parts += [f"{label}: {value}" for label, value in (
            ("id", row.id), ("controller", row.controller), ("domain", row.domain),
            ("privacy", row.portal)) if value]
        comments[index] = " · ".join(parts)
    header = (
        f"Generated by `consentguard import-ocd` from {source}",
        "(Open Cookie Database, github.com/jkwakman/Open-Cookie-Database, Apache-2.0).",
        "Review it: keep only the cookies your site sets, check each category and duration,",
        "then run `consentguard check` on it.",
        "OCD 'Functional' (strictly necessary) is our 'essential'.",
    )
    return registry_toml(registry, header=header, comments=comments)


def iter_notes(result: ImportResult) -> Iterator[str]:
    """The notes as lines for standard error, then a one-line summary."""
    for note in result.notes:
        yield str(note)
    per_category: dict[str, int] = {}
    for _, cookie in result.entries:
        per_category[cookie.category] = per_category.get(cookie.category, 0) + 1
    counts = ", ".join(f"{name} {count}" for name, count in per_category.items())
    kept = "" if result.seen is None else f" matching the {result.seen} cookie(s) the audit saw"
    yield (f"{len(result.entries)} entries ({counts or 'none'}) from {result.rows} rows{kept}; "
           f"{result.count('skipped')} skipped, {result.count('duplicate')} duplicate(s) left "
           f"out, {result.count('case-variant')} case variant(s) kept")
