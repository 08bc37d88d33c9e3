"""Starlette integration: add_middleware, Middleware lists, mounted sub-apps, get_consent."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from apps import (
    asgi_request,
    call_websocket,
    deletions_of,
    expected,
    httpx_set_cookies,
    mounted_app,
    starlette_app,
    stored_names,
    websocket_scope,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from support import ORIGIN, make_guard

from consentguard.asgi import ConsentMiddleware
from consentguard.starlette import get_consent, get_decision

HOW = ["add_middleware", "list"]


@pytest.mark.parametrize("how", HOW)
def test_without_consent_only_required_cookies(how: str) -> None:
    response = asgi_request(starlette_app(make_guard(), how=how), "GET", "/")
    assert stored_names(httpx_set_cookies(response)) == expected()
    assert response.json()["consent"] is None and response.json()["state_consent"] is None


@pytest.mark.parametrize("how", HOW)
def test_with_consent_cookies_pass_and_get_consent_returns_it(how: str) -> None:
    guard = make_guard()
    value = guard.encode_consent(["analytics", "marketing"])
    response = asgi_request(starlette_app(guard, how=how), "GET", "/",
                            cookie=f"session=1; _ga=2; lang=3; cg_consent={value}")
    body = response.json()
    consent_id = guard.decode_consent(value).id  # type: ignore[union-attr]
    assert stored_names(httpx_set_cookies(response)) == expected("analytics", "marketing")
    assert body["consent"] == body["state_consent"] == consent_id
    assert body["analytics"] is True
    assert body["cookies"] == {"session": "1", "_ga": "2", "cg_consent": value}
    assert body["cookie_header"] == f"session=1; _ga=2; cg_consent={value}"
    assert [d.get("domain") for d in deletions_of("lang", httpx_set_cookies(response))] == [
        None, "www.example.com", "example.com"]


def test_mounted_sub_app_answers_the_endpoint_under_its_root_path() -> None:
    app = mounted_app(make_guard())
    state = asgi_request(app, "GET", "/sub/_consent")
    assert state.status_code == 200
    assert state.headers["cache-control"] == "no-store"
    assert state.json()["needs_consent"] is True
    assert asgi_request(app, "GET", "/_consent").status_code == 404  # outer app: no guard
    assert asgi_request(app, "GET", "/").text == "outer"
    chosen = asgi_request(app, "POST", "/sub/_consent", data={"accept": "analytics"},
                          headers={"Origin": ORIGIN})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/"
    value = httpx_set_cookies(chosen)[0].split(";")[0].partition("=")[2]
    page = asgi_request(app, "GET", "/sub/", cookie=f"cg_consent={value}")
    assert stored_names(httpx_set_cookies(page)) == expected("analytics")


def test_get_consent_without_the_middleware_says_how_to_fix() -> None:
    async def index(request: Request) -> PlainTextResponse:
        get_consent(request)
        return PlainTextResponse("unreachable")

    app = Starlette(routes=[Route("/", index)])
    with pytest.raises(RuntimeError, match=r"add_middleware\(ConsentMiddleware"):
        asgi_request(app, "GET", "/")


def test_get_consent_in_a_websocket_endpoint() -> None:
    guard = make_guard()
    seen: list[Any] = []

    async def ws(websocket: WebSocket) -> None:
        seen.append((get_consent(websocket), get_decision(websocket).allows("analytics")))
        await websocket.accept()
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", ws)])
    app.add_middleware(ConsentMiddleware, guard=guard)
    value = guard.encode_consent(["analytics"])
    asyncio.run(call_websocket(app, websocket_scope(cookie=f"cg_consent={value}")))
    consent, analytics = seen[0]
    assert consent is not None and consent.id == guard.decode_consent(value).id  # type: ignore[union-attr]
    assert analytics is True


def test_real_cookie_jar_round_trip() -> None:
    """httpx's cookie jar (a browser stand-in) keeps the consent cookie and sends it back."""
    guard = make_guard()
    app = starlette_app(guard)

    async def go() -> tuple[list[str], list[str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            chosen = await client.post("/_consent", json={"accept": ["marketing"]},
                                       headers={"Origin": ORIGIN})
            assert chosen.status_code == 200
            page = await client.get("/")
            return httpx_set_cookies(page), list(client.cookies.keys())

    set_cookies, jar = asyncio.run(go())
    assert stored_names(set_cookies) == expected("marketing")
    assert "cg_consent" in jar and "_fbp" in jar and "_ga" not in jar
