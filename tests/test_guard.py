"""The sans-I/O decision: ``guard.decide(...)`` and ``Decision.filter_headers``."""

from __future__ import annotations

import gc
import logging
import re
import tracemalloc
from typing import Any

import pytest
from support import NOW, SECRET, FrozenClock, make_registry

from consentguard import (
    Category,
    ConsentGuard,
    Cookie,
    Registry,
    UndeclaredCookieError,
    Violation,
)
from consentguard.cookies import is_deletion, set_cookie_name

Headers = list[tuple[str, str]]

# One Set-Cookie per declared cookie of the conftest registry, plus an undeclared one.
SET_COOKIES = {
    "session": "session=s1; Path=/; HttpOnly",
    "csrftoken": "csrftoken=t1; Path=/",
    "lang": "lang=en; Max-Age=31536000",
    "_ga": "_ga=GA1.2.3; Domain=.example.com; Max-Age=63072000",
    "_ga_ABC": "_ga_ABC=GS1.1; Domain=.example.com; Max-Age=63072000",
    "_fbp": "_fbp=fb.1.2; Max-Age=7776000",
    "ads_42": "ads_42=x; Path=/shop",
    "tracker": "tracker=1",  # undeclared
}
CATEGORY = {"session": "essential", "csrftoken": "essential", "lang": "functional",
            "_ga": "analytics", "_ga_ABC": "analytics", "_fbp": "marketing",
            "ads_42": "marketing"}


def response(*names: str) -> Headers:
    """Response headers setting ``names``, with two other headers around them."""
    return [("Content-Type", "text/html"),
            *[("Set-Cookie", SET_COOKIES[n]) for n in names],
            ("Content-Length", "12")]


def set_cookies(headers: Headers) -> list[str]:
    return [v for k, v in headers if k.lower() == "set-cookie"]


def names_set(headers: Headers) -> list[str | None]:
    return [set_cookie_name(v) for v in set_cookies(headers)]


def cache_control(headers: Headers) -> list[str]:
    return [v for k, v in headers if k.lower() == "cache-control"]


def consent_cookie(guard: ConsentGuard, *accepted: str) -> str:
    return f"{guard.cookie_name}={guard.encode_consent(accepted)}"


def deletion_target(header: str) -> tuple[str | None, str | None, str | None, bool]:
    """(name, Domain, Path, Secure) of a purge header, read back as a browser would."""
    assert is_deletion(header, NOW)
    attrs = dict(
        (k.strip().lower(), v.strip())
        for k, _, v in (part.partition("=") for part in header.split(";")[1:])
    )
    return set_cookie_name(header), attrs.get("domain"), attrs.get("path"), "secure" in attrs


# -- response side: which Set-Cookie headers pass -----------------------------------------------

ALL = tuple(SET_COOKIES)


@pytest.mark.parametrize(
    ("accepted", "passing"),
    [
        pytest.param((), {"session", "csrftoken"}, id="no-consent"),
        pytest.param(("analytics",), {"session", "csrftoken", "_ga", "_ga_ABC"}, id="analytics"),
        pytest.param(("functional", "marketing"),
                     {"session", "csrftoken", "lang", "_fbp", "ads_42"}, id="two-categories"),
        pytest.param(("*",), set(ALL) - {"tracker"}, id="everything"),
    ],
)
def test_only_accepted_categories_pass(guard: ConsentGuard, accepted: tuple[str, ...],
                                       passing: set[str]) -> None:
    cookie = consent_cookie(guard, *accepted) if accepted else None
    out = guard.decide(cookie).filter_headers(response(*ALL))
    assert set(names_set(out)) == passing
    assert names_set(out) == [n for n in ALL if n in passing]  # order kept


def test_refusal_is_the_same_as_no_consent(guard: ConsentGuard) -> None:
    out = guard.decide(consent_cookie(guard)).filter_headers(response(*ALL))
    assert set(names_set(out)) == {"session", "csrftoken"}


def test_allowed_headers_pass_verbatim_in_order_with_duplicates(guard: ConsentGuard) -> None:
    headers = [("Set-Cookie", "session=a; Path=/"), ("X-A", "1"),
               ("Set-Cookie", "_fbp=blocked"),
               ("Set-Cookie", "session=b; Path=/admin"), ("X-B", "2"),
               ("Set-Cookie", "_ga=\"quoted value\"; Secure"),
               ("Set-Cookie", "session=a; Path=/")]
    out = guard.decide(consent_cookie(guard, "analytics")).filter_headers(headers)
    expected = [h for h in headers if h[1] != "_fbp=blocked"]
    assert out[: len(expected)] == expected
    assert all(a is b for a, b in zip(out, expected, strict=False))  # the very same tuples


