"""The consent endpoint, every status code, through both adapters.

Each test runs twice: through the WSGI adapter (werkzeug's test client) and through the
ASGI adapter (httpx's ASGI transport), since the endpoint is one function translated by
each adapter.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import anyio
import httpx
import pytest
from apps import (
    Driver,
    Reply,
    StartResponseRecorder,
    asgi_app,
    asgi_request,
    call_asgi,
    cookie_header,
    deleted,
    deletions_of,
    environ,
    expected,
    flask_app,
    http_scope,
    set_cookie_values,
    starlette_app,
    stored_names,
    via_asgi,
    via_wsgi,
    wsgi_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from support import (
    EXTRA_ANALYTICS,
    HOST,
    NOW,
    ORIGIN,
    SECRET,
    FrozenClock,
    make_guard,
    make_registry,
)
from werkzeug.test import Client

from consentguard import Category, Consent, ConsentGuard, Cookie, Registry
from consentguard.asgi import record_proof_async
from consentguard.cookies import purge_domains, set_cookie_name
from consentguard.endpoint import (
    EndpointRequest,
    EndpointResponse,
    handle,
    is_endpoint_path,
    may_be_endpoint_path,
    record_proof,
)
from consentguard.log import ConsentRecord

SAME_ORIGIN = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
FORM = "application/x-www-form-urlencoded"


def form(fields: Sequence[tuple[str, str]]) -> bytes:
    return urlencode(fields).encode()


def post_form(send: Driver, guard: ConsentGuard, fields: Sequence[tuple[str, str]],
              headers: dict[str, str] | None = None, path: str = "/_consent") -> Reply:
    return send(guard, "POST", path, headers=SAME_ORIGIN if headers is None else headers,
                body=form(fields), content_type=FORM)


def post_json(send: Driver, guard: ConsentGuard, data: Any,
              headers: dict[str, str] | None = None) -> Reply:
    return send(guard, "POST", "/_consent", headers={**SAME_ORIGIN, **(headers or {})},
                body=json.dumps(data).encode(), content_type="application/json")


def decoded(guard: ConsentGuard, reply: Reply) -> Consent:
    consent = guard.decode_consent(reply.consent_value())
    assert consent is not None
    return consent


# -- GET ------------------------------------------------------------------------------------


def test_get_state_before_any_choice(send: Driver) -> None:
    reply = send(make_guard(), "GET", "/_consent")
    assert reply.status == 200
    assert reply.header("content-type") == "application/json"
    assert reply.header("cache-control") == "no-store"
    assert reply.set_cookies == []
    state = reply.json()
    assert state["consent"] is None and state["needs_consent"] is True
    assert state["gpc"] == {"signal": False, "categories": ["marketing"], "applied": False}
    categories = {c["name"]: c for c in state["categories"]}
    assert list(categories) == ["essential", "functional", "analytics", "marketing"]
    assert categories["essential"]["required"] is True
    assert categories["essential"]["accepted"] is True
    assert categories["analytics"] | {"cookies": None} == {
        "name": "analytics", "title": "Analytics", "description": "Help us understand usage",
        "required": False, "accepted": False, "consent_mode": [], "cookies": None}
    cookies = {c["name"]: c for c in categories["functional"]["cookies"]}
    assert cookies["lang"]["storage"] == "cookie"
    assert cookies["theme"]["storage"] == "localStorage"  # storage keys are listed too
    assert [c["name"] for c in categories["analytics"]["cookies"]] == ["_ga", "_ga_*", "stats"]
    assert categories["analytics"]["cookies"][0]["provider"] == "Google Analytics"


def test_get_state_with_consent(send: Driver) -> None:
    guard = make_guard(max_age=timedelta(days=30))
    value = guard.encode_consent(["analytics"], consent_id="abc123")
    state = send(guard, "GET", "/_consent",
                 headers={"Cookie": f"cg_consent={value}"}).json()
    assert state["needs_consent"] is False
    consent = state["consent"]
    assert consent["id"] == "abc123"
    issued = datetime.fromisoformat(consent["issued"])
    assert issued == datetime.fromtimestamp(int(NOW), tz=timezone.utc)
    assert datetime.fromisoformat(consent["expires"]) - issued == timedelta(days=30)
    assert consent["accepted"] == ["analytics"]
    assert consent["refused"] == ["functional", "marketing"]
    assert {c["name"]: c["accepted"] for c in state["categories"]} == {
        "essential": True, "functional": False, "analytics": True, "marketing": False}


def test_each_visitor_gets_their_own_accepted_flags_from_one_guard(send: Driver) -> None:
    # The registry's part of the state is worked out once per registry; the per-visitor
    # part must never carry over from the visitor before.
    guard = make_guard()
    value = guard.encode_consent(["analytics"])
    for cookie, analytics in ((f"cg_consent={value}", True), ("", False), (None, False),
                              (f"cg_consent={value}", True)):
        headers = {"Cookie": cookie} if cookie is not None else {}
        state = send(guard, "GET", "/_consent", headers=headers).json()
        accepted = {c["name"]: c["accepted"] for c in state["categories"]}
        assert accepted["analytics"] is analytics and accepted["essential"] is True


@pytest.mark.parametrize("host", [
    "a.b.c.d.shop.example.co.uk", "shop.example.co.uk:8443", "www.demo.test", "site.github.io",
    "co.uk", "127.0.0.1:8000", "localhost",
])
def test_state_names_the_domains_the_banner_clears(send: Driver, host: str) -> None:
    # The server's purge domains, down to the registrable domain (Public Suffix List):
    # the banner deletes refused script cookies on the same ones, never on co.uk.
    state = send(make_guard(), "GET", "/_consent", host=host).json()
    assert state["purge_domains"] == [d for d in purge_domains(host) if d is not None]


def test_state_stops_clearing_at_the_registrable_domain(send: Driver) -> None:
    state = send(make_guard(), "GET", "/_consent", host="a.b.c.d.shop.example.co.uk").json()
    assert state["purge_domains"] == ["a.b.c.d.shop.example.co.uk", "d.shop.example.co.uk",
                                      "shop.example.co.uk", "example.co.uk"]


@pytest.mark.parametrize("path", ["/_consent", "/_consent/banner.js", "/.well-known/gpc.json"])
def test_head_is_get_without_a_body(send: Driver, path: str) -> None:
    # RFC 9110 9.3.2: the headers of the GET, Content-Length included, and no body.
    guard = make_guard(gpc_json=True)
    get, head = send(guard, "GET", path), send(guard, "HEAD", path)
    assert head.status == 200 and head.body == b"" and get.body
    assert head.all("content-length") == [str(len(get.body))]
    assert sorted(head.headers) == sorted(get.headers)


# -- POST -----------------------------------------------------------------------------------


def test_form_post_with_repeated_accept_fields(send: Driver) -> None:
    guard = make_guard(max_age=3600)
    reply = post_form(send, guard, [("accept", "analytics"), ("accept", "functional"),
                                    ("next", "/blog/post?id=3#top")])
    assert reply.status == 303
    assert reply.header("location") == "/blog/post?id=3#top"
    assert reply.header("cache-control") == "no-store"
    (cookie,) = [c for c in reply.set_cookies if c.startswith("cg_consent=")]
    attributes = [a.strip() for a in cookie.split(";")[1:]]
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=3600"} <= set(attributes)
    assert not [a for a in attributes if a.lower().startswith("domain")]
    consent = decoded(guard, reply)
    assert consent.accepted == {"analytics", "functional"}
    assert consent.refused == {"marketing"}


def test_form_post_accept_star_is_all(send: Driver) -> None:
    guard = make_guard()
    consent = decoded(guard, post_form(send, guard, [("accept", "*")]))
    assert consent.accepted == {"functional", "analytics", "marketing"}


def test_form_post_without_accept_rejects_all(send: Driver) -> None:
    guard = make_guard(max_age=3600, refusal_max_age=600)
    reply = post_form(send, guard, [])
    assert reply.status == 303 and reply.header("location") == "/"
    consent = decoded(guard, reply)
    assert consent.accepted == frozenset() and consent.is_refusal
    assert consent.refused == {"functional", "analytics", "marketing"}
    assert "Max-Age=600" in reply.set_cookies[0]


def test_json_post_answers_the_new_state(send: Driver) -> None:
    guard = make_guard()
    reply = post_json(send, guard, {"accept": ["marketing"], "next": "//ignored"})
    assert reply.status == 200
    assert reply.header("cache-control") == "no-store"
    state = reply.json()
    assert state["consent"]["accepted"] == ["marketing"]
    assert state["needs_consent"] is False
    assert {c["name"]: c["accepted"] for c in state["categories"]}["marketing"] is True
    assert decoded(guard, reply).id == state["consent"]["id"]


def test_form_post_asking_for_json_gets_json(send: Driver) -> None:
    guard = make_guard()
    reply = post_form(send, guard, [("accept", "analytics")],
                      headers={**SAME_ORIGIN, "Accept": "application/json"})
    assert reply.status == 200 and reply.json()["consent"]["accepted"] == ["analytics"]


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(lambda send, g: send(g, "DELETE", "/_consent", headers=SAME_ORIGIN),
                     id="DELETE"),
        pytest.param(lambda send, g: post_form(send, g, [("withdraw", "1"),
                                                         ("accept", "analytics")]),
                     id="form-withdraw"),
        pytest.param(lambda send, g: post_json(send, g, {"withdraw": True, "accept": ["*"]}),
                     id="json-withdraw"),
    ],
)
def test_withdraw(send: Driver, how: Callable[[Driver, ConsentGuard], Reply]) -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append)
    reply = how(send, guard)
    assert reply.status in (200, 303)
    assert decoded(guard, reply).accepted == frozenset()
    assert [r.action for r in records] == ["withdraw"]


def test_delete_answers_json_not_a_redirect(send: Driver) -> None:
    guard = make_guard()
    reply = send(guard, "DELETE", "/_consent", headers=SAME_ORIGIN)
    assert reply.status == 200
    state = reply.json()
    assert state["consent"]["accepted"] == [] and state["needs_consent"] is False


def test_delete_purges_what_was_accepted(send: Driver) -> None:
    guard = make_guard()
    value = guard.encode_consent(["analytics"])
    reply = send(guard, "DELETE", "/_consent",
                 headers={**SAME_ORIGIN, "Cookie": f"_ga=1; session=2; cg_consent={value}"})
    assert [d.get("domain") for d in deletions_of("_ga", reply.set_cookies)] == [
        None, "example.com", "www.example.com"]
    assert deletions_of("session", reply.set_cookies) == []


def test_without_a_host_header_the_asgi_endpoint_purges_on_the_server_name() -> None:
    # As WSGI's SERVER_NAME and a page's purge: the server's name stands in for Host.
    guard = make_guard()
    value = guard.encode_consent(["analytics"])
    scope = http_scope("/_consent", method="DELETE", cookie=f"_ga=1; cg_consent={value}",
                       headers=[(b"sec-fetch-site", b"same-origin")])
    scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"host"]
    sent = asyncio.run(call_asgi(guard.asgi(asgi_app), scope))
    assert sent[0]["status"] == 200
    lines = [v.decode("latin-1") for n, v in sent[0]["headers"] if n == b"set-cookie"]
    assert [d.get("domain") for d in deletions_of("_ga", lines)] == [
        None, "example.com", "www.example.com"]


def test_a_new_choice_purges_every_cookie_of_a_now_refused_category(send: Driver) -> None:
    guard = make_guard()
    before = guard.encode_consent(["analytics", "functional", "marketing"])
    browser = cookie_header({"session": "1", "lang": "fr", "_ga": "2", "_ga_XYZ": "3",
                             "stats": "4", "_fbp": "5", "cg_consent": before})
    reply = post_form(send, guard, [("accept", "functional")],
                      headers={**SAME_ORIGIN, "Cookie": browser})
    assert reply.status == 303
    assert {set_cookie_name(v) for v in deleted(reply.set_cookies)} == {
        "_ga", "_ga_XYZ", "stats", "_fbp"}
    assert {d["path"] for d in deletions_of("stats", reply.set_cookies)} == {"/blog"}
    assert stored_names(reply.set_cookies) == ["cg_consent"]


def test_unknown_category_is_400_naming_it(send: Driver) -> None:
    guard = make_guard()
    for reply in (post_form(send, guard, [("accept", "analytics"), ("accept", "telemetry")]),
                  post_json(send, guard, {"accept": ["telemetry"]})):
        assert reply.status == 400
        assert "telemetry" in reply.json()["error"]
        assert reply.header("cache-control") == "no-store"
        assert reply.set_cookies == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"{not json", "application/json", 400, id="bad-json"),
        pytest.param(b'["analytics"]', "application/json", 400, id="json-not-object"),
        pytest.param(b'{"accept": [1]}', "application/json", 400, id="accept-not-strings"),
        pytest.param(b"\xff\xfe", FORM, 400, id="form-not-utf8"),
        pytest.param(b"accept=analytics", "text/plain", 415, id="unsupported-media-type"),
    ],
)
def test_bad_bodies(send: Driver, body: bytes, content_type: str, status: int) -> None:
    reply = send(make_guard(), "POST", "/_consent", headers=SAME_ORIGIN, body=body,
                 content_type=content_type)
    assert reply.status == status
    assert reply.set_cookies == []
    assert reply.header("cache-control") == "no-store"


def test_body_over_16_kib_is_413(send: Driver) -> None:
    guard = make_guard()
    accept_many = form([("accept", "analytics")] * 1100)  # 17.6 KB
    assert len(accept_many) > 16 * 1024
    reply = send(guard, "POST", "/_consent", headers=SAME_ORIGIN, body=accept_many,
                 content_type=FORM)
    assert reply.status == 413 and reply.set_cookies == []
    assert reply.header("cache-control") == "no-store"
    just_under = form([("accept", "analytics")] * 900)
    assert send(guard, "POST", "/_consent", headers=SAME_ORIGIN, body=just_under,
                content_type=FORM).status == 303


@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS"])
def test_wrong_method_is_405_with_allow(send: Driver, method: str) -> None:
    reply = send(make_guard(), method, "/_consent", headers=SAME_ORIGIN)
    assert reply.status == 405
    assert reply.header("allow") == "GET, HEAD, POST, DELETE"
    assert reply.header("cache-control") == "no-store"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-cross-site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="fetch-same-site"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": ORIGIN}, id="fetch-wins"),
        pytest.param({"Origin": "https://evil.example"}, id="other-origin"),
        pytest.param({"Origin": "https://shop.example.com"}, id="sibling-subdomain"),
        pytest.param({"Origin": f"{ORIGIN}:8443"}, id="other-port"),
        pytest.param({"Origin": "null"}, id="null-origin"),
        pytest.param({"Origin": "http://www.example.com"}, id="http-origin-on-https"),
        pytest.param({"Origin": "https://[::1"}, id="unparseable-origin"),
        pytest.param({"Origin": "https://[www.example.com]"}, id="bracketed-origin"),
    ],
)
def test_cross_site_post_is_403(send: Driver, headers: dict[str, str]) -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append)
    for method in ("POST", "DELETE"):
        reply = send(guard, method, "/_consent", headers=headers,
                     body=form([("accept", "*")]), content_type=FORM)
        assert reply.status == 403
        assert reply.set_cookies == []
        assert reply.header("cache-control") == "no-store"
    assert records == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="only-fetch-site"),
        pytest.param({"Origin": ORIGIN}, id="only-origin"),
        pytest.param({"Origin": f"{ORIGIN}:443"}, id="origin-default-port"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="fetch-site-none"),
        pytest.param({}, id="no-browser-signal"),
        # Only a browser sends Sec-Fetch-Site, and a page cannot set it: it wins (as in Go).
        pytest.param({"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
                     id="fetch-site-wins-over-origin"),
        # Behind a proxy that rewrites Host (the deployment of issue 12).
        pytest.param({"Host": "127.0.0.1:8000", "Origin": "https://shop.example.com",
                      "Sec-Fetch-Site": "same-origin"}, id="proxy-rewrites-host"),
    ],
)
def test_same_origin_post_is_allowed(send: Driver, headers: dict[str, str]) -> None:
    reply = post_form(send, make_guard(), [("accept", "analytics")], headers=headers)
    assert reply.status == 303


@pytest.mark.parametrize(
    "next_",
    [
        "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
        "javascript:alert(1)", "/a\r\nSet-Cookie: x=1", "/\x00", "/\tx", "", "evil.example",
        "http:/evil", " /x", "/" + "a" * 2001,
    ],
    ids=["scheme-relative", "backslash", "double-backslash", "absolute", "javascript",
         "crlf", "nul", "tab", "empty", "no-slash", "http-colon", "leading-space", "too-long"],
)
def test_unsafe_next_falls_back_to_exactly_slash(send: Driver, next_: str) -> None:
    reply = post_form(send, make_guard(), [("accept", "analytics"), ("next", next_)])
    assert reply.status == 303
    assert reply.header("location") == "/"


@pytest.mark.parametrize("next_", ["/", "/blog/", "/a?b=c&d=e", "/a#frag", "/%2F%2Fevil"])
def test_safe_next_is_kept(send: Driver, next_: str) -> None:
    reply = post_form(send, make_guard(), [("next", next_)])
    assert reply.header("location") == next_


def test_non_ascii_next_is_safe(send: Driver) -> None:
    reply = post_form(send, make_guard(), [("next", "/café/日本")])
    assert reply.status == 303
    location = reply.header("location")
    assert location is not None and location.isascii()
    assert unquote(location) in ("/", "/café/日本")


def test_endpoint_none_lets_the_app_answer(send: Driver) -> None:
    guard = make_guard(endpoint=None)
    reply = send(guard, "GET", "/_consent")
    assert reply.status == 200 and reply.json()["has_consent_key"] is True
    reply = post_form(send, guard, [("accept", "*")])
    assert reply.status == 200 and "cg_consent" not in " ".join(reply.set_cookies)


def test_custom_endpoint_path(send: Driver) -> None:
    guard = make_guard(endpoint="/privacy/choice")
    assert send(guard, "GET", "/privacy/choice").json()["endpoint"] == "/privacy/choice"
    assert send(guard, "GET", "/_consent").json()["has_consent_key"] is True


# -- GPC / DNT ------------------------------------------------------------------------------


def test_gpc_json_served_when_configured(send: Driver) -> None:
    reply = send(make_guard(gpc_json=True), "GET", "/.well-known/gpc.json")
    assert reply.status == 200 and reply.json() == {"gpc": True}
    assert reply.header("content-type") == "application/json"
    dated = send(make_guard(gpc_json="2026-04-20"), "GET", "/.well-known/gpc.json")
    assert dated.json() == {"gpc": True, "lastUpdate": "2026-04-20"}
    assert send(make_guard(gpc_json=True), "POST", "/.well-known/gpc.json",
                headers=SAME_ORIGIN).status == 405


def test_gpc_json_left_to_the_app_when_not_configured(send: Driver) -> None:
    reply = send(make_guard(), "GET", "/.well-known/gpc.json")
    assert reply.json()["has_consent_key"] is True  # the fixture app answered


@pytest.mark.parametrize(
    ("options", "sec_gpc", "with_consent", "applied"),
    [
        ({}, "1", False, True),
        ({}, "1", True, False),  # the explicit choice wins by default
        ({"gpc_overrides_consent": True}, "1", True, True),
        ({}, "true", False, False),  # only the exact value 1 counts
        ({}, None, False, False),
    ],
)
def test_gpc_state(send: Driver, options: dict[str, Any], sec_gpc: str | None,
                   with_consent: bool, applied: bool) -> None:
    guard = make_guard(**options)
    headers = {} if sec_gpc is None else {"Sec-GPC": sec_gpc}
    if with_consent:
        headers["Cookie"] = f"cg_consent={guard.encode_consent(['*'])}"
    state = send(guard, "GET", "/_consent", headers=headers).json()
    assert state["gpc"] == {"signal": sec_gpc == "1", "categories": ["marketing"],
                            "applied": applied}
    marketing = {c["name"]: c["accepted"] for c in state["categories"]}["marketing"]
    assert marketing is (with_consent and not applied)


def test_gpc_with_gpc_overrides_consent_blocks_marketing_even_after_opt_in(send: Driver
                                                                          ) -> None:
    guard = make_guard(gpc_overrides_consent=True)
    value = guard.encode_consent(["*"])
    reply = send(guard, "GET", "/", headers={"Cookie": f"cg_consent={value}", "Sec-GPC": "1"})
    assert stored_names(reply.set_cookies) == expected("functional", "analytics")
    reply = send(guard, "GET", "/", headers={"Cookie": f"cg_consent={value}"})
    assert stored_names(reply.set_cookies) == expected("functional", "analytics", "marketing")


@pytest.mark.parametrize(("honor_dnt", "marketing_passes"), [(False, True), (True, False)])
def test_dnt_only_with_honor_dnt(send: Driver, honor_dnt: bool, marketing_passes: bool
                                 ) -> None:
    guard = make_guard(honor_dnt=honor_dnt, gpc_overrides_consent=True)
    value = guard.encode_consent(["marketing"])
    reply = send(guard, "GET", "/", headers={"Cookie": f"cg_consent={value}", "DNT": "1"})
    assert ("_fbp" in stored_names(reply.set_cookies)) is marketing_passes


@pytest.mark.parametrize("honor_dnt", [False, True])
def test_dnt_shows_in_the_state_only_with_honor_dnt(send: Driver, honor_dnt: bool) -> None:
    state = send(make_guard(honor_dnt=honor_dnt), "GET", "/_consent",
                 headers={"DNT": "1"}).json()
    assert state["gpc"]["signal"] is honor_dnt and state["gpc"]["applied"] is honor_dnt


def test_gpc_categories_configurable(send: Driver) -> None:
    guard = make_guard(gpc_categories=["analytics", "marketing"], gpc_overrides_consent=True)
    value = guard.encode_consent(["*"])
    reply = send(guard, "GET", "/", headers={"Cookie": f"cg_consent={value}", "Sec-GPC": "1"})
    assert stored_names(reply.set_cookies) == expected("functional")


def test_default_gpc_categories_work_without_a_marketing_category() -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")],
                        [Cookie("_ga", category="analytics")])
    guard = ConsentGuard(registry, SECRET)
    assert guard.gpc_categories == frozenset()


# -- re-consent -----------------------------------------------------------------------------


def test_a_category_gaining_a_cookie_lapses_consent_for_that_category_only(send: Driver
                                                                            ) -> None:
    before = make_guard()
    value = before.encode_consent(["analytics", "functional"])
    after = make_guard(make_registry(extra=[EXTRA_ANALYTICS]))
    headers = {"Cookie": f"cg_consent={value}"}
    state = send(after, "GET", "/_consent", headers=headers).json()
    assert state["needs_consent"] is True
    assert state["consent"]["accepted"] == ["functional"]
    assert state["consent"]["stale"] == ["analytics"]
    assert stored_names(send(after, "GET", "/", headers=headers).set_cookies) == expected(
        "functional")
    # Still fine under the registry it was given for.
    assert send(before, "GET", "/_consent", headers=headers).json()["needs_consent"] is False


def test_a_new_registry_version_lapses_every_optional_category(send: Driver) -> None:
    value = make_guard(make_registry(version="1")).encode_consent(["*"])
    after = make_guard(make_registry(version="2"))
    state = send(after, "GET", "/_consent", headers={"Cookie": f"cg_consent={value}"}).json()
    assert state["needs_consent"] is True
    assert state["consent"]["accepted"] == []


def test_refusals_and_acceptances_have_separate_lifetimes(send: Driver) -> None:
    clock = FrozenClock()
    guard = make_guard(clock=clock, max_age=timedelta(days=30),
                       refusal_max_age=timedelta(days=1))
    refusal = post_form(send, guard, [])
    acceptance = post_form(send, guard, [("accept", "analytics")])
    assert f"Max-Age={86400}" in refusal.set_cookies[0]
    assert f"Max-Age={30 * 86400}" in acceptance.set_cookies[0]
    clock.advance(2 * 86400)
    for reply, needs in ((refusal, True), (acceptance, False)):
        state = send(guard, "GET", "/_consent",
                     headers={"Cookie": f"cg_consent={reply.consent_value()}"}).json()
        assert state["needs_consent"] is needs


def test_long_lifetimes_log_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        make_guard(max_age=timedelta(days=400))
    assert "13 months" in caplog.text


# -- proof of consent -----------------------------------------------------------------------


def test_on_consent_record(send: Driver) -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append, registry=make_registry(version="v7"))
    reply = post_form(send, guard, [("accept", "analytics")],
                      headers={**SAME_ORIGIN, "Sec-GPC": "1", "X-Forwarded-For": "203.0.113.9"})
    (record,) = records
    consent = decoded(guard, reply)
    assert record.consent_id == consent.id
    assert record.timestamp == datetime.fromtimestamp(int(NOW), tz=timezone.utc)
    assert record.registry_version == "v7"
    assert dict(record.revisions) == {"analytics": guard.registry.revisions["analytics"]}
    assert record.accepted == ("analytics",)
    assert record.refused == ("functional", "marketing")
    assert record.action == "custom"
    assert record.gpc is True
    text = json.dumps(record.to_json())
    assert "203.0.113.9" not in text and "127.0.0.1" not in text
    assert set(record.to_json()) == {"consent_id", "timestamp", "action", "accepted", "refused",
                                     "registry_version", "revisions", "gpc"}
    assert ConsentRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    ("fields", "action"),
    [
        ([("accept", "*")], "accept_all"),
        ([("accept", "functional"), ("accept", "analytics"), ("accept", "marketing")],
         "accept_all"),
        ([], "reject_all"),
        ([("accept", "essential")], "reject_all"),
        ([("accept", "marketing")], "custom"),
        ([("withdraw", "1")], "withdraw"),
    ],
)
def test_record_actions(send: Driver, fields: list[tuple[str, str]], action: str) -> None:
    records: list[ConsentRecord] = []
    post_form(send, make_guard(on_consent=records.append), fields)
    assert [r.action for r in records] == [action]
    assert records[0].gpc is False


def test_no_record_for_reads_and_refused_requests(send: Driver) -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append)
    send(guard, "GET", "/_consent")
    post_form(send, guard, [("accept", "nope")])
    post_form(send, guard, [("accept", "*")], headers={"Origin": "null"})
    assert records == []


def _disk_full(record: ConsentRecord) -> None:
    raise OSError("disk full")


@pytest.mark.parametrize("how", ["form", "json"])
def test_an_accepting_choice_that_cannot_be_recorded_is_not_stored(
        send: Driver, how: str, caplog: pytest.LogCaptureFixture) -> None:
    guard = make_guard(on_consent=_disk_full)
    cookie = cookie_header({"_ga": "GA1"})
    with caplog.at_level(logging.ERROR, logger="consentguard"):
        if how == "form":
            reply = post_form(send, guard, [("accept", "analytics"), ("next", "/shop")],
                              headers={**SAME_ORIGIN, "Cookie": cookie})
        else:
            reply = post_json(send, guard, {"accept": ["analytics"]},
                              headers={**SAME_ORIGIN, "Cookie": cookie})
    assert reply.status == 503
    assert reply.set_cookies == []  # no consent cookie, and nothing purged either
    assert reply.header("cache-control") == "no-store"
    if how == "form":  # a plain page that leads back
        assert reply.header("content-type") == "text/html; charset=utf-8"
        assert b"could not be recorded" in reply.body and b'href="/shop"' in reply.body
    else:
        assert "could not be recorded" in reply.json()["error"]
    assert "on_consent" in caplog.text and "disk full" in caplog.text


@pytest.mark.parametrize("fields", [
    pytest.param([], id="reject-all"),
    pytest.param([("withdraw", "1")], id="withdraw"),
])
def test_a_refusal_is_honoured_even_when_it_cannot_be_recorded(
        send: Driver, fields: list[tuple[str, str]], caplog: pytest.LogCaptureFixture) -> None:
    guard = make_guard(on_consent=_disk_full)
    cookie = cookie_header({"cg_consent": guard.encode_consent(["analytics"]), "_ga": "GA1"})
    with caplog.at_level(logging.ERROR, logger="consentguard"):
        reply = post_form(send, guard, fields, headers={**SAME_ORIGIN, "Cookie": cookie})
    assert reply.status == 303
    assert decoded(guard, reply).accepted == frozenset()
    assert deletions_of("_ga", reply.set_cookies)
    assert "on_consent" in caplog.text


def test_a_delete_is_honoured_even_when_it_cannot_be_recorded(send: Driver) -> None:
    guard = make_guard(on_consent=_disk_full)
    cookie = cookie_header({"cg_consent": guard.encode_consent(["analytics"])})
    reply = send(guard, "DELETE", "/_consent", headers={**SAME_ORIGIN, "Cookie": cookie})
    assert reply.status == 200 and decoded(guard, reply).accepted == frozenset()


# -- the docs' HTML form -------------------------------------------------------------------

# Keep identical to the no-JavaScript example in docs/reference/endpoint.md: this test
# submits it the way a browser does, button by button.
DOCS_FORM = """
<form method="post" action="/_consent">
  <input type="hidden" name="next" value="/pricing">
  <button type="submit" name="accept" value="*">Accept all</button>
