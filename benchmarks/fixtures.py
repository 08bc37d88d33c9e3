"""What every benchmark request looks like: registries, cookies, headers, consent values.

A realistic page view of a returning visitor: 12 cookies in the ``Cookie`` header
(the consent cookie and a signed session among them), and a response setting 6 declared
cookies of mixed categories plus one nobody declared. The visitor accepted functional and
analytics cookies and refused marketing, so the response's marketing cookie and the
undeclared one are removed on every request — the work consentguard exists to do.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import string
from typing import Any

from itsdangerous import TimestampSigner

from consentguard import Category, ConsentGuard, Cookie, Registry

SECRET = "benchmark-secret-key-0123456789abcdef"
SESSION_SECRET = "benchmark-session-key-fedcba9876543210"
HOST = "www.shop.example.com"

CATEGORIES = (
    Category("essential", required=True, description="Needed for the site to work"),
    Category("functional", description="Remember your preferences"),
    Category("analytics", description="Help us understand usage"),
    Category("marketing", description="Advertising and cross-site tracking"),
)

# The 10-entry registry: what a small site declares.
BASE_COOKIES = (
    Cookie("session", category="essential", purpose="Keeps you logged in", duration="session"),
    Cookie("csrftoken", category="essential", purpose="Stops forged forms", duration="1 year"),
    Cookie("lang", category="functional", purpose="Language", duration="1 year"),
    Cookie("theme", category="functional", purpose="Theme", duration="1 year"),
    Cookie("_ga", category="analytics", purpose="Visitors", duration="2 years",
           provider="Google Analytics"),
    Cookie("_ga_*", category="analytics", purpose="Session state", duration="2 years",
           provider="Google Analytics"),
    Cookie("_gid", category="analytics", purpose="Visitors", duration="1 day",
           provider="Google Analytics"),
    Cookie("_hjSession_*", category="analytics", purpose="Session", duration="30 minutes",
           provider="Hotjar"),
    Cookie("_fbp", category="marketing", purpose="Ads", duration="3 months", provider="Meta",
           domain=".example.com"),
    Cookie("_gcl_*", category="marketing", purpose="Ad conversions", duration="3 months",
           provider="Google Ads"),
)

ACCEPTED = ("functional", "analytics")

# Real vendors' cookie-name prefixes, as catalogued by cookie databases (the Open Cookie
# Database lists names and wildcard prefixes much like these).
_VENDOR_PREFIXES = (
    "_hjid_", "_hjAbsoluteSessionInProgress_", "AMCV_", "AMCVS_", "s_vi_", "s_fid_",
    "_pk_id.", "_pk_ses.", "mp_", "ajs_", "intercom-session-", "intercom-id-", "_uetsid_",
    "_uetvid_", "__qca_", "_clck_", "_clsk_", "optimizely", "_dc_gtm_", "__utm", "_gcl_",
    "hubspotutk_", "__hssc_", "__hstc_", "_mkto_trk_", "visitor_id", "pardot_", "_tt_",
    "_ttp_", "li_", "bcookie_", "lidc_", "_pin_unauth_", "_rdt_", "_scid_", "cto_bundle_",
    "__gads_", "__gpi_", "_lr_", "ab_test_", "wp-settings-", "wordpress_logged_in_",
    "PHPSESSID_", "XSRF-", "JSESSIONID_", "_shopify_", "cart_", "_derived_epik_",
)
_WORDS = ("id", "sid", "uid", "ses", "ref", "seg", "exp", "cfg", "ab", "ts", "geo", "cnt")


def large_registry(size: int = 2000, *, seed: int = 7) -> Registry:
    """The base registry plus ``size - 10`` vendor entries, half of them ``*`` patterns.

    Names follow real vendors' prefixes; each pattern has a distinct literal prefix,
    so no two clash and none captures a base cookie name (checked below).
    """
    rng = random.Random(seed)
    cookies = list(BASE_COOKIES)
    optional = ("functional", "analytics", "marketing")
    index = 0
    while len(cookies) < size:
        prefix = _VENDOR_PREFIXES[index % len(_VENDOR_PREFIXES)]
        tag = "".join(rng.choices(string.ascii_lowercase + string.digits, k=5))
        category = rng.choice(optional)
        name = f"{prefix}{tag}*" if index % 2 else f"{prefix}{rng.choice(_WORDS)}_{tag}"
        cookies.append(Cookie(name, category=category, purpose="vendor", duration="1 year"))
        index += 1
    registry = Registry(CATEGORIES, cookies)
    small = Registry(CATEGORIES, BASE_COOKIES)
    names = [*request_names(30), *(n for n, _ in _REFUSED_COOKIES),
             *(set_cookie_name(v) for v in set_cookies(20))]
    for name in names:
        if registry.match(name) != small.match(name):
            raise RuntimeError(f"the large registry changes the entry for {name!r}")
    return registry


def small_registry() -> Registry:
    """The 10-entry registry."""
    return Registry(CATEGORIES, BASE_COOKIES)


def make_guard(registry: Registry | None = None, **options: Any) -> ConsentGuard:
    """A guard with the defaults a site would use (enforce, block unknown cookies)."""
    return ConsentGuard(registry or small_registry(), secret_key=SECRET, **options)


@functools.cache
def session_cookie_value(uid: int = 42) -> str:
    """A valid Starlette-style signed session: a logged-in user's ``session`` cookie."""
    data = base64.b64encode(json.dumps({"uid": uid, "cart": [1, 2, 3]}).encode())
    return TimestampSigner(SESSION_SECRET).sign(data).decode()


