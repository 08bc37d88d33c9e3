"""Cookie and Set-Cookie parsing the way browsers do it (``consentguard.cookies``).

Section numbers are those of RFC 6265bis (draft-ietf-httpbis-rfc6265bis-15 and later):
§5.1.1 Dates, §5.6 The Set-Cookie Header Field (its numbered steps), §5.6.1 Expires,
§5.6.2 Max-Age, §5.7 Storage Model. "werkzeug test_parse_cookie/test_bad_cookies" are
in werkzeug's tests/test_http.py; "Django test_invalid_cookies/test_python_cookies" in
Django's tests/httpwrappers/tests.py (CookieTests): their inputs are reused here to show
how a browser-faithful parser reads the same text.
"""

from __future__ import annotations

import calendar
from email.utils import formatdate

import pytest
from browser_models import chromium_stores, firefox_stores, lifetime_headers
from hypothesis import given, settings
from hypothesis import strategies as st
from support import NOW

from consentguard.cookies import (
    PLAIN_SET_COOKIE,
    PLAIN_SET_COOKIE_RAW,
    _deletion_expiry_slowly,
    cookie_pairs,
    deletion_expiry,
    deletion_header,
    is_deletion,
    is_holdable_name,
    lenient_name,
    parse_cookie_date,
    purge_domains,
    set_cookie_name,
)

DAY = 86400

# -- set_cookie_name -------------------------------------------------------------------------

