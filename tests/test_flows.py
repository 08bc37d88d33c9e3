"""A visitor's whole journey, per framework, with the framework's own cookie jar as browser.

First visit (only essential cookies), accept analytics through the consent endpoint,
analytics cookies now pass, withdraw, analytics cookies purged from the jar; and a Global
Privacy Control visitor who never gets marketing cookies until an explicit opt-in.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
from apps import (
    ALL_BROWSER_COOKIES,
    APP_SET_COOKIES,
    asgi_request,
    cookie_header,
    deleted,
    deletions_of,
    expected,
    fastapi_app,
    flask_app,
    starlette_app,
    stored_names,
)
from flask.testing import FlaskClient
from support import HOST, ORIGIN, FrozenClock, make_guard, make_registry

from consentguard import ConsentGuard, UndeclaredCookieError, Violation
from consentguard.cookies import set_cookie_name
from consentguard.log import ConsentRecord


@dataclass(frozen=True)
class Page:
    status: int
    set_cookies: list[str]
    body: bytes
    location: str | None

    def json(self) -> Any:
        return json.loads(self.body)


class Browser(Protocol):
    def request(self, method: str, path: str, *, data: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> Page: ...

    def jar(self) -> set[str]: ...


class FlaskBrowser:
    """Flask's test client and its cookie jar."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def request(self, method: str, path: str, *, data: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> Page:
        response = self.client.open(path, method=method, base_url=ORIGIN, data=data,
                                    headers=headers or {})
        return Page(response.status_code, response.headers.getlist("Set-Cookie"),
                    response.get_data(), response.headers.get("Location"))

    def jar(self) -> set[str]:
        names = [*ALL_BROWSER_COOKIES, "cg_consent"]
        return {name for name in names for domain in (HOST, "example.com")
                if self.client.get_cookie(name, domain=domain) is not None}