def test_header_names_are_case_insensitive(guard: ConsentGuard) -> None:
    headers = [("set-cookie", "_fbp=1"), ("SET-COOKIE", "_ga=1"), ("Set-cookie", "session=1")]
    assert guard.decide(None).filter_headers(headers) == [("Set-cookie", "session=1")]


def test_raw_headers_filter_the_same_way(guard: ConsentGuard) -> None:
    headers = [(b"content-type", b"text/html"), (b"set-cookie", b"_fbp=1"),
               (b"Set-Cookie", b"session=caf\xe9; Path=/"), (b"set-cookie", b"_ga=1")]
    out = guard.decide(consent_cookie(guard, "analytics")).filter_raw_headers(headers)
    assert out[:3] == [headers[0], headers[2], headers[3]]
    assert out[3] == (b"Cache-Control", b"private")


def test_cookie_names_are_case_sensitive(guard: ConsentGuard) -> None:
    # "Session" is not the declared "session": undeclared, so blocked.
    out = guard.decide(None).filter_headers([("Set-Cookie", "Session=1")])
    assert set_cookies(out) == []


def test_nameless_set_cookie_is_not_taken_for_a_declared_name(guard: ConsentGuard) -> None:
    # "session" without '=' sets a cookie with an empty name and the value "session".
    out = guard.decide(None).filter_headers([("Set-Cookie", "session")])
    assert set_cookies(out) == []


def test_headers_a_browser_ignores_are_dropped_and_reported(registry: Registry,
                                                             clock: FrozenClock) -> None:
    seen: list[Violation] = []
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, on_violation=seen.append)
    out = guard.decide(None).filter_headers([("Set-Cookie", "session=1\x00; Path=/")])
    assert set_cookies(out) == []
    assert [v.kind for v in seen] == ["ignored"]


# -- deletions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("_fbp=; Max-Age=0", id="max-age-zero"),
        pytest.param("_fbp=; Max-Age=-1; Path=/", id="max-age-negative"),
        pytest.param("_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", id="expires-epoch"),
        pytest.param("ads_7=; Path=/shop; Max-Age=0", id="pattern"),
        pytest.param("tracker=; Max-Age=0", id="undeclared"),
    ],
)
def test_deletions_always_pass(guard: ConsentGuard, header: str) -> None:
    out = guard.decide(None).filter_headers([("Set-Cookie", header)])
    assert out == [("Set-Cookie", header)]  # and it is no reason to go private


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("_fbp=1; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=0x", id="bad-max-age"),
        pytest.param("_fbp=1; Max-Age=0; Max-Age=60", id="last-max-age-stores"),
        pytest.param("_fbp=1; Expires=not a date", id="bad-expires"),
        # Found by the security review: Chromium stored each (the last attribute decides).
        pytest.param("_ga=GA1; Max-Age=0; Max-Age=+63072000", id="plus-max-age"),
        pytest.param("_ga=GA1; Max-Age=0; Max-Age=x", id="unparseable-max-age"),
        pytest.param("_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage",
                     id="unparseable-expires"),
        pytest.param("_ga=GA1; Max-Age=0; Max-Age=+63072000; Path=/undeclared",
                     id="undeclared-path"),
        pytest.param("tracker=GA1; Max-Age=0; Max-Age=+63072000", id="undeclared-name"),
    ],
)
@pytest.mark.parametrize("form", ["str", "bytes"])
def test_lookalike_deletions_are_blocked(guard: ConsentGuard, header: str, form: str) -> None:
    decision = guard.decide(None)
    for _ in range(3):  # and again, once the guard has seen them
        if form == "str":
            assert decision.filter_headers([("Set-Cookie", header)]) == []
        else:
            raw = [(b"set-cookie", header.encode("latin-1"))]
            assert decision.filter_raw_headers(raw) == []


@pytest.mark.parametrize(("date", "passes"), [
    (None, True),
    ("Sat, 01 Jan 2000 00:00:00 GMT", True),
    # Chromium shifts Expires by (now - Date): with a Date before the Expires, the cookie
    # would be stored for decades.
    ("Mon, 01 Jan 1900 00:00:00 GMT", False),
    ("yesterday", False),  # a Date the guard cannot read: no Expires is trusted
])
def test_an_expires_deletion_is_judged_against_the_response_date(
        guard: ConsentGuard, date: str | None, passes: bool) -> None:
    header = ("Set-Cookie", "_fbp=; Expires=Sat, 01 Jan 1980 00:00:00 GMT")
    headers = [header] if date is None else [header, ("Date", date)]
    out = guard.decide(None).filter_headers(headers)
    assert (header in out) is passes


