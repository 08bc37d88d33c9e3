"""Small, independent models of how Chromium and Firefox read a Set-Cookie's lifetime.

Written from the browsers' sources (Chromium ``net/cookies/parsed_cookie.cc`` and
``canonical_cookie.cc``; Firefox ``netwerk/cookie/CookieParser.cpp``), not from the
guard's code: the properties check that whatever the guard lets through as a deletion,
both browsers delete. Dates are read with the standard library's lenient
``http.cookiejar.http2time``, a parser the guard does not use.
"""

from __future__ import annotations

import re
from http.cookiejar import http2time  # type: ignore[attr-defined]  # (not in typeshed)

from hypothesis import strategies as st

_INT64 = 2**63 - 1


def _attributes(header: str, limit: int | None) -> dict[str, str]:
    """The last value of each attribute, names trimmed of SP/HTAB and lower-cased (ASCII);
    values over 1024 characters are ignored, as both browsers do."""
    found: dict[str, str] = {}
    for i, av in enumerate(header.split(";")[1:], start=1):
        if limit is not None and i >= limit:
            break
        name, _, value = av.partition("=")
        value = value.strip(" \t")
        if len(value) > 1024:
            continue
        lowered = "".join(c.lower() if c.isascii() else c for c in name.strip(" \t"))
        found[lowered] = value
    return found


def chromium_stores(header: str, *, now: float, server_date: str | None = None) -> bool:
    """Whether Chromium keeps a cookie (session or persistent) from ``header``."""
    attributes = _attributes(header, limit=16)  # ParsedCookie::kMaxPairs, the pair included
    max_age = attributes.get("max-age")
    # base::StringToInt64: an optional sign, digits, nothing else; saturates on overflow.
    # Anything else: the attribute is ignored and Expires decides.
    if max_age is not None and re.fullmatch(r"[+-]?[0-9]+", max_age, re.ASCII):
        return max(-_INT64, min(_INT64, int(max_age))) > 0
    expires = attributes.get("expires")
    if expires:
        when: float | None = http2time(expires)
        if when is not None:
            served: float | None = http2time(server_date) if server_date else None
            # The expiry is shifted by the server's clock skew (now - Date).
            return when + (now - (served if served is not None else now)) >= now
    return True  # a session cookie


def firefox_stores(header: str, *, now: float) -> bool:
    """Whether Firefox keeps a cookie (session or persistent) from ``header``."""
    attributes = _attributes(header, limit=None)
    max_age = attributes.get("max-age")
    if max_age:  # an empty Max-Age counts as absent
        # PR_sscanf("%lld"): leading whitespace, a sign, digits; trailing text ignored.
        number = re.match(r"\s*([+-]?[0-9]+)", max_age)
        if number is None:
            return True  # a session cookie
        return int(number[1]) > 0
    expires = attributes.get("expires")
    if expires:
        firefox_when: float | None = http2time(expires)
        return firefox_when is None or firefox_when > now  # unparseable: a session cookie
    return True


# Attribute pieces that make browsers disagree: signs, junk, empty and valueless
# attributes, odd spacing, other dates, many attributes.
_MAX_AGE_VALUES = ["0", "-1", "-0", "+0", "+63072000", "x", "", "0x", " 0", "1", "00",
                   "99999999999999999999", "-99999999999999999999", "0.5", "\t-5"]
_DATES = ["Thu, 01 Jan 1970 00:00:00 GMT", "Thu, 01-Jan-1970 00:00:01 GMT", "garbage", "",
          "Thu, 01 Jan 1970 00:00:00", "01 Jan 70 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT",
          "Sun, 06 Nov 1994 08:49:37 GMT", "1 Jan 2100", "Thu, 30 Feb 1970 00:00:00 GMT"]
_NAMES = ["Max-Age", "max-age", " MAX-AGE ", "\xa0Max-Age", "Max-Age\x0b", "Expires",
          "expires", " EXPIRES\t", "\x85Expires", "Path", "x", ""]


@st.composite
def lifetime_headers(draw: st.DrawFn, pair: str) -> str:
    """Set-Cookie values for ``pair`` with lifetime attributes browsers read differently."""
    parts = [pair]
    for _ in range(draw(st.integers(0, 18))):
        name = draw(st.sampled_from(_NAMES))
        pool = _DATES if "xpires" in name.lower() else _MAX_AGE_VALUES
        if draw(st.booleans()) and "ge" not in name.lower() and "xpires" not in name.lower():
            parts.append(name)
        else:
            parts.append(f"{name}={draw(st.sampled_from(pool))}")
    separator = draw(st.sampled_from(["; ", ";", " ;"]))
    return separator.join(parts)
