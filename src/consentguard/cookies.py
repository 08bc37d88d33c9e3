"""Cookie and Set-Cookie header parsing, the way browsers read them, and deletion headers.

Everything here works on ``str`` header values (bytes decode losslessly as latin-1) and
knows nothing of WSGI or ASGI. Filtering must see cookie names exactly as a browser
does, so this follows the parsing algorithms of RFC 6265bis (§5.6 "Storage Model",
§5.7 "The Set-Cookie Header Field" and §5.1.1 "Dates") rather than a value-decoding
parser such as ``http.cookies`` or werkzeug's ``parse_cookie``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable

from werkzeug.http import dump_cookie

__all__ = [
    "cookie_pairs",
    "deletion_header",
    "is_deletion",
    "parse_cookie_date",
    "purge_domains",
    "set_cookie_name",
]

# RFC 6265bis §5.7 step 1: a CTL other than HTAB makes the browser ignore the header.
_FORBIDDEN_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WSP = " \t"
# §5.7: name + value over 4096 octets, or an attribute value over 1024, is ignored.
_MAX_NAME_VALUE = 4096
_MAX_ATTRIBUTE_VALUE = 1024
# An Expires this far in the past counts as a deletion whatever the visitor's clock says;
# a date only just past could still store the cookie on a browser whose clock lags.
_EXPIRES_SKEW = 86400.0


def set_cookie_name(value: str) -> str | None:
    """The name of the cookie a ``Set-Cookie`` header value sets, as a browser reads it.

    Returns ``None`` when a browser ignores the header entirely (a control character,
    name and value both empty, or name plus value over 4096 octets). A header without
    ``=`` sets a cookie with an *empty* name (RFC 6265bis §5.7 step 3).
    """
    if _FORBIDDEN_CTL.search(value):
        return None
    pair = value.split(";", 1)[0]
    name, eq, rest = pair.partition("=")
    if not eq:
        name, rest = "", pair
    name = name.strip(_WSP)
    rest = rest.strip(_WSP)
    if not name and not rest:
        return None
    if len(name.encode("latin-1", "replace")) + len(rest.encode("latin-1", "replace")) > (
        _MAX_NAME_VALUE
    ):
        return None
    return name


def _attributes(value: str) -> Iterable[tuple[str, str]]:
    """The (lower-case name, value) attribute pairs of a Set-Cookie value, in order."""
    _, _, unparsed = value.partition(";")
    if not unparsed:
        return
    for av in unparsed.split(";"):
        name, _, attribute_value = av.partition("=")
        attribute_value = attribute_value.strip(_WSP)
        if len(attribute_value) > _MAX_ATTRIBUTE_VALUE:
            continue  # §5.7: the browser ignores the whole attribute
        yield name.strip(_WSP).lower(), attribute_value


_MAX_AGE = re.compile(r"-?[0-9]+")


def _max_age(text: str) -> int | None:
    # §5.6.2: first char DIGIT or "-", the rest DIGITs, else the attribute is ignored.
    return int(text) if _MAX_AGE.fullmatch(text) else None


def is_deletion(value: str, now: float) -> bool:
    """Whether a ``Set-Cookie`` value can only delete a cookie, never store one.

    True when the last valid ``Max-Age`` is ≤ 0, or, without a valid ``Max-Age``, the
    last valid ``Expires`` lies more than a day before ``now`` (Unix seconds). Such
    headers always pass: they can only remove what the browser holds.
    """
    max_age: int | None = None
    expires: float | None = None
    for name, attribute_value in _attributes(value):
        if name == "max-age":
            parsed = _max_age(attribute_value)
            if parsed is not None:
                max_age = parsed
        elif name == "expires":
            date = parse_cookie_date(attribute_value)
            if date is not None:
                expires = date
    if max_age is not None:  # §5.6.2: Max-Age takes precedence over Expires
        return max_age <= 0
    return expires is not None and expires < now - _EXPIRES_SKEW


_DELIMITER = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?", re.ASCII | re.DOTALL)
_DAY = re.compile(r"(\d{1,2})(?:\D.*)?", re.ASCII | re.DOTALL)
_YEAR = re.compile(r"(\d{2,4})(?:\D.*)?", re.ASCII | re.DOTALL)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def parse_cookie_date(text: str) -> float | None:
    """Parse a cookie date with the RFC 6265bis §5.1.1 algorithm; Unix seconds or ``None``."""
    time_found = day = month = year = None
    for token in _DELIMITER.split(text):
        if not token:
            continue
        if time_found is None and (m := _TIME.fullmatch(token)):
            time_found = (int(m[1]), int(m[2]), int(m[3]))
        elif day is None and (m := _DAY.fullmatch(token)):
            day = int(m[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS[token[:3].lower()]
        elif year is None and (m := _YEAR.fullmatch(token)):
            year = int(m[1])
    if time_found is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time_found
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None  # "the date does not exist" (30 February)
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def cookie_pairs(header: str) -> list[tuple[str, str]]:
    """Split a request ``Cookie`` header into ``(name, pair)`` in order, duplicates kept.

    ``pair`` is the text as sent (surrounding whitespace trimmed), so kept cookies can be
    passed on verbatim. A pair without ``=`` is a nameless cookie: its name is ``""``.
    """
    out = []
    for piece in header.split(";"):
        pair = piece.strip(_WSP)
        if not pair:
            continue
        name, eq, _ = pair.partition("=")
        out.append((name.strip(_WSP) if eq else "", pair))
    return out


_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")
_MAX_PARENT_DOMAINS = 4


def purge_domains(host: str, declared: str | None = None) -> tuple[str | None, ...]:
    """The ``Domain`` attributes under which a cookie may live, for a request ``host``.

    ``None`` stands for the host-only cookie (no ``Domain`` attribute). Then the
    declared domain, the host itself and its parent domains down to two labels
    (``www.shop.example.com`` → ``shop.example.com``, ``example.com``). IP addresses,
    single-label hosts and malformed Host headers get the host-only deletion only.
    """
    out: list[str | None] = [None]
    if declared:
        out.append(declared.lstrip(".").lower())
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower().rstrip(".")
    labels = name.split(".")
    if _HOST.fullmatch(name) and len(labels) >= 2 and not labels[-1].isdigit():
        for i in range(min(len(labels) - 1, _MAX_PARENT_DOMAINS)):
            domain = ".".join(labels[i:])
            if domain not in out:
                out.append(domain)
    return tuple(out)


def deletion_header(name: str, *, path: str = "/", domain: str | None = None) -> str:
    """A ``Set-Cookie`` value that deletes ``name`` at ``path`` (and ``domain``)."""
    # __Host- and __Secure- cookies are only accepted (and so only replaced) with Secure.
    secure = name.startswith(("__Host-", "__Secure-"))
    return dump_cookie(
        name, "", max_age=0, expires=0, sync_expires=False, path=path, domain=domain, secure=secure
    )