def test_deletions_pass_even_with_unknown_raise(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, unknown="raise")
    out = guard.decide(None).filter_headers([("Set-Cookie", "tracker=; Max-Age=0")])
    assert out == [("Set-Cookie", "tracker=; Max-Age=0")]


# -- unknown cookies -----------------------------------------------------------------------------


def test_unknown_block_removes_and_logs_once_per_name(guard: ConsentGuard,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        for _ in range(3):
            assert guard.decide(None).filter_headers(response("tracker")) == response()
        guard.decide(None).filter_headers([("Set-Cookie", "other=1")])
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "'tracker'" in m]) == 1
    assert len([m for m in messages if "'other'" in m]) == 1


def test_unknown_allow_passes_and_marks_private(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, unknown="allow")
    out = guard.decide(None).filter_headers(response("tracker", "_fbp"))
    assert names_set(out) == ["tracker"]
    assert cache_control(out) == ["private"]


def test_unknown_raise(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, unknown="raise")
    decision = guard.decide(None)
    with pytest.raises(UndeclaredCookieError, match=r"'tracker'.*Fix:") as info:
        decision.filter_headers(response("session", "tracker"))
    assert info.value.name == "tracker"
    # Declared cookies, even refused ones, never raise.
    assert names_set(decision.filter_headers(response("session", "_fbp"))) == ["session"]


def test_unknown_request_cookies(registry: Registry, clock: FrozenClock) -> None:
    header = "session=1; tracker=2"
    blocked = ConsentGuard(registry, secret_key=SECRET, clock=clock).decide(header, host="a.b")
    assert blocked.cookie_header == "session=1"
    assert blocked.purge == ()  # nothing declared to purge
    allowed = ConsentGuard(registry, secret_key=SECRET, clock=clock, unknown="allow")
    assert allowed.decide(header).cookie_header == header


# -- report-only and violations ------------------------------------------------------------------


def test_report_only_changes_nothing_and_reports_everything(registry: Registry,
                                                            clock: FrozenClock) -> None:
    seen: list[Violation] = []
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, mode="report-only",
                         on_violation=seen.append)
    request = "session=1; _ga=2; lang=3; tracker=4"
    decision = guard.decide(request, host="www.example.com", path="/page")
    assert decision.cookie_header == request and not decision.cookie_changed
    assert decision.purge == ()
    headers = response(*ALL)
    assert decision.filter_headers(headers) == headers
    raw = [(k.encode(), v.encode()) for k, v in headers]
    assert decision.filter_raw_headers(raw) == raw
    reported = {(v.kind, v.name, v.category, v.action) for v in seen}
    assert reported == {
        ("request-cookie", "_ga", "analytics", "reported"),
        ("request-cookie", "lang", "functional", "reported"),
        ("request-cookie", "tracker", None, "reported"),
        ("set-cookie", "lang", "functional", "reported"),
        ("set-cookie", "_ga", "analytics", "reported"),
        ("set-cookie", "_ga_ABC", "analytics", "reported"),
        ("set-cookie", "_fbp", "marketing", "reported"),
        ("set-cookie", "ads_42", "marketing", "reported"),
        ("set-cookie", "tracker", None, "reported"),
    }
    assert all(v.path == "/page" for v in seen)


def test_enforce_reports_removals(registry: Registry, clock: FrozenClock) -> None:
    seen: list[Violation] = []
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, on_violation=seen.append)
    guard.decide("_fbp=1", path="/x").filter_headers(response("session", "_ga"))
    assert seen == [
        Violation("request-cookie", "_fbp", "marketing", "removed", "_fbp=1", "/x"),
        Violation("set-cookie", "_ga", "analytics", "removed", SET_COOKIES["_ga"], "/x"),
    ]


def test_a_failing_callback_is_logged_not_raised(registry: Registry, clock: FrozenClock,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken(violation: Violation) -> None:
        raise RuntimeError("reporting backend down")

    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, on_violation=broken)
    with caplog.at_level(logging.ERROR, logger="consentguard"):
        out = guard.decide(None).filter_headers(response("session", "_ga"))
    assert names_set(out) == ["session"]
    assert any("on_violation" in r.getMessage() for r in caplog.records)


# -- request side: hidden cookies and purges -----------------------------------------------------


def test_refused_request_cookies_are_hidden_verbatim_in_order(guard: ConsentGuard) -> None:
    consent = consent_cookie(guard, "analytics")
    header = f'session=a b; lang=en; _ga="q=1"; {consent}; _fbp=x; session=dup; _ga_X=1'
    decision = guard.decide(header)
    assert decision.cookie_header == f'session=a b; _ga="q=1"; {consent}; session=dup; _ga_X=1'
    assert decision.cookie_changed