</form>
<form method="post" action="/_consent">
  <input type="hidden" name="next" value="/pricing">
  <button type="submit">Reject all</button>
</form>
<form method="post" action="/_consent">
  <input type="hidden" name="next" value="/pricing">
  <label><input type="checkbox" name="accept" value="functional"> Preferences</label>
  <label><input type="checkbox" name="accept" value="analytics"> Statistics</label>
  <label><input type="checkbox" name="accept" value="marketing"> Advertising</label>
  <button type="submit">Save my choice</button>
</form>
<form method="post" action="/_consent">
  <button type="submit" name="withdraw" value="1">Withdraw my consent</button>
</form>
"""


@dataclass
class HTMLForm:
    method: str
    action: str
    inputs: list[dict[str, str]]
    buttons: dict[str, dict[str, str]]  # label -> attributes


class FormParser(HTMLParser):
    """Just enough HTML form parsing to submit a form the way a browser does."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[HTMLForm] = []
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(HTMLForm(attributes.get("method", "get").upper(),
                                       attributes.get("action", ""), [], {}))
        elif tag == "input":
            self.forms[-1].inputs.append(attributes)
        elif tag == "button":
            self._button = attributes

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.forms[-1].buttons[data.strip()] = self._button
            self._button = None


def submit(button: str, tick: frozenset[str] | set[str] = frozenset()
           ) -> tuple[HTMLForm, list[tuple[str, str]]]:
    """The form holding ``button`` and the fields a browser sends when it is clicked
    with the checkboxes whose value is in ``tick`` checked (HTML form submission rules)."""
    parser = FormParser()
    parser.feed(DOCS_FORM)
    (form,) = [f for f in parser.forms if button in f.buttons]
    fields = []
    for field in form.inputs:
        kind = field.get("type", "text")
        if kind == "hidden" or (kind == "checkbox" and field.get("value", "on") in tick):
            fields.append((field["name"], field.get("value", "on")))
    pressed = form.buttons[button]
    if pressed.get("name"):
        fields.append((pressed["name"], pressed.get("value", "")))
    return form, fields


