"""FastAPI integration: CurrentConsent / CurrentDecision dependencies and middleware set-ups."""

from __future__ import annotations

import asyncio
from typing import Any

from apps import (
    asgi_request,
    call_websocket,
    expected,
    fastapi_app,
    httpx_set_cookies,
    stored_names,
    websocket_scope,
)
from fastapi import FastAPI, WebSocket
from starlette.middleware import Middleware
from support import ORIGIN, make_guard

from consentguard.asgi import ConsentMiddleware
from consentguard.fastapi import CurrentConsent, CurrentDecision


def test_dependencies_before_any_choice() -> None:
    response = asgi_request(fastapi_app(make_guard()), "GET", "/")
    assert response.status_code == 200
    assert response.json() == {"cookie_header": None, "consent": None, "analytics": False,
                               "marketing": False}
    assert stored_names(httpx_set_cookies(response)) == expected()


def test_dependencies_with_consent() -> None:
    guard = make_guard()
    value = guard.encode_consent(["analytics"])
    response = asgi_request(fastapi_app(guard), "GET", "/",
                            cookie=f"_fbp=1; _ga=2; cg_consent={value}")
    body = response.json()
    assert body["consent"] == guard.decode_consent(value).id  # type: ignore[union-attr]
    assert (body["analytics"], body["marketing"]) == (True, False)
    assert body["cookie_header"] == f"_ga=2; cg_consent={value}"
    assert stored_names(httpx_set_cookies(response)) == expected("analytics")
    assert response.headers["cache-control"] == "private"


def test_dependencies_add_no_parameters_to_the_openapi_schema() -> None:
    schema = asgi_request(fastapi_app(make_guard()), "GET", "/openapi.json").json()
    assert "parameters" not in schema["paths"]["/"]["get"]


def test_middleware_list_and_mounted_sub_app() -> None:
    guard = make_guard()
    sub = FastAPI(middleware=[Middleware(ConsentMiddleware, guard=guard)])

    @sub.get("/whoami")
    def whoami(consent: CurrentConsent) -> dict[str, Any]:
        return {"consent": None if consent is None else sorted(consent.accepted)}

    app = FastAPI()
    app.mount("/api", sub)
    chosen = asgi_request(app, "POST", "/api/_consent", json={"accept": "*"},
                          headers={"Origin": ORIGIN})
    assert chosen.status_code == 200
    assert chosen.json()["consent"]["accepted"] == ["analytics", "functional", "marketing"]
    value = httpx_set_cookies(chosen)[0].split(";")[0].partition("=")[2]
    whoami_response = asgi_request(app, "GET", "/api/whoami", cookie=f"cg_consent={value}")
    assert whoami_response.json() == {"consent": ["analytics", "functional", "marketing"]}
    assert asgi_request(app, "GET", "/_consent").status_code == 404


def test_dependencies_in_a_websocket_endpoint() -> None:
    guard = make_guard()
    app = FastAPI()
    seen: list[Any] = []

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, consent: CurrentConsent,
                 decision: CurrentDecision) -> None:
        seen.append((consent, decision.allows("functional")))
        await websocket.accept()
        await websocket.close()

    app.add_middleware(ConsentMiddleware, guard=guard)
    value = guard.encode_consent(["functional"])
    asyncio.run(call_websocket(app, websocket_scope(cookie=f"cg_consent={value}")))
    assert len(seen) == 1
    consent, functional = seen[0]
    assert consent is not None and consent.allows("functional") and functional is True