def test_an_unchanged_cookie_header_is_passed_through_untouched(guard: ConsentGuard) -> None:
    header = "session=1;csrftoken=2 ;  session=3"  # odd spacing is kept when nothing is removed
    decision = guard.decide(header)
    assert decision.cookie_header is header and not decision.cookie_changed
    assert decision.purge == ()


@pytest.mark.parametrize("header", [None, "", "_fbp=1; lang=2"])
def test_no_cookies_left_is_none(guard: ConsentGuard, header: str | None) -> None:
    assert guard.decide(header).cookie_header is None


def test_the_consent_cookie_is_always_visible(guard: ConsentGuard) -> None:
    header = "cg_consent=forged"
    assert guard.decide(header).cookie_header == header


def test_purge_refused_declared_cookies_everywhere_they_can_live(guard: ConsentGuard) -> None:
    decision = guard.decide("_fbp=1; _ga=2; ads_9=3; _fbp=4; session=5; tracker=6",
                            host="www.example.com:8443")
    targets = [deletion_target(h) for h in decision.purge]
    assert targets == [
        # _fbp: host-only, then the host and its parent domain; once although sent twice.
        ("_fbp", None, "/", False),
        ("_fbp", "www.example.com", "/", False),
        ("_fbp", "example.com", "/", False),
        # _ga is declared on .example.com: that domain first.
        ("_ga", None, "/", False),
        ("_ga", "example.com", "/", False),
        ("_ga", "www.example.com", "/", False),
        # ads_* is declared with Path=/shop: deletions must carry it.
        ("ads_9", None, "/shop", False),
        ("ads_9", "www.example.com", "/shop", False),
        ("ads_9", "example.com", "/shop", False),
    ]
    out = decision.filter_headers([("Content-Type", "text/html")])
    assert set_cookies(out) == list(decision.purge)
    assert cache_control(out) == ["private"]


@pytest.mark.parametrize("host", [
    pytest.param("a." * 600 + "example.com", id="no-host-name"),  # the review's
    pytest.param("a." * 121 + "example.com", id="longest-host-name"),
    pytest.param("www.example.com", id="plain"),
])
def test_a_request_cannot_make_the_purge_large(guard: ConsentGuard, host: str) -> None:
    # The security review: a 7.4 KB request (a long Host, many refused cookies) drew
    # 240 KB of response headers, 161 Set-Cookie lines.
    cookie = "; ".join(f"_ga_{n}=1" for n in range(600))[: 7400 - len(host)]
    out = guard.decide(cookie, host=host).filter_headers(response("session"))
    purge = [v for k, v in out if k == "Set-Cookie"][1:]
    assert purge  # refused cookies are still purged, a few at a time
    assert sum(map(len, purge)) <= 4096
    assert sum(len(k) + len(v) for k, v in out) <= 6 * 1024  # lines included
    assert all(host not in v for v in purge) or len(host) <= 253


def test_purge_on_localhost_is_host_only(guard: ConsentGuard) -> None:
    decision = guard.decide("_fbp=1", host="localhost:8000")
    assert [deletion_target(h) for h in decision.purge] == [("_fbp", None, "/", False)]


def test_purge_of_a_host_prefixed_cookie(clock: FrozenClock) -> None:
    registry = make_registry(extra=(Cookie("__Host-ad", category="marketing"),
                                    Cookie("__Secure-ad", category="marketing")))
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock)
    decision = guard.decide("__Host-ad=1; __Secure-ad=2", host="www.example.com")
    assert [deletion_target(h) for h in decision.purge] == [
        ("__Host-ad", None, "/", True),  # host-only: a __Host- cookie has no Domain
        ("__Secure-ad", None, "/", True),
        ("__Secure-ad", "www.example.com", "/", True),
        ("__Secure-ad", "example.com", "/", True),
    ]


def test_purge_headers_are_sent_once_per_response(guard: ConsentGuard) -> None:
    decision = guard.decide("_fbp=1", host="example.com")
    out = decision.filter_headers(response("session"))
    assert len(set_cookies(out)) == 1 + len(decision.purge)


# -- cookie tossing: several consent cookies -----------------------------------------------------


def test_a_forged_consent_next_to_a_valid_one_loses(guard: ConsentGuard) -> None:
    valid = guard.encode_consent(["analytics"])
    forged = valid.rsplit(".", 1)[0] + ".forgedsignatureforgedsignatureforgedsig"
    for header in (f"cg_consent={forged}; cg_consent={valid}",
                   f"cg_consent={valid}; cg_consent={forged}"):
        decision = guard.decide(header)
        assert decision.accepted == frozenset({"essential", "analytics"})