@pytest.mark.parametrize(
    ("button", "tick", "accepted", "action", "location"),
    [
        ("Accept all", set(), {"functional", "analytics", "marketing"}, "accept_all",
         "/pricing"),
        ("Reject all", set(), set(), "reject_all", "/pricing"),
        ("Save my choice", {"analytics"}, {"analytics"}, "custom", "/pricing"),
        ("Save my choice", {"functional", "analytics", "marketing"},
         {"functional", "analytics", "marketing"}, "accept_all", "/pricing"),
        ("Save my choice", set(), set(), "reject_all", "/pricing"),
        ("Withdraw my consent", set(), set(), "withdraw", "/"),
    ],
)
def test_the_readme_form_works_without_javascript(
    send: Driver, button: str, tick: set[str], accepted: set[str], action: str, location: str
) -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append)
    form, fields = submit(button, tick)
    assert (form.method, form.action) == ("POST", "/_consent")
    # A browser sends Origin with a form POST, and Sec-Fetch-Site.
    reply = post_form(send, guard, fields, headers=SAME_ORIGIN, path=form.action)
    assert reply.status == 303
    assert reply.header("location") == location
    assert decoded(guard, reply).accepted == accepted
    assert [r.action for r in records] == [action]


def test_the_tested_form_is_the_one_the_docs_show() -> None:
    # The form above is tested because readers copy it from the docs: keep them one.
    page = Path(__file__).resolve().parent.parent / "docs" / "reference" / "endpoint.md"
    assert DOCS_FORM.strip() in page.read_text(encoding="utf-8")


