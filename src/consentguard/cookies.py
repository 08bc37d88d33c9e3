"""Cookie and Set-Cookie header parsing, the way browsers read them, and deletion headers.

Everything here works on ``str`` header values (bytes decode losslessly as latin-1) and
knows nothing of WSGI or ASGI. Filtering must see cookie names exactly as a browser
does, so this follows the user-agent algorithms of RFC 6265bis (section numbers of
draft-ietf-httpbis-rfc6265bis-15 and later: §5.1.1 "Dates", §5.6 "The Set-Cookie Header
Field", §5.7 "Storage Model") rather than a value-decoding parser such as
``http.cookies`` or werkzeug's ``parse_cookie``.
"""

from __future__ import annotations

import calendar
import functools
import re

from publicsuffixlist import PublicSuffixList

__all__ = [
    "EARLIEST",
    "cookie_pairs",
    "deletion_expiry",
    "deletion_header",
    "expired",
    "is_deletion",
    "is_holdable_name",
    "lenient_name",
    "parse_cookie_date",
    "plain_date",
    "purge_domains",
    "registrable_domain",
    "set_cookie_name",
    "with_declared_domain",
]

# RFC 6265bis §5.6 step 1: a CTL other than HTAB makes the browser ignore the header.
_FORBIDDEN_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WSP = " \t"
# §5.6: name + value over 4096 octets is ignored.
_MAX_NAME_VALUE = 4096
# An Expires this far in the past counts as a deletion whatever the visitor's clock says;
# a date only just past could still store the cookie on a browser whose clock lags.
_EXPIRES_SKEW = 86400.0


def set_cookie_name(value: str) -> str | None:
    """The name of the cookie a ``Set-Cookie`` header value sets, as a browser reads it.

    Returns ``None`` when a browser ignores the header entirely: a control character
    other than HTAB (§5.6 step 1), name plus value over 4096 octets (§5.6 step 5), name
    and value both empty, or a nameless cookie whose value poses as a ``__Secure-`` or
    ``__Host-`` cookie (§5.7). A header without ``=`` sets a cookie with an *empty*
    name (§5.6 step 3). Nothing is unquoted; only spaces and tabs around the name are
    trimmed (§5.6 step 4).
    """
    if _FORBIDDEN_CTL.search(value):
        return None
    pair = value.split(";", 1)[0]
    name, eq, rest = pair.partition("=")
    if not eq:
        name, rest = "", pair
    name = name.strip(_WSP)
    rest = rest.strip(_WSP)
    if not name and (not rest or rest[:9].lower().startswith(_PREFIXES)):
        # A nameless cookie is sent back as its bare value, so "=__Host-id=1" would reach
        # servers as the cookie "__Host-id" without the prefix's guarantees; browsers
        # refuse it (Chromium crbug.com/1345193, then RFC 6265bis §5.7).
        return None
    # (A character is at most 4 octets: short pairs need no counting.)
    if len(name) + len(rest) > _MAX_NAME_VALUE // 4 and (
        _octets(name) + _octets(rest) > _MAX_NAME_VALUE
    ):
        return None
    return name


# The shape of nearly every Set-Cookie a server sends: a name with no whitespace, control
# character, "=" or ";", then "=" and the rest with no forbidden control character. Its
# group 1 is then what set_cookie_name returns, for a header of at most PLAIN_LENGTH
# characters. The bytes twin reads latin-1 header bytes exactly as the text one reads
# their decoding.
PLAIN_SET_COOKIE = re.compile(r"[ \t]*([^=;\x00-\x20\x7f]+)[ \t]*=[^\x00-\x08\x0a-\x1f\x7f]*")
PLAIN_SET_COOKIE_RAW = re.compile(PLAIN_SET_COOKIE.pattern.encode("ascii"))
# At most this many characters (4 octets each at worst) cannot pass §5.6 step 5's limit.
PLAIN_LENGTH = _MAX_NAME_VALUE // 4


def is_holdable_name(name: str) -> bool:
    """Whether a browser could hold a cookie of this name (no forbidden control character)."""
    return _FORBIDDEN_CTL.search(name) is None


def lenient_name(pair: str) -> str:
    """The name a lenient reader (werkzeug, page scripts) sees in a nameless cookie pair.

    A nameless cookie is sent back as its bare value, so ``"=_ga=1"``, ``" =_ga=1"`` and
    ``"_ga"`` read as the cookie ``_ga``.
    """
    return pair.strip().lstrip("=").partition("=")[0].strip()