def test_two_valid_consents_give_only_what_both_accept(guard: ConsentGuard) -> None:
    wide = guard.encode_consent(["analytics", "marketing"])
    other = guard.encode_consent(["analytics", "functional"])
    decision = guard.decide(f"cg_consent={wide}; cg_consent={other}; _fbp=1; lang=2; _ga=3")
    assert decision.accepted == frozenset({"essential", "analytics"})
    assert decision.consent is not None
    assert decision.consent.accepted == frozenset({"analytics"})
    assert "_fbp" not in (decision.cookie_header or "")
    assert "lang" not in (decision.cookie_header or "")


def test_a_planted_accept_all_never_widens_a_refusal(guard: ConsentGuard) -> None:
    planted = guard.encode_consent(["*"])
    own = guard.encode_consent([])
    decision = guard.decide(f"cg_consent={planted}; cg_consent={own}")
    assert decision.accepted == frozenset({"essential"})
    assert names_set(decision.filter_headers(response(*ALL))) == ["session", "csrftoken"]


def test_an_expired_consent_next_to_a_valid_one(guard: ConsentGuard, clock: FrozenClock) -> None:
    old = guard.encode_consent(["*"])
    clock.advance(200 * 86400)
    fresh = guard.encode_consent(["analytics"])
    decision = guard.decide(f"cg_consent={old}; cg_consent={fresh}")
    assert decision.accepted == frozenset({"essential", "analytics"})


# -- Global Privacy Control and DNT --------------------------------------------------------------


def test_gpc_without_a_choice_allows_nothing_optional(guard: ConsentGuard) -> None:
    decision = guard.decide(None, gpc=True)
    assert decision.accepted == frozenset({"essential"})
    assert decision.needs_consent


def test_an_explicit_opt_in_wins_over_gpc_by_default(guard: ConsentGuard) -> None:
    decision = guard.decide(consent_cookie(guard, "marketing"), gpc=True)
    assert decision.allows("marketing")
    assert "_fbp" in names_set(decision.filter_headers(response("_fbp")))


def test_gpc_can_override_an_opt_in(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, gpc_overrides_consent=True)
    header = consent_cookie(guard, "marketing", "analytics") + "; _fbp=1; _ga=2"
    decision = guard.decide(header, gpc=True, host="example.com")
    assert decision.accepted == frozenset({"essential", "analytics"})
    assert names_set(decision.filter_headers(response("_fbp", "_ga"))) == ["_ga", "_fbp", "_fbp"]
    assert "_fbp" not in (decision.cookie_header or "")
    assert {deletion_target(h)[0] for h in decision.purge} == {"_fbp"}
    # Without the signal the opt-in stands.
    assert guard.decide(header).allows("marketing")


def test_gpc_categories_are_configurable(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, gpc_overrides_consent=True,
                         gpc_categories=["analytics", "marketing"])
    decision = guard.decide(consent_cookie(guard, "*"), gpc=True)
    assert decision.accepted == frozenset({"essential", "functional"})


@pytest.mark.parametrize(("honor_dnt", "allowed"), [(False, True), (True, False)])
def test_dnt_only_counts_when_honoured(registry: Registry, clock: FrozenClock, honor_dnt: bool,
                                       allowed: bool) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, honor_dnt=honor_dnt,
                         gpc_overrides_consent=True)
    assert guard.decide(consent_cookie(guard, "*"), dnt=True).allows("marketing") is allowed


@pytest.mark.parametrize("categories", [["adverts"], ["essential"]])
def test_gpc_categories_must_be_optional_and_declared(registry: Registry,
                                                      categories: list[str]) -> None:
    with pytest.raises(ValueError, match=repr(categories[0])):
        ConsentGuard(registry, secret_key=SECRET, gpc_categories=categories)


def test_defaults_work_with_a_registry_without_marketing() -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")],
                        [Cookie("session", category="essential")])
    ConsentGuard(registry, secret_key=SECRET)