SET_COOKIE_NAMES = [
    # §3.1 example; §5.6 step 3: the name is the text before the first '='.
    pytest.param("SID=31d4d96e407aad42", "SID", id="plain"),
    # §5.6 step 2: the name-value pair ends at the first ';', the rest are attributes.
    pytest.param("SID=31d4d96e407aad42; Path=/; Domain=example.com", "SID", id="attributes"),
    # §5.6 step 4: leading and trailing WSP around name (and value) is removed.
    pytest.param("  SID  =  v  ", "SID", id="spaces-around-name"),
    # §5.6 step 4: WSP is SP and HTAB.
    pytest.param("\tSID\t=v", "SID", id="tabs-around-name"),
    # §5.6 step 4 trims only the ends: inner spaces stay (Django test_invalid_cookies
    # "a b c=d e = f" reads the name "a b c").
    pytest.param("a b c=d e = f", "a b c", id="inner-spaces"),
    # §5.6 step 1 excludes HTAB from the forbidden CTLs, so it may sit inside a name.
    pytest.param("a\tb=c", "a\tb", id="htab-inside-name"),
    # §5.6 step 1: HTAB inside the value is fine too.
    pytest.param("a=b\tc", "a", id="htab-inside-value"),
    # §5.6 step 3: no '=' at all: the name is empty and the whole pair is the value.
    pytest.param("foo", "", id="no-equals-empty-name"),
    # §5.6 steps 2-3: the same with attributes after it.
    pytest.param("foo; Path=/", "", id="no-equals-with-attributes"),
    # §5.6 step 3: "a" has no '=', so "a;b=c" is a nameless cookie with attribute "b=c".
    pytest.param("a;b=c", "", id="no-equals-before-semicolon"),
    # §5.6 step 3: the value may be empty ("(possibly empty) value string").
    pytest.param("foo=", "foo", id="empty-value"),
    # Empty value plus attributes: the usual shape of a deletion.
    pytest.param("foo=; Max-Age=0", "foo", id="empty-value-deletion"),
    # §5.6 step 3: a leading '=' gives an empty name and the value after it (Chromium's
    # ParsedCookie and Firefox store such nameless cookies).
    pytest.param("=foo", "", id="leading-equals"),
    # §5.6 step 3: only spaces before '=': trimmed to an empty name.
    pytest.param(" \t=foo", "", id="blank-name"),
    # §5.7: name and value both empty: the cookie is ignored entirely.
    pytest.param("=", None, id="equals-only"),
    pytest.param("", None, id="empty-header"),
    pytest.param("   ", None, id="whitespace-only"),
    # §5.6 step 2: the pair before the first ';' is empty, so nothing is stored; "a=b"
    # is only an (unknown) attribute.
    pytest.param("; a=b", None, id="empty-pair-then-attribute"),
    # §5.6 step 3: split at the *first* '='; the value keeps the others (Django
    # test_python_cookies "keebler=E=mc2").
    pytest.param("keebler=E=mc2", "keebler", id="equals-in-value"),
    pytest.param("a==b", "a", id="double-equals"),
    # §5.6 step 3: "==" is an empty name with the value "=" (not ignored: value not empty).
    pytest.param("==", "", id="equals-equals"),
    # werkzeug test_parse_cookie "==__Host-eq=bad": an empty name; the value "=__Host-eq=bad"
    # does not *start* with the prefix, so browsers keep it as a plain nameless cookie.
    pytest.param("==__Host-eq=bad", "", id="werkzeug-double-equals-host"),
    # Nothing is unquoted (§5.6 treats DQUOTE as an ordinary octet): quoted value.
    pytest.param('a="b"', "a", id="quoted-value"),
    # werkzeug test_parse_cookie '"__Secure-c"=d': the quotes are part of the name, so this
    # is *not* a __Secure- cookie.
    pytest.param('"__Secure-c"=d', '"__Secure-c"', id="quoted-name"),
    # §5.6 step 2: quotes do not protect a ';' — the pair ends inside the quotes.
    pytest.param('a="b; c"', "a", id="semicolon-inside-quotes"),
    # Only the first pair is the cookie; "c=d" is an unknown attribute (§5.6, not a second
    # cookie as http.cookies.SimpleCookie would read it).
    pytest.param("a=b;c=d", "a", id="second-pair-is-attribute"),
    # §3 (servers SHOULD NOT fold): a comma is an ordinary octet, not a separator.
    pytest.param("a=b, c=d", "a", id="comma-not-separator"),
    # Django test_python_cookies: ':' is allowed in names by browsers.
    pytest.param("key:term=value:term", "key:term", id="colon-in-name"),
    # Django test_invalid_cookies: separators and brackets that RFC 6265's token forbids
    # are still read into the name by the browser algorithm.
    pytest.param('a   b,c<>@:/[]?{}=d  "  =e,f g', "a   b,c<>@:/[]?{}", id="django-odd-chars"),
    # werkzeug test_parse_cookie "fo234{=bar".
    pytest.param("fo234{=bar", "fo234{", id="werkzeug-brace-name"),
    # An attribute-looking name is still the cookie name when it comes first (§5.6 step 2;
    # Django test_cookie_edgecases keeps "Domain" as a cookie name too).
    pytest.param("Path=/", "Path", id="attribute-looking-path"),
    pytest.param("Expires=Wed, 09 Jun 2021 10:18:14 GMT", "Expires",
                 id="attribute-looking-expires"),
    pytest.param("Max-Age=0", "Max-Age", id="attribute-looking-max-age"),
    pytest.param("Secure", "", id="attribute-looking-flag"),
    # §5.7 compares names octet by octet: case is kept, "SID" and "sid" are two cookies.
    pytest.param("sid=1", "sid", id="lower-case-name"),
    pytest.param("SiD=1", "SiD", id="mixed-case-name"),
    # §4.1.3: the prefixes are part of the name.
    pytest.param("__Host-id=1; Secure; Path=/", "__Host-id", id="host-prefix"),
    pytest.param("__Secure-id=1; Secure", "__Secure-id", id="secure-prefix"),
    # The name is returned as written; the prefix's case is not normalised.
    pytest.param("__host-id=1; Secure; Path=/", "__host-id", id="host-prefix-lower-case"),
    # §5.7 (after Chromium crbug.com/1345193, M104): a nameless cookie whose value starts
    # with a prefix would be sent back as "__Host-id=1" — browsers ignore it entirely.
    pytest.param("=__Host-id=1", None, id="hidden-host-prefix"),
    pytest.param("=__Secure-id=1", None, id="hidden-secure-prefix"),
    pytest.param("=__hOsT-id=1", None, id="hidden-prefix-any-case"),
    pytest.param("=  __Secure-id=1", None, id="hidden-prefix-after-spaces"),
    pytest.param("__Host-id", None, id="hidden-prefix-no-equals"),
    # A nameless cookie without a prefix is stored; it reaches servers as "_ga=GA1.2".
    pytest.param("=_ga=GA1.2", "", id="nameless-posing-as-ga"),
    # §5.6 step 1: a CTL other than HTAB anywhere makes the browser ignore the header
    # entirely (rejected, not truncated at the CTL as older drafts had it).
    pytest.param("a\x00=b", None, id="nul-in-name"),
    pytest.param("a=b\x00c", None, id="nul-in-value"),
    pytest.param("a=b; Path=/\x00", None, id="nul-in-attribute"),
    pytest.param("a\x01=b", None, id="soh-in-name"),
    pytest.param("a=b\x1f", None, id="unit-separator"),
    pytest.param("a=b\x7f", None, id="del-in-value"),
    pytest.param("a=b\nc=d", None, id="lf"),
    pytest.param("a=b\r\nSet-Cookie: c=d", None, id="crlf-injection"),
    pytest.param("a\x0b=b", None, id="vertical-tab-is-not-wsp"),
    # §5.6 step 5: name + value over 4096 octets is ignored; exactly 4096 is fine, and the
    # count is taken after trimming (step 4 comes first); attributes do not count.
    pytest.param("a=" + "x" * 4095, "a", id="name-value-4096"),
    pytest.param("a=" + "x" * 4096, None, id="name-value-4097"),
    pytest.param("n" * 4096 + "=", "n" * 4096, id="name-only-4096"),
    pytest.param("n" * 4097 + "=", None, id="name-only-4097"),
    pytest.param("  a  =  " + "x" * 4095 + "  ", "a", id="limit-after-trim"),
    pytest.param("a=" + "x" * 4095 + "; Path=/" + "p" * 2000, "a", id="limit-ignores-attributes"),
    # §5.6 counts octets: header text is latin-1, one character per octet.
    pytest.param("a=" + "\xe9" * 4095, "a", id="limit-latin1-octets"),
    # Non-ASCII octets are kept as they are (latin-1 decoded bytes round-trip): a UTF-8
    # name "été" arrives as "\xc3\xa9t\xc3\xa9".
    pytest.param("caf\xe9=1", "caf\xe9", id="latin1-byte-in-name"),
    pytest.param("\xc3\xa9t\xc3\xa9=1", "\xc3\xa9t\xc3\xa9", id="utf8-bytes-in-name"),
    # NBSP (0xA0) is not WSP, so it is not trimmed.
    pytest.param("\xa0a=1", "\xa0a", id="nbsp-not-trimmed"),
    # Django test_invalid_cookies "saint=André Bessette": non-ASCII values are kept.
    pytest.param("saint=Andr\xc3\xa9 Bessette", "saint", id="non-ascii-value"),
]