def test_wsgi_body_without_content_length_is_not_a_silent_reject() -> None:
    guard = make_guard()
    env = environ("/_consent", method="POST", CONTENT_TYPE=FORM, HTTP_ORIGIN=ORIGIN)
    env["wsgi.input"] = io.BytesIO(b"accept=analytics")
    env["wsgi.input_terminated"] = True  # the server ends the stream (chunked upload)
    recorder = StartResponseRecorder()
    b"".join(guard.wsgi(wsgi_app)(env, recorder))
    if recorder.status.startswith("411"):  # refusing is fine too: nothing was recorded
        assert not [c for c in set_cookie_values(recorder.headers) if "cg_consent" in c]
        return
    assert recorder.status.startswith("303")
    (value,) = [c.split(";")[0].partition("=")[2] for c in set_cookie_values(recorder.headers)
                if c.startswith("cg_consent=")]
    consent = guard.decode_consent(value)
    assert consent is not None and consent.accepted == {"analytics"}


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the examples of a property (asyncio.run makes one per call)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["", "_consent", "shop", "_consent.js", ".well-known",
                                 "gpc.json", "x"]), max_size=5),
       st.integers(min_value=0, max_value=5), st.sampled_from(["/_consent", "/c", None]),
       st.booleans())
def test_the_adapters_quick_path_test_never_skips_an_endpoint_path(
        loop: asyncio.AbstractEventLoop, segments: list[str], mount: int,
        endpoint: str | None, gpc_json: bool) -> None:
    # The ASGI adapter first asks may_be_endpoint_path of the full path (a mount's
    # root_path included), then is_endpoint_path of the path inside the app: the endpoint
    # must answer exactly when the path inside the app is one of its paths.
    guard = make_guard(endpoint=endpoint, gpc_json=gpc_json)
    path = "/" + "/".join(segments)
    root = "/" + "/".join(segments[:mount]) if mount and mount <= len(segments) else ""
    app_path = path[len(root):] or "/"  # the ASGI spec: path less the mount's root_path
    sent = loop.run_until_complete(call_asgi(guard.asgi(asgi_app),
                                             http_scope(path, root_path=root)))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    app_answered = b'"has_consent_key"' in body
    assert app_answered is not is_endpoint_path(guard, app_path)
    if is_endpoint_path(guard, path):  # the quick test also holds for the full path
        assert may_be_endpoint_path(guard, path)


