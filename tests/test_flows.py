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
    HOST,
    ORIGIN,
    deletions_of,
    expected,
    fastapi_app,
    flask_app,
    make_guard,
    starlette_app,
    stored_names,
)
from flask.testing import FlaskClient

from consentguard import ConsentGuard
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