@pytest.mark.parametrize(("header", "expected"), SET_COOKIE_NAMES)
def test_set_cookie_name(header: str, expected: str | None) -> None:
    assert set_cookie_name(header) == expected


def test_set_cookie_name_table_is_large_and_unique() -> None:
    ids = [p.id for p in SET_COOKIE_NAMES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)


# -- is_deletion -------------------------------------------------------------------------------


def http_date(timestamp: float) -> str:
    """An IMF-fixdate, as servers write Expires."""
    return formatdate(timestamp, usegmt=True)


DELETIONS = [
    # §5.6.2 step 6: delta-seconds ≤ 0 sets the earliest representable expiry.
    pytest.param("a=; Max-Age=0", True, id="max-age-zero"),
    pytest.param("a=b; Max-Age=-1", True, id="max-age-negative"),
    pytest.param("a=b; Max-Age=-0", True, id="max-age-minus-zero"),
    # Chromium saturates an overflowing Max-Age; Firefox's sscanf need not: only numbers
    # both read alike count.
    pytest.param("a=b; Max-Age=-99999999999999999999999", False, id="max-age-huge-negative"),
    pytest.param("a=b; Max-Age=-999999999999999999", True, id="max-age-18-digits"),
    pytest.param("a=b; Max-Age=1", False, id="max-age-positive"),
    pytest.param("a=b; Max-Age=000", True, id="max-age-leading-zeros"),
    # Not an integer: Chromium ignores the attribute (then Expires, then a session
    # cookie), Firefox reads "0x0" as 0 but "abc" as a session cookie: no deletion.
    pytest.param("a=b; Max-Age=abc", False, id="max-age-invalid"),
    pytest.param("a=b; Max-Age=+0", False, id="max-age-plus-sign"),
    pytest.param("a=b; Max-Age=0x0", False, id="max-age-hex"),
    pytest.param("a=b; Max-Age=-", False, id="max-age-minus-only"),
    pytest.param("a=b; Max-Age=", False, id="max-age-empty"),
    pytest.param("a=b; Max-Age=1.5", False, id="max-age-decimal"),
    # §5.6 step 5 of the attribute loop: WSP around the value is removed first.
    pytest.param("a=b; Max-Age =  0 ", True, id="max-age-spaces"),
    # §5.6: attribute names match case-insensitively.
    pytest.param("a=b; max-age=0", True, id="max-age-lower-case"),
    pytest.param("a=b; MAX-AGE=0", True, id="max-age-upper-case"),
    # Browsers take the *last* Max-Age whatever its value; a deletion passes only when
    # every Max-Age deletes (Chromium stops reading after 15 attributes, so "last" is not
    # the same for every browser).
    pytest.param("a=b; Max-Age=0; Max-Age=60", False, id="last-max-age-wins-keep"),
    pytest.param("a=b; Max-Age=60; Max-Age=0", False, id="an-earlier-max-age-keeps"),
    pytest.param("a=b; Max-Age=0; Max-Age=-1", True, id="every-max-age-deletes"),
    # Found by the security review: Chromium stored each of these with no consent.
    pytest.param("_ga=GA1; Max-Age=0; Max-Age=+63072000", False, id="review-plus-max-age"),
    pytest.param("_ga=GA1; Max-Age=0; Max-Age=x", False, id="review-unparseable-max-age"),
    pytest.param("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage", False,
                 id="review-unparseable-expires"),
    pytest.param("a=b; Max-Age=0; Max-Age=", False, id="empty-last-max-age"),
    pytest.param("a=b; Max-Age=0; Max-Age", False, id="valueless-last-max-age"),
    pytest.param("a=b" + "; x" * 15 + "; Max-Age=0", False, id="max-age-beyond-15-attributes"),
    pytest.param("a=b" + "; x" * 14 + "; Max-Age=0", True, id="max-age-15th-attribute"),
    # A name only some parser would trim is no Max-Age to the others.
    pytest.param("a=b; \xa0Max-Age=0", False, id="max-age-after-nbsp"),
    pytest.param("a=b; Max-Age\x85=0", False, id="max-age-before-nel"),
    # §5.7: Max-Age takes precedence over Expires, in whichever order they come.
    pytest.param(f"a=b; Max-Age=60; Expires={http_date(0)}", False,
                 id="max-age-beats-past-expires"),
    pytest.param(f"a=b; Expires={http_date(0)}; Max-Age=60", False,
                 id="max-age-beats-past-expires-reversed"),
    pytest.param(f"a=; Max-Age=0; Expires={http_date(NOW + 365 * DAY)}", True,
                 id="max-age-zero-beats-future-expires"),
    # An invalid Max-Age: Chromium falls back to Expires, Firefox makes a session cookie.
    pytest.param(f"a=b; Max-Age=soon; Expires={http_date(0)}", False,
                 id="invalid-max-age-is-not-expires"),
    # Expires far in the past: a deletion whatever the visitor's clock says.
    pytest.param(f"a=; Expires={http_date(0)}", True, id="expires-epoch"),
    pytest.param("a=; expires=Thu, 01 Jan 1970 00:00:00 GMT", True, id="expires-lower-case"),
    pytest.param("a=; Expires=Thu, 01-Jan-1970 00:00:01 GMT", True, id="expires-netscape"),
    # Dates browsers may read differently (no zone: local time in Firefox; two-digit
    # years; free forms) are not trusted as deletions.
    pytest.param("a=; Expires=Thu, 01 Jan 1970 00:00:00", False, id="expires-without-zone"),
    pytest.param("a=; Expires=Thu, 01-Jan-70 00:00:01 GMT", False, id="expires-two-digit-year"),
    pytest.param("a=; Expires=1 Jan 1970", False, id="expires-free-form"),
    pytest.param(f"a=; Expires={http_date(NOW - 2 * DAY)}", True, id="expires-two-days-ago"),
    # Only just past: a visitor whose clock is behind would still store the cookie, so it
    # counts as setting one (one day of skew).
    pytest.param(f"a=b; Expires={http_date(NOW - 60)}", False, id="expires-just-past"),
    pytest.param(f"a=b; Expires={http_date(NOW - DAY)}", False, id="expires-exactly-a-day"),
    pytest.param(f"a=b; Expires={http_date(NOW - DAY - 1)}", True, id="expires-a-day-and-a-second"),
    pytest.param(f"a=b; Expires={http_date(NOW + DAY)}", False, id="expires-future"),
    # §5.6.1: an unparseable date is ignored: a session cookie, stored.
    pytest.param("a=b; Expires=yesterday", False, id="expires-unparseable"),
    pytest.param("a=b; Expires=Thu, 30 Feb 1970 00:00:00 GMT", False, id="expires-30-february"),
    # §5.7: the last valid Expires wins.
    pytest.param(f"a=b; Expires={http_date(0)}; Expires={http_date(NOW + DAY)}", False,
                 id="last-expires-wins-keep"),
    pytest.param(f"a=b; Expires={http_date(NOW + DAY)}; Expires={http_date(0)}", False,
                 id="an-earlier-expires-keeps"),
    pytest.param(f"a=b; Expires={http_date(DAY)}; Expires={http_date(0)}", True,
                 id="every-expires-deletes"),
    # §5.6 step 6 of the attribute loop: a value over 1024 octets drops the attribute.
    pytest.param("a=b; Max-Age=" + "0" * 1025, False, id="max-age-value-over-1024"),
    pytest.param("a=b; Max-Age=" + "0" * 1024, False, id="max-age-value-1024"),
    pytest.param(f"a=b; Expires={http_date(0)}" + " " * 3 + "x" * 1030, False,
                 id="expires-value-over-1024"),
    # The cookie's own value is not an attribute, however it looks.
    pytest.param("a=Max-Age=0", False, id="max-age-in-value"),
    pytest.param("Max-Age=0", False, id="max-age-as-name"),
    # No attributes at all: a session cookie.
    pytest.param("a=b", False, id="no-attributes"),
]