# -- storing the proof: handle() is pure, the adapters store -------------------------------


def _request(method: str = "POST", body: bytes = b"accept=analytics", *,
             headers: dict[str, str] | None = None, scheme: str = "https") -> EndpointRequest:
    return EndpointRequest(method=method, path="/_consent", headers={
        "host": HOST, "content-type": FORM, **(headers or {})}, body=body, scheme=scheme)


def _handle(guard: ConsentGuard, request: EndpointRequest,
            cookie: str | None = None) -> EndpointResponse:
    return handle(guard, guard.decide(cookie, host=HOST), request, cookie_header=cookie)


def test_handle_returns_the_proof_and_never_stores_it() -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append)
    accepting = _handle(guard, _request())
    refusing = _handle(guard, _request(body=b""))
    assert records == []
    assert accepting.record is not None and accepting.record.action == "custom"
    assert accepting.unrecorded is not None and accepting.unrecorded.status == 503
    assert refusing.record is not None and refusing.record.action == "reject_all"
    assert refusing.unrecorded is None  # a refusal is sent whatever happens to its record
    assert record_proof(guard, accepting) is accepting
    assert [r.action for r in records] == ["custom"]


def test_no_record_without_on_consent() -> None:
    response = _handle(make_guard(), _request())
    assert response.record is None and response.unrecorded is None