# -- cache safety --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        pytest.param([], ["private"], id="none"),
        pytest.param(["public, max-age=600"], ["max-age=600, private"], id="public"),
        pytest.param(["s-maxage=600, max-age=60"], ["max-age=60, private"], id="s-maxage"),
        pytest.param(["Public, S-MaxAge=5, must-revalidate"], ["must-revalidate, private"],
                     id="case-insensitive"),
        pytest.param(["public", "max-age=60"], ["max-age=60, private"], id="two-headers-merged"),
        pytest.param(["private, max-age=60"], ["private, max-age=60"], id="already-private"),
        pytest.param(["no-store"], ["no-store"], id="no-store"),
        pytest.param(["max-age=60", "NO-STORE"], ["max-age=60", "NO-STORE"], id="no-store-later"),
        pytest.param(['private="Set-Cookie"'], ['private="Set-Cookie"'], id="qualified-private"),
    ],
)
def test_cache_control_when_a_consent_only_cookie_passes(
    guard: ConsentGuard, existing: list[str], expected: list[str]
) -> None:
    headers = [("Cache-Control", v) for v in existing] + response("_ga")
    out = guard.decide(consent_cookie(guard, "analytics")).filter_headers(headers)
    assert cache_control(out) == expected
    assert names_set(out) == ["_ga"]


def test_cache_control_in_raw_headers(guard: ConsentGuard) -> None:
    headers = [(b"cache-control", b"public, max-age=60"), (b"set-cookie", b"_ga=1")]
    out = guard.decide(consent_cookie(guard, "analytics")).filter_raw_headers(headers)
    assert out == [(b"cache-control", b"max-age=60, private"), (b"set-cookie", b"_ga=1")]


@pytest.mark.parametrize(
    "names",
    [pytest.param((), id="no-cookies"), pytest.param(("session", "csrftoken"), id="required"),
     pytest.param(("_ga",), id="refused-and-removed")],
)
def test_no_cache_control_without_consent_only_cookies(guard: ConsentGuard,
                                                       names: tuple[str, ...]) -> None:
    headers = [("Cache-Control", "public, max-age=600"), *response(*names)]
    out = guard.decide(None).filter_headers(headers)
    assert cache_control(out) == ["public, max-age=600"]


def test_cache_control_option_off(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, cache_control=False)
    headers = [("Cache-Control", "public"), *response("_ga")]
    out = guard.decide(consent_cookie(guard, "analytics") + "; _fbp=1").filter_headers(headers)
    assert cache_control(out) == ["public"]


# -- the decision object and configuration -------------------------------------------------------


def test_decision_exposes_consent_and_accepted(guard: ConsentGuard) -> None:
    decision = guard.decide(consent_cookie(guard, "functional"))
    assert decision.consent is not None and decision.consent.allows("functional")
    assert decision.accepted == frozenset({"essential", "functional"})
    assert decision.allows("functional") and not decision.allows("analytics")
    assert not decision.needs_consent
    first = guard.decide(None)
    assert first.consent is None and first.needs_consent


def test_a_custom_consent_cookie_name(registry: Registry, clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, cookie_name="__Host-consent")
    value = guard.encode_consent(["analytics"])
    assert guard.decide(f"__Host-consent={value}").allows("analytics")
    assert not guard.decide(f"cg_consent={value}").allows("analytics")


def test_consent_cookie_header_defaults(guard: ConsentGuard) -> None:
    header = guard.consent_cookie_header("v", accepts_something=True)
    assert set_cookie_name(header) == "cg_consent"
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=15552000"):
        assert attribute in header.split("; ")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        pytest.param({"unknown": "deny"}, "unknown must be", id="unknown"),
        pytest.param({"mode": "audit"}, "mode must be", id="mode"),
        pytest.param({"endpoint": "consent"}, "endpoint must be", id="endpoint-relative"),
        pytest.param({"endpoint": "/consent/"}, "endpoint must be", id="endpoint-slash"),
        pytest.param({"cookie_samesite": "lax"}, "cookie_samesite", id="samesite"),
        pytest.param({"cache_size": 0}, "cache_size must be a positive int", id="cache-0"),
        pytest.param({"cache_size": 1.5}, "cache_size must be a positive int", id="cache-float"),
        pytest.param({"cache_size": True}, "cache_size must be a positive int", id="cache-bool"),
    ],
)
def test_bad_options_are_value_errors(registry: Registry, options: dict[str, object],
                                      words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        ConsentGuard(registry, secret_key=SECRET, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("option", [
    "registry", "unknown", "mode", "report_only", "endpoint", "cookie_name", "on_violation",
    "on_consent", "gpc_categories", "gpc_overrides_consent", "honor_dnt", "gpc_json",
    "cache_control", "cookie_secure", "cookie_samesite", "cookie_domain", "cookie_path",
    "trusted_origins", "clock", "codec", "cache_size",
])
def test_options_are_fixed_at_construction(guard: ConsentGuard, option: str) -> None:
    before = getattr(guard, option)
    with pytest.raises(AttributeError):
        setattr(guard, option, before)
    assert getattr(guard, option) is before


def test_the_codec_remembers_as_many_values_as_cache_size(registry: Registry) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, cache_size=7)
    assert guard.cache_size == guard.codec.cache_size == 7


def test_registry_must_be_a_registry() -> None:
    with pytest.raises(TypeError):
        ConsentGuard({"cookies": []}, secret_key=SECRET)  # type: ignore[arg-type]


# -- names no browser holds, and nameless cookies posing as declared ones --------------------------


_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def test_purge_headers_are_valid_header_values(guard: ConsentGuard) -> None:
    decision = guard.decide("_ga_\x01x=1; _ga_\x0bx=2", host="example.com")
    assert all(_FIELD_VALUE.fullmatch(h) for h in decision.purge)


def test_nameless_cookie_cannot_smuggle_a_refused_one(registry: Registry,
                                                      clock: FrozenClock) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, unknown="allow")
    out = guard.decide(None).filter_headers([("Set-Cookie", "=_ga=GA1.2.3; Max-Age=600")])
    assert set_cookies(out) == []