# Cookie name prefixes (RFC 6265bis §4.1.3), matched case-insensitively as §5.7 does.
_PREFIXES = ("__secure-", "__host-")


def _octets(text: str) -> int:
    """The length in octets of header text: one per latin-1 character, UTF-8 beyond."""
    try:
        return len(text.encode("latin-1"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


# A Max-Age every browser reads as "≤ 0": Chromium and Firefox both parse this alike.
_DELETING_MAX_AGE = re.compile(r"-?[0-9]{1,18}", re.ASCII)
# An IMF-fixdate (or its hyphenated Netscape twin) with a four-digit year, in GMT: the
# one date form that every browser reads as the same instant.
_PLAIN_DATE = re.compile(
    r"(?:[A-Za-z]{3,9}, ?)?[0-9]{1,2}[ -][A-Za-z]{3}[ -][0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
    re.ASCII)
_LIFETIME_NAMES = ("max-age", "expires")
# Chromium reads the name-value pair and 15 attributes (ParsedCookie::kMaxPairs = 16) and
# ignores the rest: a Max-Age beyond them is not seen.
_MAX_ATTRIBUTES = 15
# "A deletion at any time": every Max-Age of the header says ≤ 0.
EARLIEST = float("-inf")


def deletion_expiry(value: str) -> float | None:
    """When a ``Set-Cookie`` value deletes its cookie in every browser; ``None``: it may
    store one.

    :data:`EARLIEST` when every ``Max-Age`` attribute is an integer ≤ 0 (a deletion at
    any time). Without ``Max-Age``, when every ``Expires`` is a plain GMT date
    (``Thu, 01 Jan 1970 00:00:00 GMT``), the latest of them in Unix seconds: the header
    deletes once that lies in the past (:func:`is_deletion`). Anything else may store a
    cookie, because browsers read it differently: Chromium takes the *last* ``Max-Age``
    whatever its value (``+63072000`` is 400 days; an unparseable one falls back to
    ``Expires``, then to a session cookie), Firefox reads ``0x`` as 0 and an unparseable
    ``Max-Age`` or ``Expires`` as a session cookie. So a lifetime attribute with any other
    value, or whose name only some browser would recognise (whitespace other than spaces
    and tabs around it), or beyond the 15 attributes Chromium reads, is never a deletion.
    """
    lowered = value.lower()
    if "max-age" not in lowered and "expires" not in lowered:
        return None  # a session cookie
    # The usual refused header has a long Max-Age, written plainly: no deletion. A value
    # starting with anything but "-" or "0" is no integer ≤ 0.
    for first in _MAX_AGE_START.findall(lowered):
        if first not in ("-", "0", ""):
            return None
    return _deletion_expiry_slowly(value)


# The first character of each plainly written Max-Age value (in lower-cased text).
_MAX_AGE_START = re.compile(r";[ \t]*max-age[ \t]*=[ \t]*(.?)")


def _deletion_expiry_slowly(value: str) -> float | None:
    """:func:`deletion_expiry`, attribute by attribute."""
    if value.count(";") > _MAX_ATTRIBUTES:
        return None
    _, _, attributes = value.partition(";")
    max_ages: list[str] = []
    expires: list[str] = []
    for av in attributes.split(";"):
        name, _, attribute_value = av.partition("=")
        loose = name.strip().lower()
        if loose not in _LIFETIME_NAMES:
            continue
        if name.strip(_WSP).lower() != loose:
            return None
        (max_ages if loose == "max-age" else expires).append(attribute_value.strip(_WSP))
    return _expiry(max_ages, expires)


def _expiry(max_ages: list[str], expires: list[str]) -> float | None:
    if max_ages:  # Max-Age takes precedence over Expires in every browser
        deleting = all(_DELETING_MAX_AGE.fullmatch(v) and int(v) <= 0 for v in max_ages)
        return EARLIEST if deleting else None
    dates = [plain_date(v) for v in expires]
    if not dates or None in dates:
        return None
    return max(d for d in dates if d is not None)


def plain_date(text: str) -> float | None:
    """A plain GMT date (as in ``Expires`` or ``Date``) in Unix seconds; else ``None``."""
    return parse_cookie_date(text) if _PLAIN_DATE.fullmatch(text) else None


def is_deletion(value: str, now: float) -> bool:
    """Whether a ``Set-Cookie`` value can only delete a cookie, in every browser.

    True when every ``Max-Age`` is an integer ≤ 0, or, without ``Max-Age``, every
    ``Expires`` is a plain date more than a day before ``now`` (Unix seconds; see
    :func:`deletion_expiry`). Such headers always pass: they can only remove what the
    browser holds.
    """
    expiry = deletion_expiry(value)
    return expiry is not None and expired(expiry, now)


def expired(expiry: float, now: float) -> bool:
    """Whether a :func:`deletion_expiry` lies in the past at ``now``, whatever the
    visitor's clock says (a day of skew)."""
    return expiry < now - _EXPIRES_SKEW


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


# A DNS host name: labels of 1-63 letters, digits and hyphens, 253 characters in all.
_HOST = re.compile(r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*")
_HOST_LENGTH = 253
# Domains tried per cookie: the host and its parents. Beyond this, the ones nearest the
# root are kept: trackers set their cookies on the registrable domain.
_MAX_DOMAINS = 4


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List shipped with ``publicsuffixlist`` (read once, ~0.1 s)."""
    return PublicSuffixList()


def registrable_domain(host: str) -> str | None:
    """The registrable domain of a valid lower-case host name (``a.b.example.co.uk`` →
    ``example.co.uk``); ``None`` for a public suffix itself (``co.uk``, ``localhost``)."""
    found: str | None = _public_suffixes().privatesuffix(host)
    return found


def purge_domains(host: str, declared: str | None = None) -> tuple[str | None, ...]:
    """The ``Domain`` attributes under which a cookie may live, for a request ``host``.

    ``None`` stands for the host-only cookie (no ``Domain`` attribute). Then the
    declared domain, the host itself and its parent domains down to the registrable
    domain, by the Public Suffix List (``www.shop.example.com`` → ``shop.example.com``,
    ``example.com``; ``a.b.example.co.uk`` stops at ``example.co.uk``, never ``co.uk``,
    where no browser lets a cookie live); for a deeper host, the host and the three
    domains nearest the registrable one included. IP addresses, public suffixes and
    single-label hosts (``localhost``), and Host headers that are no valid host name (over
    253 characters, a label over 63), get the host-only deletion only: the client chooses
    the Host, so nothing of an invalid one is copied into the response.
    """
    return with_declared_domain(_host_domains(host), declared)


def with_declared_domain(domains: tuple[str | None, ...], declared: str | None
                         ) -> tuple[str | None, ...]:
    """:func:`purge_domains` of a host with a ``declared`` domain, from its answer
    without one: a guard reads the ``Host`` once per request, not once per refused cookie
    (the Public Suffix List lookup is most of the cost)."""
    if not declared:
        return domains
    first = declared.lstrip(".").lower()
    return (None, first, *(d for d in domains[1:] if d != first))


def _host_domains(host: str) -> tuple[str | None, ...]:
    """:func:`purge_domains` with no declared domain."""
    out: list[str | None] = [None]
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower().rstrip(".")
    if (len(name) <= _HOST_LENGTH and _HOST.fullmatch(name)
            and not name.rpartition(".")[2].isdigit()):
        registrable = registrable_domain(name)
        if registrable is not None:
            labels = name.split(".")
            parents = len(labels) - registrable.count(".")  # the host, down to registrable
            domains = [".".join(labels[i:]) for i in range(parents)]
            if len(domains) > _MAX_DOMAINS:
                domains = [domains[0], *domains[1 - _MAX_DOMAINS:]]
            out.extend(d for d in domains if d not in out)
    return tuple(out)


def deletion_header(name: str, *, path: str = "/", domain: str | None = None) -> str:
    """A ``Set-Cookie`` value that deletes ``name`` at ``path`` (and ``domain``).

    ``name`` is written back exactly as the browser sent it (header text is latin-1,
    one character per octet), so the deletion hits the cookie the browser holds; text
    outside latin-1 is written as UTF-8. ``__Host-`` and ``__Secure-`` names (in any
    case) get ``Secure``: without it a browser refuses to replace them.
    """
    secure = name[:9].lower().startswith(_PREFIXES)
    # werkzeug's dump_cookie would re-encode a latin-1 name as UTF-8 (a different
    # cookie) and percent-encode the path, so the header is written out here.
    parts = [f"{_header_text(name)}="]
    if domain:
        parts.append(f"Domain={_header_text(domain.lstrip('.'))}")
    parts.append(f"Expires={_EPOCH}")
    parts.append("Max-Age=0")
    if secure:
        parts.append("Secure")
    parts.append(f"Path={_header_text(path)}")
    return "; ".join(parts)


_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def _header_text(text: str) -> str:
    """``text`` as latin-1 header text: kept when it is, else its UTF-8 octets."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("latin-1")
    return text