def test_record_proof_of_a_failing_store_sends_the_503() -> None:
    guard = make_guard(on_consent=_disk_full)
    response = _handle(guard, _request())
    assert record_proof(guard, response) is response.unrecorded
    refusal = _handle(guard, _request(body=b""))
    assert record_proof(guard, refusal) is refusal


def test_an_async_on_consent_cannot_record_under_wsgi(caplog: pytest.LogCaptureFixture) -> None:
    async def store(record: ConsentRecord) -> None:
        raise AssertionError("never awaited")

    guard = make_guard(on_consent=store)
    with caplog.at_level(logging.ERROR, logger="consentguard"):
        reply = post_form(via_wsgi, guard, [("accept", "analytics")])
    assert reply.status == 503 and reply.set_cookies == []
    assert "coroutine function can only record proof under ASGI" in caplog.text


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_asgi_stores_proof_off_the_event_loop(backend: str) -> None:
    # A store that blocks (SQLite waiting on another writer) holds up its own request only.
    entered, release = threading.Event(), threading.Event()
    records: list[ConsentRecord] = []

    def locked_store(record: ConsentRecord) -> None:
        entered.set()
        release.wait(5)
        records.append(record)

    app = make_guard(on_consent=locked_store).asgi(asgi_app)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client, \
                anyio.create_task_group() as tasks:
            replies: list[httpx.Response] = []

            async def post() -> None:
                replies.append(await client.post("/_consent", data={"accept": "analytics"},
                                                 headers=SAME_ORIGIN))

            tasks.start_soon(post)
            while not entered.is_set():
                await anyio.sleep(0.005)
            with anyio.fail_after(2):
                page = await client.get("/")
            assert page.status_code == 200
            assert replies == []  # the choice is still waiting for its store
            release.set()
        assert [r.status_code for r in replies] == [303]

    anyio.run(go, backend=backend)
    assert len(records) == 1


class _AsyncStore:
    def __init__(self) -> None:
        self.records: list[ConsentRecord] = []

    async def __call__(self, record: ConsentRecord) -> None:
        await anyio.sleep(0)
        self.records.append(record)


def test_asgi_awaits_an_async_on_consent() -> None:
    records: list[ConsentRecord] = []

    async def store(record: ConsentRecord) -> None:
        assert threading.current_thread() is threading.main_thread()  # on the loop
        records.append(record)

    callable_store = _AsyncStore()
    for on_consent in (store, callable_store):
        reply = post_form(via_asgi, make_guard(on_consent=on_consent), [("accept", "analytics")])
        assert reply.status == 303
    assert len(records) == 1 and len(callable_store.records) == 1


def test_asgi_async_store_failure_is_a_503() -> None:
    async def store(record: ConsentRecord) -> None:
        raise OSError("disk full")

    reply = post_json(via_asgi, make_guard(on_consent=store), {"accept": ["analytics"]})
    assert reply.status == 503 and reply.set_cookies == []
    assert "could not be recorded" in reply.json()["error"]


# -- hostile bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    pytest.param(b"[" * 16_000, id="16000-brackets"),
    pytest.param(b'{"accept":' + b"[" * 5000 + b"]" * 5000 + b"}", id="deep-accept"),
    pytest.param(b"{" + b'"a":{' * 3000, id="deep-objects"),
])
def test_deeply_nested_json_is_400(send: Driver, body: bytes) -> None:
    reply = send(make_guard(), "POST", "/_consent", headers=SAME_ORIGIN, body=body,
                 content_type="application/json")
    assert reply.status == 400 and reply.set_cookies == []
    assert "invalid JSON body" in reply.json()["error"]