@pytest.mark.parametrize(("header", "expected"), DELETIONS)
def test_is_deletion(header: str, expected: bool) -> None:
    assert is_deletion(header, NOW) is expected


def _both_browsers_delete(header: str, now: float) -> bool:
    """Whether Chromium and Firefox both store nothing, for a visitor clock up to a day
    behind or ahead of ``now``."""
    return not any(chromium_stores(header, now=t) or firefox_stores(header, now=t)
                   for t in (now - DAY, now, now + DAY))


@pytest.mark.parametrize(("header", "expected"), DELETIONS)
def test_a_deletion_is_one_in_both_browser_models(header: str, expected: bool) -> None:
    if is_deletion(header, NOW):
        assert _both_browsers_delete(header, NOW)


@settings(max_examples=500, deadline=None)
@given(lifetime_headers("_ga=GA1"))
def test_every_deletion_deletes_in_both_browsers(header: str) -> None:
    if is_deletion(header, NOW):
        assert _both_browsers_delete(header, NOW)


def test_the_models_store_what_the_review_saw_chromium_store() -> None:
    # The models themselves must see the review's findings, or the property proves nothing.
    for header in ("_ga=GA1; Max-Age=0; Max-Age=+63072000", "_ga=GA1; Max-Age=0; Max-Age=x",
                   "_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage"):
        assert chromium_stores(header, now=NOW)
    assert firefox_stores("_ga=GA1; Max-Age=0; Max-Age=x", now=NOW)
    assert not chromium_stores("_ga=; Max-Age=0", now=NOW)
    assert not firefox_stores("_ga=; Max-Age=0", now=NOW)