def test_nameless_request_cookie_is_not_read_as_a_refused_one(registry: Registry,
                                                              clock: FrozenClock) -> None:
    from werkzeug.http import parse_cookie

    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock, unknown="allow")
    seen = guard.decide("session=1; _ga").cookie_header or ""
    assert "_ga" not in parse_cookie(seen)


def test_a_nameless_pair_stands_for_the_cookie_it_names() -> None:
    # (Found by the enforcement property with a registry declaring "_".) Lenient readers
    # take "=_" for the cookie "_": it passes or goes as "_" would.
    registry = Registry([Category("essential", required=True), Category("marketing")],
                        [Cookie("_", category="essential"), Cookie("_m", category="marketing")])
    guard = ConsentGuard(registry, secret_key=SECRET)
    assert guard.decide("_=; =_").cookie_header == "_=; =_"
    assert guard.decide("_=1; =_m").cookie_header == "_=1"  # refused marketing
    assert guard.decide("_=1; =").cookie_header == "_=1"  # names nothing: undeclared


# -- memory: a remembered visitor costs a small multiple of its Cookie header ---------------------


def _hostile_header(visitor: int, name: str) -> str:
    """About 8 KiB of ~1,300 tiny pairs, different for each visitor (so each is remembered)."""
    names = [name.format(visitor=visitor, n=n) for n in range(1300)]
    return "; ".join(f"{n}={visitor}" for n in names)[:8000]


@pytest.mark.parametrize(("name", "options"), [
    pytest.param("x{n}", {}, id="undeclared"),
    pytest.param("x{n}", {"on_violation": lambda v: None}, id="undeclared-reported"),
    pytest.param("x{n}", {"unknown": "allow"}, id="undeclared-allowed"),
    pytest.param("x{n}", {"mode": "report-only"}, id="report-only"),
    pytest.param("_ga_{n}", {}, id="refused-purged"),
    pytest.param("_ga_{visitor}_{n}", {}, id="refused-new-names-each-visit"),
])
def test_a_remembered_visitor_costs_a_small_multiple_of_its_cookie_header(
        registry: Registry, clock: FrozenClock, name: str, options: dict[str, Any]) -> None:
    # The security review: a report kept per hidden pair made such a visitor cost 205 KiB,
    # 821 MiB per guard at the default cache_size. What remembering costs is what a guard
    # that remembers them all holds beyond one that remembers one (cache_size=1): the
    # bounded per-guard tables are the same in both.
    visitors = 48
    headers = [_hostile_header(visitor, name) for visitor in range(visitors)]
    held = [_held(ConsentGuard(registry, secret_key=SECRET, clock=clock, cache_size=size,
                               **options), name, headers)
            for size in (visitors, 1)]
    sent = sum(len(header) for header in headers)
    assert held[0] - held[1] <= 4 * sent, f"{(held[0] - held[1]) / visitors / 1024:.1f} KiB"


def _held(guard: ConsentGuard, name: str, headers: list[str]) -> int:
    """The bytes ``guard`` holds after deciding ``headers`` (copies, as a server makes)."""
    for visitor in range(-8, 0):  # the per-guard tables fill up first
        guard.decide(_hostile_header(visitor, name), host="www.example.com")
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for header in headers:
            guard.decide("".join(header), host="www.example.com", path="/")
        gc.collect()
        return int(tracemalloc.get_traced_memory()[0] - start)
    finally:
        tracemalloc.stop()


# -- names as the app's parsers read them ---------------------------------------------------------