KNOWN_STATUSES = {200, 303, 400, 403, 405, 413, 415, 503}


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["POST", "DELETE", "PUT"]),
    content_type=st.sampled_from([
        "application/json", FORM, "", "multipart/form-data; boundary=b",
        "multipart/form-data", "text/plain", "application/json; charset=latin-1"]),
    body=st.one_of(
        st.binary(max_size=512),
        st.text(alphabet="[]{}\":,acept*1 \\u0000", max_size=2000).map(str.encode),
        st.integers(1, 20_000).map(lambda n: b"[" * n),
        st.lists(st.sampled_from([b"--b\r\n", b"Content-Disposition: form-data; name=\"accept\"",
                                  b"\r\n\r\n", b"analytics", b"--b--\r\n", b"\r\n", b"x"]),
                 max_size=30).map(b"".join),
    ),
    fail=st.booleans(),
)
def test_no_body_makes_the_endpoint_raise(method: str, content_type: str, body: bytes,
                                          fail: bool) -> None:
    guard = make_guard(on_consent=_disk_full if fail else None)
    request = _request(method, body, headers={"content-type": content_type,
                                              "sec-fetch-site": "same-origin"})
    response = record_proof(guard, _handle(guard, request))
    assert response.status in KNOWN_STATUSES
    if response.status >= 400:
        assert not [v for k, v in response.headers if k == "Set-Cookie"]


# -- multipart forms (Django's and some clients' default encoding) ---------------------------


def _multipart(fields: Sequence[tuple[str, str]], boundary: str = "cgBoundary") -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def test_multipart_form_records_a_choice(send: Driver) -> None:
    body = _multipart([("accept", "analytics"), ("accept", "functional"), ("next", "/shop")])
    reply = send(make_guard(), "POST", "/_consent", headers=SAME_ORIGIN, body=body,
                 content_type="multipart/form-data; boundary=cgBoundary")
    assert reply.status == 303 and reply.header("location") == "/shop"
    assert decoded(make_guard(), reply).accepted == {"analytics", "functional"}


@pytest.mark.parametrize(("body", "content_type", "status"), [
    pytest.param(_multipart([("accept", "analytics")] * 900),
                 "multipart/form-data; boundary=cgBoundary", 413, id="over-16-kib"),
    pytest.param(_multipart([("accept", "analytics")]), "multipart/form-data", 400,
                 id="no-boundary"),
    pytest.param(b"--cgBoundary\r\nContent-Disposition: form-data; name=\"accept\"\r\n\r\nanaly",
                 "multipart/form-data; boundary=cgBoundary", 400, id="truncated"),
    pytest.param(_multipart([("accept", "nope")]), "multipart/form-data; boundary=cgBoundary",
                 400, id="unknown-category"),
])
def test_bad_multipart_forms(send: Driver, body: bytes, content_type: str, status: int) -> None:
    reply = send(make_guard(), "POST", "/_consent", headers=SAME_ORIGIN, body=body,
                 content_type=content_type)
    assert reply.status == status and reply.set_cookies == []


def test_multipart_file_fields_are_ignored(send: Driver) -> None:
    body = (b'--cgBoundary\r\nContent-Disposition: form-data; name="accept"; filename="a.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\nmarketing\r\n"
            + _multipart([("accept", "analytics")]))
    reply = send(make_guard(), "POST", "/_consent", headers=SAME_ORIGIN, body=body,
                 content_type="multipart/form-data; boundary=cgBoundary")
    assert reply.status == 303
    assert decoded(make_guard(), reply).accepted == {"analytics"}


# -- the cross-origin rule (Go's net/http CrossOriginProtection), row by row -----------------

TRUSTED = "https://shop.example.com"


@pytest.mark.parametrize(("scheme", "headers", "allowed"), [
    # Sec-Fetch-Site decides when present: only browsers send it, pages cannot forge it.
    pytest.param("https", {"sec-fetch-site": "same-origin"}, True, id="fetch-same-origin"),
    pytest.param("https", {"sec-fetch-site": "none"}, True, id="fetch-none"),
    pytest.param("https", {"sec-fetch-site": "same-origin", "host": "127.0.0.1:8000",
                           "origin": "https://shop.example.com"}, True,
                 id="proxy-rewrites-host"),
    pytest.param("http", {"sec-fetch-site": "same-origin", "origin": "https://www.example.com"},
                 True, id="tls-proxy-same-origin"),
    pytest.param("https", {"sec-fetch-site": "cross-site"}, False, id="fetch-cross-site"),
    pytest.param("https", {"sec-fetch-site": "same-site"}, False, id="fetch-same-site"),
    pytest.param("https", {"sec-fetch-site": "cross-site", "origin": "https://www.example.com"},
                 False, id="fetch-cross-site-with-matching-origin"),
    pytest.param("https", {"sec-fetch-site": "bogus"}, False, id="fetch-unknown-value"),
    # No Sec-Fetch-Site: Origin's host must be Host.
    pytest.param("https", {"origin": "https://www.example.com"}, True, id="origin-matches"),
    pytest.param("https", {"origin": "https://www.example.com:443"}, True,
                 id="origin-default-port"),
    pytest.param("https", {"origin": "https://WWW.Example.com"}, True, id="origin-case"),
    pytest.param("http", {"origin": "https://www.example.com"}, True,
                 id="https-origin-on-http-request"),
    pytest.param("https", {"origin": "http://www.example.com"}, False,
                 id="http-origin-on-https-request"),
    pytest.param("https", {"origin": "https://evil.example"}, False, id="origin-other-host"),
    pytest.param("https", {"origin": "https://www.example.com:8443"}, False,
                 id="origin-other-port"),
    pytest.param("https", {"origin": "null"}, False, id="origin-null"),
    pytest.param("https", {"origin": "https://shop.example.com", "host": "127.0.0.1:8000"},
                 False, id="proxy-without-fetch-site"),
    # Neither header: not a browser (curl, a server-side client), as in Go.
    pytest.param("https", {}, True, id="no-browser-signal"),
])
def test_cross_origin_rule(scheme: str, headers: dict[str, str], allowed: bool) -> None:
    response = _handle(make_guard(), _request(headers=headers, scheme=scheme))
    assert (response.status == 303) is allowed, response.body
    assert response.status in (303, 403)


@pytest.mark.parametrize("headers", [
    pytest.param({"origin": TRUSTED, "host": "127.0.0.1:8000"}, id="proxy-old-browser"),
    pytest.param({"origin": TRUSTED, "sec-fetch-site": "cross-site"}, id="cross-site"),
    pytest.param({"origin": TRUSTED, "sec-fetch-site": "same-site"}, id="same-site"),
    pytest.param({"origin": "HTTPS://Shop.Example.com:443", "sec-fetch-site": "same-site"},
                 id="same-origin-other-spelling"),
])
def test_trusted_origins_are_admitted(headers: dict[str, str]) -> None:
    assert _handle(make_guard(), _request(headers=headers)).status == 403
    guard = make_guard(trusted_origins=[TRUSTED])
    assert _handle(guard, _request(headers=headers)).status == 303