# Allowed request cookies, in the order a browser sends them (oldest first).
_REQUEST_COOKIES = (
    ("csrftoken", "f1c9a2b07d3e4c5a8b6f0e1d2c3b4a59"),
    ("lang", "en-GB"),
    ("theme", "dark"),
    ("_ga", "GA1.1.1234567890.1712345678"),
    ("_ga_ABC123XYZ", "GS1.1.1712345678.3.1.1712345999.0.0.0"),
    ("_gid", "GA1.2.987654321.1712345678"),
    ("_hjSession_1234567", "eyJpZCI6IjEyMyIsImMiOjE3MTIzNDU2Nzh9"),
    ("_hjSession_7654321", "eyJpZCI6IjQ1NiIsImMiOjE3MTIzNDU2Nzh9"),
)
# Refused (marketing) cookies a browser may still hold from before the choice.
_REFUSED_COOKIES = (
    ("_fbp", "fb.1.1712345678.123456789"),
    ("_gcl_au", "1.1.1234567890.1712345678"),
    ("_gcl_aw", "GCL.1712345678.Cj0KCQjw"),
    ("_gcl_dc", "GCL.1712345678.CjwKCAjw"),
    ("_gcl_gs", "2.1.k1$i1712345678"),
    ("_gcl_ha", "GCL.1712345678.EAIaIQob"),
)


def request_names(count: int) -> list[str]:
    """Names of the ``count`` allowed cookies used by :func:`cookie_header`."""
    names = ["session", *(n for n, _ in _REQUEST_COOKIES)]
    i = 0
    while len(names) < count:
        names.append(f"_ga_PROP{i:04d}" if i % 2 else f"_hjSession_{100000 + i}")
        i += 1
    return names[:count]


def cookie_header(consent: str | None, *, allowed: int = 11, refused: int = 0,
                  session: str | None = None, variant: int | None = None) -> str:
    """A ``Cookie`` header: ``allowed`` declared, accepted cookies, ``refused`` marketing
    cookies (distinct names: each is purged), then the consent cookie (if given).

    The default is the realistic 12 cookies: 11 + the consent cookie. ``session`` is the
    session cookie's value (default: a valid Starlette session); ``variant`` makes the
    other values (not the session's) unique to that number. The header is a new ``str``.
    """
    values = dict(_REQUEST_COOKIES)
    pairs = []
    for name in request_names(allowed):
        if name == "session":
            value = session or session_cookie_value()
        else:
            value = values.get(name, "GA1.1.1234567890.1712345678")
            if variant is not None:
                value = f"{variant:06d}{value}"
        pairs.append(f"{name}={value}")
    if refused > len(_REFUSED_COOKIES):
        raise ValueError(f"at most {len(_REFUSED_COOKIES)} refused cookies")
    pairs.extend(f"{name}={value}" for name, value in _REFUSED_COOKIES[:refused])
    if consent is not None:
        pairs.append(f"cg_consent={consent}")
    return "; ".join(pairs)


_SET_COOKIES = (
    "session=eyJ1aWQiOjQyfQ.Zh0abc.signature123; Path=/; HttpOnly; Secure; SameSite=Lax",
    "csrftoken=f1c9a2b07d3e4c5a8b6f0e1d2c3b4a59; Path=/; Max-Age=31449600; SameSite=Lax",
    "lang=en-GB; Path=/; Max-Age=31536000",
    "_ga=GA1.1.1234567890.1712345678; Domain=.example.com; Path=/; Max-Age=63072000",
    "_ga_ABC123XYZ=GS1.1.1712345678.3.1.1712345999.0.0.0; Domain=.example.com; Path=/; "
    "Max-Age=63072000",
    "_fbp=fb.1.1712345678.123456789; Domain=.example.com; Path=/; Max-Age=7776000",
)
UNDECLARED = "tracker_xyz=abc123; Path=/; Max-Age=86400"


def set_cookies(count: int = 7, *, variant: int | None = None) -> list[str]:
    """``count`` Set-Cookie values: the 6 declared (mixed categories) and the undeclared
    one first, then more analytics cookies (allowed) to reach ``count``.

    ``variant`` makes every value unique to that number (another visitor's response).
    """
    values = [*_SET_COOKIES, UNDECLARED]
    if variant is not None:
        values = [v.replace("=", f"={variant:06d}", 1) for v in values]
    i = 0
    while len(values) < count:
        values.append(f"_ga_PROP{i:04d}=GS1.1.{1712345678 + i}.1.0; Path=/; Max-Age=63072000")
        i += 1
    return values[:count]


def set_cookie_parts(count: int = 7) -> list[tuple[str, str]]:
    """:func:`set_cookies` split after each ``name=``: an app joins them per response
    (a new string each time, as ``set_cookie`` makes one), a tag between them when the
    values are to differ per response."""
    return [(f"{set_cookie_name(v)}=", v.split("=", 1)[1]) for v in set_cookies(count)]


def set_cookie_name(value: str) -> str:
    return value.split("=", 1)[0]


def response_headers(count: int = 7, *, variant: int | None = None) -> list[tuple[bytes, bytes]]:
    """A response's raw headers: content type and length, a cache header, the cookies."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"13"),
    ]
    headers.extend((b"set-cookie", v.encode("latin-1"))
                   for v in set_cookies(count, variant=variant))
    return headers


def consent_values(guard: ConsentGuard, count: int) -> list[str]:
    """``count`` distinct valid consent cookie values (a new visitor on each request)."""
    return [guard.encode_consent(ACCEPTED, consent_id=f"visitor{i:07d}") for i in range(count)]