# -- parse_cookie_date ---------------------------------------------------------------------------


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


DATES = [
    # RFC 7231 IMF-fixdate, the form §5.1.1 must read.
    pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", ts(1994, 11, 6, 8, 49, 37), id="imf-fixdate"),
    # RFC 850 form: '-' is a delimiter, a two-digit year 70-99 means 19xx (§5.1.1 step 3).
    pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", ts(1994, 11, 6, 8, 49, 37), id="rfc850"),
    # asctime form: tokens in another order.
    pytest.param("Sun Nov  6 08:49:37 1994", ts(1994, 11, 6, 8, 49, 37), id="asctime"),
    # §5.1.1 step 4: 0-69 means 20xx.
    pytest.param("Wed, 09 Jun 21 10:18:14 GMT", ts(2021, 6, 9, 10, 18, 14), id="two-digit-2021"),
    pytest.param("Thu, 01 Jan 70 00:00:00 GMT", 0.0, id="two-digit-1970"),
    pytest.param("Tue, 31 Dec 69 23:59:59 GMT", ts(2069, 12, 31, 23, 59, 59), id="two-digit-69"),
    # The §3.1 example's Expires.
    pytest.param("Wed, 09 Jun 2021 10:18:14 GMT", ts(2021, 6, 9, 10, 18, 14), id="rfc-example"),
    # Month names match case-insensitively on their first three letters.
    pytest.param("09 JUNE 2021 10:18:14", ts(2021, 6, 9, 10, 18, 14), id="month-long-upper"),
    # Time fields may have one digit.
    pytest.param("9 Jun 2021 1:2:3", ts(2021, 6, 9, 1, 2, 3), id="one-digit-fields"),
    # The day-of-month production allows trailing non-digits ("9th").
    pytest.param("9th Jun 2021 10:00:00", ts(2021, 6, 9, 10), id="day-with-suffix"),
    # Leap day exists in 2024.
    pytest.param("29 Feb 2024 00:00:00", ts(2024, 2, 29), id="leap-day"),
    # §5.1.1 steps 5-6: out-of-range fields and dates that do not exist fail to parse.
    pytest.param("30 Feb 2021 00:00:00", None, id="30-february"),
    pytest.param("29 Feb 2023 00:00:00", None, id="29-february-common-year"),
    pytest.param("31 Apr 2021 00:00:00", None, id="31-april"),
    pytest.param("01 Jan 1600 00:00:00", None, id="year-before-1601"),
    pytest.param("01 Jan 1601 00:00:00", ts(1601, 1, 1), id="year-1601"),
    pytest.param("32 Jan 2021 00:00:00", None, id="day-32"),
    pytest.param("00 Jan 2021 00:00:00", None, id="day-0"),
    pytest.param("01 Jan 2021 24:00:00", None, id="hour-24"),
    pytest.param("01 Jan 2021 23:60:00", None, id="minute-60"),
    pytest.param("01 Jan 2021 23:59:60", None, id="second-60"),
    # Missing parts fail.
    pytest.param("01 Jan 2021", None, id="no-time"),
    pytest.param("Jan 2021 10:00:00", None, id="no-day"),
    pytest.param("01 2021 10:00:00", None, id="no-month"),
    pytest.param("01 Jan 10:00:00", None, id="no-year"),
    pytest.param("", None, id="empty"),
    pytest.param("yesterday", None, id="word"),
    # A time field of three digits does not match the time production.
    pytest.param("01 Jan 2021 10:00:000", None, id="three-digit-second"),
    # A five-digit year does not match the year production.
    pytest.param("01 Jan 20210 10:00:00", None, id="five-digit-year"),
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_parse_cookie_date(text: str, expected: float | None) -> None:
    assert parse_cookie_date(text) == expected


# -- cookie_pairs ------------------------------------------------------------------------------

PAIRS = [
    pytest.param("a=1", [("a", "a=1")], id="one"),
    # Browsers join pairs with "; " (retrieval model, §5.8); order is kept.
    pytest.param("b=2; a=1", [("b", "b=2"), ("a", "a=1")], id="order-kept"),
    # Duplicates (same name on several paths or domains) are all kept, in order.
    pytest.param("a=1; a=2", [("a", "a=1"), ("a", "a=2")], id="duplicates-kept"),
    # werkzeug test_bad_cookies: loose whitespace and a pair without '='.
    pytest.param(
        "first=IamTheFirst ; a=1; oops ; a=2 ;second = andMeTwo;",
        [("first", "first=IamTheFirst"), ("a", "a=1"), ("", "oops"), ("a", "a=2"),
         ("second", "second = andMeTwo")],
        id="werkzeug-bad-cookies",
    ),
    # A nameless cookie is sent as its bare value (Mozilla bug 169091; Django
    # test_invalid_cookies "abc=def; unnamed; django_language=en").
    pytest.param("abc=def; unnamed; django_language=en",
                 [("abc", "abc=def"), ("", "unnamed"), ("django_language", "django_language=en")],
                 id="django-unnamed"),
    # A pair with a leading '=' has an empty name too.
    pytest.param("=b; c=d", [("", "=b"), ("c", "c=d")], id="leading-equals"),
    # Values are kept verbatim: quotes, '=' and spaces are not touched.
    pytest.param('a="x y"; b=c=d', [("a", 'a="x y"'), ("b", "b=c=d")], id="verbatim-values"),
    # Django test_invalid_cookies: spaces in names.
    pytest.param("a b c=d e = f; gh=i", [("a b c", "a b c=d e = f"), ("gh", "gh=i")],
                 id="spaces-in-name"),
    # Empty pieces (";;", trailing ";") are skipped; nothing invents cookies.
    pytest.param(" ; ;a=1;; ", [("a", "a=1")], id="empty-pieces"),
    pytest.param("", [], id="empty"),
    # A comma is not a separator in a Cookie header.
    pytest.param("a=1, b=2", [("a", "a=1, b=2")], id="comma"),
    # Names are case-sensitive: two different cookies.
    pytest.param("SID=1; sid=2", [("SID", "SID=1"), ("sid", "sid=2")], id="case-sensitive"),
    # Latin-1 octets survive untouched.
    pytest.param("caf\xe9=cr\xe8me", [("caf\xe9", "caf\xe9=cr\xe8me")], id="latin1"),
]


@pytest.mark.parametrize(("header", "expected"), PAIRS)
def test_cookie_pairs(header: str, expected: list[tuple[str, str]]) -> None:
    assert cookie_pairs(header) == expected


# -- purge_domains -------------------------------------------------------------------------------

DOMAINS = [
    pytest.param("example.com", None, (None, "example.com"), id="apex"),
    pytest.param("www.example.com", None, (None, "www.example.com", "example.com"), id="www"),
    pytest.param("www.shop.example.com", None,
                 (None, "www.shop.example.com", "shop.example.com", "example.com"), id="deep"),
    # The port is not part of a cookie's domain.
    pytest.param("www.example.com:8443", None, (None, "www.example.com", "example.com"),
                 id="port"),
    # Host names are case-insensitive; a trailing dot is the same host.
    pytest.param("WWW.Example.COM.", None, (None, "www.example.com", "example.com"),
                 id="case-and-trailing-dot"),
    # A very deep host: the host itself plus the domains nearest the root, where
    # third-party scripts set their cookies.
    pytest.param("a.b.c.d.e.example.com", None,
                 (None, "a.b.c.d.e.example.com", "d.e.example.com", "e.example.com",
                  "example.com"),
                 id="very-deep-capped"),
    # IP addresses and single-label hosts take no Domain attribute (§5.7 host-only).
    pytest.param("127.0.0.1", None, (None,), id="ipv4"),
    pytest.param("127.0.0.1:8000", None, (None,), id="ipv4-port"),
    pytest.param("[::1]:8000", None, (None,), id="ipv6-port"),
    pytest.param("[2001:db8::1]", None, (None,), id="ipv6"),
    pytest.param("localhost", None, (None,), id="localhost"),
    pytest.param("localhost:5000", None, (None,), id="localhost-port"),
    # Malformed Host headers get only the host-only deletion.
    pytest.param("", None, (None,), id="empty-host"),
    pytest.param("exa mple.com", None, (None,), id="space-in-host"),
    pytest.param("example.com, evil.com", None, (None,), id="list-in-host"),
    pytest.param("ex\x00ample.com", None, (None,), id="nul-in-host"),
    pytest.param(".example.com", None, (None,), id="leading-dot-host"),
    # The declared domain comes first after host-only, without its leading dot (§5.6.3
    # ignores it), and is not repeated.
    pytest.param("www.example.com", ".example.com",
                 (None, "example.com", "www.example.com"), id="declared-leading-dot"),
    pytest.param("www.example.com", "Example.COM",
                 (None, "example.com", "www.example.com"), id="declared-case"),
    # Parents stop at the registrable domain (Public Suffix List): no browser keeps a
    # cookie on a public suffix.
    pytest.param("a.b.example.co.uk", None,
                 (None, "a.b.example.co.uk", "b.example.co.uk", "example.co.uk"),
                 id="public-suffix-co-uk"),
    pytest.param("www.example.co.uk", None, (None, "www.example.co.uk", "example.co.uk"),
                 id="www-co-uk"),
    pytest.param("co.uk", None, (None,), id="a-public-suffix-itself"),
    pytest.param("myapp.herokuapp.com", None, (None, "myapp.herokuapp.com"),
                 id="private-suffix"),
    # The Host is the client's: one that is no host name is not copied into the purge.
    pytest.param("a" * 64 + ".example.com", None, (None,), id="label-over-63"),
    pytest.param("a." * 130 + "example.com", None, (None,), id="host-over-253"),
    pytest.param("a." * 100 + "example.com", None,
                 (None, "a." * 100 + "example.com", "a.a.example.com", "a.example.com",
                  "example.com"), id="deep-host-capped"),
    # A declared domain still applies when the Host header is useless.
    pytest.param("localhost", ".example.com", (None, "example.com"), id="declared-localhost"),
]


@pytest.mark.parametrize(("host", "declared", "expected"), DOMAINS)
def test_purge_domains(host: str, declared: str | None, expected: tuple[str | None, ...]) -> None:
    assert purge_domains(host, declared) == expected


# -- deletion_header -----------------------------------------------------------------------------

DELETION_HEADERS = [
    pytest.param("_ga", "/", None,
                 "_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/", id="plain"),
    pytest.param("_ga", "/shop", "example.com",
                 "_ga=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; "
                 "Path=/shop", id="path-and-domain"),
    # A browser only replaces a prefixed cookie from a header that has Secure (§5.7).
    pytest.param("__Secure-id", "/", None,
                 "__Secure-id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; "
                 "Path=/", id="secure-prefix"),
    pytest.param("__Host-id", "/", None,
                 "__Host-id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; Path=/",
                 id="host-prefix"),
    # §5.7 matches the prefixes case-insensitively.
    pytest.param("__host-id", "/", None,
                 "__host-id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; Path=/",
                 id="host-prefix-lower-case"),
    # The name goes back as the same octets the browser sent (latin-1 text), not re-encoded:
    # a UTF-8 "é" arrives as "\xc3\xa9" and must be deleted as "\xc3\xa9".
    pytest.param("_ga_\xc3\xa9", "/", None,
                 "_ga_\xc3\xa9=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",
                 id="non-ascii-name-octets"),
    # The path is the declared one, verbatim (no percent-encoding: it must equal the
    # path the cookie was set with).
    pytest.param("a", "/caf%C3%A9 menu", None,
                 "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/caf%C3%A9 menu",
                 id="path-verbatim"),
]


@pytest.mark.parametrize(("name", "path", "domain", "expected"), DELETION_HEADERS)
def test_deletion_header(name: str, path: str, domain: str | None, expected: str) -> None:
    header = deletion_header(name, path=path, domain=domain)
    assert header == expected
    # Whatever we write, a browser reads it back as a deletion of that very name.
    assert set_cookie_name(header) == name
    assert is_deletion(header, NOW)
    header.encode("latin-1")  # sendable as a header


def test_deletion_header_text_outside_latin1_is_sent_as_utf8() -> None:
    # A str that did not come from latin-1 octets (a framework that decoded UTF-8) is
    # written as its UTF-8 octets, so the header can always be encoded.
    header = deletion_header("_ga_\u20ac")
    assert header.startswith("_ga_\xe2\x82\xac=;")
    header.encode("latin-1")


def test_deletion_header_warns_about_nothing_for_long_names() -> None:
    # werkzeug's dump_cookie warns over 4093 octets; filterwarnings=error would turn that
    # into a failure of the request, so deletion headers are built without it.
    assert deletion_header("n" * 5000).startswith("n" * 5000 + "=;")


@pytest.mark.parametrize(("name", "holdable"), [
    ("_ga", True), ("a\tb", True),  # RFC 6265bis 5.6 step 1 lets HTAB through
    ("_ga\x01x", False), ("a\x0bb", False), ("a\x7f", False), ("a\nb", False),
])
def test_names_a_browser_could_hold(name: str, holdable: bool) -> None:
    assert is_holdable_name(name) is holdable
    # The same rule as for whole Set-Cookie headers (5.6 step 1).
    assert (set_cookie_name(f"{name}=1") is not None) is holdable


@pytest.mark.parametrize(("pair", "seen"), [
    ("_ga", "_ga"),  # werkzeug's parse_cookie reads a bare token as a name
    ("=_ga=GA1.2", "_ga"),  # a nameless cookie comes back as its value: "_ga=GA1.2"
    ("==x=1", "x"), ("= _ga =1", "_ga"), ("=", ""),
])
def test_the_name_a_lenient_reader_sees(pair: str, seen: str) -> None:
    assert lenient_name(pair) == seen


# -- the hot path's shortcuts read exactly what the full parsers read -------------------------

# Pieces that make the shortcuts' edge cases likely: separators with and without spaces,
# names around "=", nameless and empty pairs, control and non-ASCII characters, and
# attribute names in other cases.
_TOKENS = ["cg_consent", "cg_consent =", "cg_consent\t=", "_ga", "a", "=", ";", "; ", " ",
           "\t", "v1", "==", "\x00", "\x0b", "\x7f", "\xe9", "\u212a", "K", "; Max-Age=",
           "; max-age =", ";MAX-AGE= ", "-", "0", "7", "abc",
           "; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "; Path=/", "__Host-"]
header_text = st.lists(st.sampled_from(_TOKENS), max_size=14).map("".join)


@settings(max_examples=400, deadline=None)
@given(header_text)
def test_the_plain_set_cookie_name_is_the_full_parsers_name(value: str) -> None:
    plain = PLAIN_SET_COOKIE.fullmatch(value)
    assert plain is None or plain[1] == set_cookie_name(value)
    if all(ord(c) < 256 for c in value):  # ASGI headers: latin-1 bytes
        raw = PLAIN_SET_COOKIE_RAW.fullmatch(value.encode("latin-1"))
        assert (raw is None) == (plain is None)
        assert raw is None or plain is None or raw[1].decode("latin-1") == plain[1]


@settings(max_examples=400, deadline=None)
@given(st.one_of(header_text, lifetime_headers("_ga=1")))
def test_the_deletion_expiry_shortcut_is_the_full_reading(value: str) -> None:
    assert deletion_expiry(value) == _deletion_expiry_slowly(value)


def test_the_shortcuts_answer_for_what_browsers_send() -> None:
    """They must not merely be safe (None): on ordinary headers they answer."""
    plain = PLAIN_SET_COOKIE.fullmatch("_ga=GA1.2; Domain=.example.com; Max-Age=63072000")
    assert plain is not None and plain[1] == "_ga"
    assert PLAIN_SET_COOKIE.fullmatch("=_ga=1") is None