@pytest.mark.parametrize("origin", [
    pytest.param("http://shop.example.com", id="other-scheme"),
    pytest.param("https://shop.example.com:8443", id="other-port"),
    pytest.param("https://evil.shop.example.com", id="subdomain"),
])
def test_trusted_origins_are_exact(origin: str) -> None:
    guard = make_guard(trusted_origins=[TRUSTED])
    request = _request(headers={"origin": origin, "sec-fetch-site": "cross-site"})
    assert _handle(guard, request).status == 403


@pytest.mark.parametrize(("origins", "message"), [
    pytest.param("https://shop.example.com", "must be a list", id="a-string"),
    pytest.param(["shop.example.com"], "must start with https://", id="no-scheme"),
    pytest.param(["ftp://shop.example.com"], "must start with https://", id="other-scheme"),
    pytest.param(["https://"], "needs a host", id="no-host"),
    pytest.param(["https://shop.example.com/"], "no path", id="trailing-slash"),
    pytest.param(["https://shop.example.com/shop"], "no path", id="path"),
    pytest.param(["https://shop.example.com?x"], "no path, query", id="query"),
    pytest.param(["https://user@shop.example.com"], "needs a host", id="userinfo"),
    pytest.param(["https://shop.example.com:port"], "invalid trusted origin", id="bad-port"),
    pytest.param([42], "not a string", id="not-a-string"),
])
def test_trusted_origins_are_validated(origins: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_guard(trusted_origins=origins)


def test_flask_trusted_origins_from_config() -> None:
    app = flask_app(None, SECRET_KEY="flask-secret", CONSENTGUARD_REGISTRY=make_registry(),
                    CONSENTGUARD_TRUSTED_ORIGINS=[TRUSTED])
    client = app.test_client()
    headers = {"Origin": TRUSTED, "Host": "127.0.0.1:8000"}
    assert client.post("/_consent", data={"accept": "*"}, headers=headers).status_code == 303
    headers["Origin"] = "https://evil.example"
    assert client.post("/_consent", data={"accept": "*"}, headers=headers).status_code == 403


# -- cookie_secure="auto": plain-http development and test clients ---------------------------


@pytest.mark.parametrize(("option", "name", "scheme", "secure"), [
    pytest.param("auto", "cg_consent", "https", True, id="auto-https"),
    pytest.param("auto", "cg_consent", "wss", True, id="auto-wss"),
    pytest.param("auto", "cg_consent", "http", False, id="auto-http"),
    pytest.param("auto", "__Host-cg_consent", "http", True, id="auto-host-prefix"),
    pytest.param("auto", "__Secure-cg_consent", "http", True, id="auto-secure-prefix"),
    pytest.param(True, "cg_consent", "http", True, id="forced-on"),
    pytest.param(False, "cg_consent", "https", False, id="forced-off"),
])
def test_cookie_secure(option: Any, name: str, scheme: str, secure: bool) -> None:
    guard = make_guard(cookie_secure=option, cookie_name=name)
    response = _handle(guard, _request(scheme=scheme))
    (consent_cookie,) = [v for k, v in response.headers
                         if k == "Set-Cookie" and v.startswith(f"{name}=")]
    assert ("Secure" in [a.strip() for a in consent_cookie.split(";")]) is secure


def test_cookie_secure_is_validated() -> None:
    with pytest.raises(ValueError, match="cookie_secure must be 'auto', True or False"):
        make_guard(cookie_secure="yes")


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "http://testserver"])
def test_adapters_follow_the_scheme(send: Driver, base_url: str) -> None:
    # The default base URL of each test client is plain http: the cookie must not be Secure.
    if send is via_wsgi:
        response = Client(make_guard().wsgi(wsgi_app), use_cookies=False).post(
            "/_consent", base_url=base_url, data={"accept": "*"})
        set_cookies = response.headers.getlist("Set-Cookie")
    else:
        set_cookies = asgi_request(make_guard().asgi(asgi_app), "POST", "/_consent",
                                   base_url=base_url, data={"accept": "*"}).headers.get_list(
                                       "set-cookie")
    assert set_cookies and "Secure" not in set_cookies[0]
    https = send(make_guard(), "POST", "/_consent", headers=SAME_ORIGIN,
                 body=form([("accept", "*")]), content_type=FORM)
    assert "Secure" in https.set_cookies[0]


def test_starlette_testclient_keeps_the_choice() -> None:
    from starlette.testclient import TestClient

    with TestClient(starlette_app(make_guard())) as client:  # http://testserver
        assert client.post("/_consent", data={"accept": "analytics"}).status_code == 200
        assert client.get("/").json()["analytics"] is True
        assert client.get("/_consent").json()["needs_consent"] is False


def test_flask_test_client_keeps_the_choice() -> None:
    client = flask_app(make_guard()).test_client()  # http://localhost
    assert client.post("/_consent", data={"accept": "analytics"}).status_code == 303
    assert client.get("/").get_json()["analytics"] is True
    assert client.get("/_consent").get_json()["needs_consent"] is False


def test_flask_cookie_secure_from_config() -> None:
    app = flask_app(None, SECRET_KEY="flask-secret", CONSENTGUARD_REGISTRY=make_registry(),
                    CONSENTGUARD_COOKIE_SECURE=True)
    response = app.test_client().post("/_consent", data={"accept": "*"})
    assert "Secure" in response.headers.getlist("Set-Cookie")[0]


def test_an_untrusted_tls_proxy_is_named_once(caplog: pytest.LogCaptureFixture) -> None:
    guard = make_guard()
    proxied = {"x-forwarded-proto": "https", "sec-fetch-site": "same-origin"}
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        for _ in range(3):
            _handle(guard, _request(headers=proxied, scheme="http"))
        _handle(guard, _request(headers=proxied, scheme="https"))  # trusted: nothing to say
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    for fix in ("--proxy-headers", "--forwarded-allow-ips", "ProxyFix"):
        assert fix in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _handle(make_guard(), _request(headers=proxied, scheme="https"))
        _handle(make_guard(), _request(headers={"x-forwarded-proto": "http"}, scheme="http"))
    assert caplog.records == []
    with caplog.at_level(logging.WARNING, logger="consentguard"):  # a chain of proxies
        _handle(make_guard(), _request(headers={"x-forwarded-proto": "https, http"},
                                       scheme="http"))
    assert len(caplog.records) == 1


def test_without_anyio_the_proof_goes_to_asyncio_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []

    def store(record: ConsentRecord) -> None:
        threads.append(threading.current_thread())

    guard = make_guard(on_consent=store)
    response = _handle(guard, _request())
    monkeypatch.setitem(sys.modules, "anyio", None)  # "import anyio" now fails
    sent = asyncio.run(record_proof_async(guard, response))
    assert sent is response
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