@pytest.mark.parametrize("prefix", ["\xa0", "\x0b", "\x1c", "\x85", "\x1f", "\u3000"])
@pytest.mark.parametrize("unknown", ["allow", "block"])
def test_request_names_are_judged_as_the_apps_parsers_read_them(
        registry: Registry, clock: FrozenClock, prefix: str, unknown: str) -> None:
    # The security review: Starlette and Django strip names with str.strip(), so these
    # reached the app as _ga and _fbp, which the visitor refused.
    from django.http.cookie import parse_cookie
    from starlette.requests import cookie_parser

    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock,
                         unknown=unknown)  # type: ignore[arg-type]
    sent = f"{prefix}_ga=GA1; _fbp{prefix}=fb; session=s1; lang=en"
    for _ in range(2):  # and once the verdicts are remembered
        seen = guard.decide(sent, host="www.example.com").cookie_header or ""
        for parsed in (cookie_parser(seen), parse_cookie(seen)):
            assert "_ga" not in parsed and "_fbp" not in parsed
            assert parsed["session"] == "s1"
    consented = guard.decide(f"{sent}; {consent_cookie(guard, 'analytics', 'marketing')}")
    assert consented.cookie_header is not None
    # Accepted by consent, undeclared as sent: it passes only when undeclared ones do.
    assert ("_ga" in cookie_parser(consented.cookie_header)) is (unknown == "allow")


@pytest.mark.parametrize("header", [
    " =_ga=1", "\t=_ga=1; Path=/", "\xa0_ga=1", "_ga\x85=1; Max-Age=60", "=\xa0_ga=1",
])
@pytest.mark.parametrize("unknown", ["allow", "block"])
def test_set_cookie_names_are_judged_as_the_browser_sends_them_back(
        registry: Registry, clock: FrozenClock, header: str, unknown: str) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock,
                         unknown=unknown)  # type: ignore[arg-type]
    for _ in range(2):
        assert guard.decide(None).filter_headers([("Set-Cookie", header)]) == []
        raw = [(b"Set-Cookie", header.encode("latin-1"))]
        assert guard.decide(None).filter_raw_headers(raw) == []


# -- the consent cookie against cookie tossing -----------------------------------------------------


@pytest.mark.parametrize(("options", "fix"), [
    pytest.param({"cookie_domain": "example.com"}, "remove cookie_domain", id="host-domain"),
    pytest.param({"cookie_path": "/app"}, "cookie_path='/'", id="host-path"),
    pytest.param({"cookie_secure": False}, "drop cookie_secure=False", id="host-not-secure"),
    pytest.param({"cookie_name": "__Secure-cg_consent", "cookie_secure": False},
                 "drop cookie_secure=False", id="secure-not-secure"),
    pytest.param({"cookie_name": "__HOST-cg_consent"}, "write the prefix as '__Host-'",
                 id="prefix-case"),
])
def test_a_prefixed_consent_cookie_browsers_would_refuse_is_a_clear_error(
        registry: Registry, options: dict[str, Any], fix: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fix)):
        ConsentGuard(registry, secret_key=SECRET,
                     **{"cookie_name": "__Host-cg_consent", **options})


@pytest.mark.parametrize("secure", ["auto", True])
def test_a_host_prefixed_consent_cookie_is_written_as_browsers_require(
        registry: Registry, clock: FrozenClock, secure: Any) -> None:
    guard = ConsentGuard(registry, secret_key=SECRET, clock=clock,
                         cookie_name="__Host-cg_consent", cookie_secure=secure)
    value = guard.encode_consent(["analytics"])
    header = guard.consent_cookie_header(value, accepts_something=True, https=False)
    attributes = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
    assert header.startswith(f"__Host-cg_consent={value};")
    assert "secure" in attributes and "domain" not in attributes and "Path=/" in header
    assert guard.decide(f"__Host-cg_consent={value}").allows("analytics")


def test_a_planted_accept_all_is_ignored_by_a_host_prefixed_guard(
        registry: Registry, clock: FrozenClock) -> None:
    # Cookie tossing on a first visit: an attacker accepts everything on the site, then
    # plants that (validly signed) value for the victim from a sibling subdomain with
    # Domain=. Browsers refuse a __Host- cookie with Domain=, so the attacker can only
    # plant the unprefixed name, which a __Host- guard does not read.
    plain = ConsentGuard(registry, secret_key=SECRET, clock=clock)
    planted = f"cg_consent={plain.encode_consent(['*'])}; session=s1"
    assert plain.decide(planted).allows("marketing")  # the limit the README states
    hardened = ConsentGuard(registry, secret_key=SECRET, clock=clock,
                            cookie_name="__Host-cg_consent")
    decision = hardened.decide(planted)
    assert decision.consent is None and decision.needs_consent
    assert decision.accepted == registry.required