class ASGIBrowser:
    """httpx's AsyncClient (and its cookie jar) over the ASGI transport, driven in sync."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url=ORIGIN)

    def request(self, method: str, path: str, *, data: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> Page:
        response = self.loop.run_until_complete(
            self.client.request(method, path, data=data, headers=headers))
        return Page(response.status_code, response.headers.get_list("set-cookie"),
                    response.content, response.headers.get("location"))

    def jar(self) -> set[str]:
        return {cookie.name for cookie in self.client.cookies.jar}


@contextmanager
def browser(framework: str, guard: ConsentGuard) -> Iterator[Browser]:
    if framework == "flask":
        yield FlaskBrowser(flask_app(guard).test_client())
        return
    app = starlette_app(guard) if framework == "starlette" else fastapi_app(guard)
    loop = asyncio.new_event_loop()
    asgi = ASGIBrowser(app, loop)
    try:
        yield asgi
    finally:
        loop.run_until_complete(asgi.client.aclose())
        loop.close()


FRAMEWORKS = ["flask", "starlette", "fastapi"]
SAME_SITE_POST = {"Origin": ORIGIN}


def seen_by_app(page: Page) -> str:
    header: str | None = page.json()["cookie_header"]
    return header or ""


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_accept_then_withdraw(framework: str) -> None:
    records: list[ConsentRecord] = []
    guard = make_guard(on_consent=records.append)
    with browser(framework, guard) as b:
        # First visit: no choice yet, only the essential cookie is stored.
        page = b.request("GET", "/")
        assert page.status == 200
        assert stored_names(page.set_cookies) == expected()
        assert page.json()["consent"] is None
        assert b.jar() == {"session"}
        assert b.request("GET", "/_consent").json()["needs_consent"] is True

        # Accept analytics with the plain form.
        chosen = b.request("POST", "/_consent", data={"accept": ["analytics"], "next": "/"},
                           headers=SAME_SITE_POST)
        assert (chosen.status, chosen.location) == (303, "/")
        assert b.jar() == {"session", "cg_consent"}

        # Analytics cookies now reach the browser, and the app sees them come back.
        page = b.request("GET", "/")
        assert stored_names(page.set_cookies) == expected("analytics")
        assert page.json()["consent"] == records[0].consent_id
        assert b.jar() == {"session", "cg_consent", "_ga", "_ga_XYZ"}
        page = b.request("GET", "/")
        assert "_ga=GA1.2.111.222" in seen_by_app(page)
        assert b.request("GET", "/_consent").json()["needs_consent"] is False

        # Withdraw: the analytics cookies are deleted wherever they may live.
        withdrawn = b.request("POST", "/_consent", data={"withdraw": "1"},
                              headers=SAME_SITE_POST)
        assert withdrawn.status == 303
        for name in ("_ga", "_ga_XYZ"):
            assert [(d.get("domain"), d["path"], d["max-age"])
                    for d in deletions_of(name, withdrawn.set_cookies)] == [
                (None, "/", "0"), ("example.com", "/", "0"), ("www.example.com", "/", "0")]
        assert b.jar() == {"session", "cg_consent"}

        page = b.request("GET", "/")
        assert stored_names(page.set_cookies) == expected()
        assert "_ga" not in seen_by_app(page)
        assert b.request("GET", "/_consent").json()["consent"]["accepted"] == []
    assert [r.action for r in records] == ["custom", "withdraw"]
    assert records[0].accepted == ("analytics",) and records[1].accepted == ()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(("overrides", "after_opt_in"), [(False, True), (True, False)],
                         ids=["explicit-choice-wins", "gpc-overrides-consent"])
def test_gpc_visitor_gets_no_marketing_cookies_until_an_explicit_opt_in(
    framework: str, overrides: bool, after_opt_in: bool
) -> None:
    guard = make_guard(gpc_overrides_consent=overrides)
    gpc = {"Sec-GPC": "1"}
    with browser(framework, guard) as b:
        assert "_fbp" not in stored_names(b.request("GET", "/", headers=gpc).set_cookies)
        state = b.request("GET", "/_consent", headers=gpc).json()
        assert state["gpc"] == {"signal": True, "categories": ["marketing"], "applied": True}

        b.request("POST", "/_consent", data={"accept": ["analytics"]},
                  headers={**gpc, **SAME_SITE_POST})
        page = b.request("GET", "/", headers=gpc)
        assert stored_names(page.set_cookies) == expected("analytics")

        # The explicit opt-in to marketing.
        b.request("POST", "/_consent", data={"accept": ["analytics", "marketing"]},
                  headers={**gpc, **SAME_SITE_POST})
        page = b.request("GET", "/", headers=gpc)
        assert ("_fbp" in stored_names(page.set_cookies)) is after_opt_in
        assert ("_fbp" in b.jar()) is after_opt_in


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_cross_site_form_cannot_consent_for_the_visitor(framework: str) -> None:
    with browser(framework, make_guard()) as b:
        refused = b.request("POST", "/_consent", data={"accept": ["*"]},
                            headers={"Origin": "https://tracker.example", "Sec-Fetch-Site":
                                     "cross-site"})
        assert refused.status == 403
        assert "cg_consent" not in b.jar()
        assert stored_names(b.request("GET", "/").set_cookies) == expected()




# -- the core promises, through each framework -----------------------------------------------


def fetch(framework: str, guard: ConsentGuard, cookie: str | None = None
          ) -> tuple[list[str], str]:
    """One GET / with exactly this Cookie header: (Set-Cookie values, what the app saw)."""
    if framework == "flask":
        client = flask_app(guard).test_client(use_cookies=False)
        response = client.get("/", base_url=ORIGIN,
                              headers={} if cookie is None else {"Cookie": cookie})
        seen: str = response.json["cookie_header"] or ""  # type: ignore[index]
        return response.headers.getlist("Set-Cookie"), seen
    app = starlette_app(guard) if framework == "starlette" else fastapi_app(guard)
    reply = asgi_request(app, "GET", "/", cookie=cookie)
    return reply.headers.get_list("set-cookie"), reply.json()["cookie_header"] or ""


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_invalid_consent_falls_back_to_required_only(framework: str) -> None:
    clock = FrozenClock()
    guard = make_guard(clock=clock, max_age=600)
    good = guard.encode_consent(["*"])
    forged = ConsentGuard(make_registry(), "attacker").encode_consent(["*"])
    rotated_out = ConsentGuard(make_registry(), ["next-key"], clock=clock)
    everything = expected("functional", "analytics", "marketing")
    assert stored_names(fetch(framework, guard, f"cg_consent={good}")[0]) == everything
    assert stored_names(fetch(framework, guard, f"cg_consent={forged}")[0]) == expected()
    assert stored_names(fetch(framework, rotated_out, f"cg_consent={good}")[0]) == expected()
    # A planted second consent cookie can only narrow what the visitor chose.
    narrower = guard.encode_consent(["functional"])
    tossed = f"cg_consent={good}; cg_consent={narrower}"
    assert stored_names(fetch(framework, guard, tossed)[0]) == expected("functional")
    clock.advance(601)
    assert stored_names(fetch(framework, guard, f"cg_consent={good}")[0]) == expected()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_unknown_modes(framework: str) -> None:
    assert "mystery" not in stored_names(fetch(framework, make_guard(unknown="block"))[0])
    assert "mystery" in stored_names(fetch(framework, make_guard(unknown="allow"))[0])
    with pytest.raises(UndeclaredCookieError):
        fetch(framework, make_guard(unknown="raise"))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_report_only_changes_nothing_and_reports_everything(framework: str) -> None:
    violations: list[Violation] = []
    guard = make_guard(mode="report-only", on_violation=violations.append)
    browser_cookies = cookie_header(ALL_BROWSER_COOKIES)
    set_cookies, seen = fetch(framework, guard, browser_cookies)
    assert set_cookies == list(APP_SET_COOKIES)
    assert seen == browser_cookies
    assert {v.name for v in violations if v.kind == "set-cookie"} == {
        "lang", "_ga", "_ga_XYZ", "_fbp", "mystery"}
    assert {v.name for v in violations if v.kind == "request-cookie"} == {
        "lang", "_ga", "_ga_XYZ", "stats", "_fbp", "mystery"}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_refused_cookies_are_hidden_and_purged(framework: str) -> None:
    guard = make_guard()
    consent = f"cg_consent={guard.encode_consent(['analytics'])}"
    set_cookies, seen = fetch(framework, guard,
                              f"{cookie_header(ALL_BROWSER_COOKIES)}; {consent}")
    assert seen == f"session=s3cr3t; _ga=GA1.2.111.222; _ga_XYZ=GS1.1.333; stats=9; {consent}"
    assert {set_cookie_name(v) for v in deleted(set_cookies)} == {"lang", "_fbp"}
    assert [d.get("domain") for d in deletions_of("_fbp", set_cookies)] == [
        None, "www.example.com", "example.com"]
