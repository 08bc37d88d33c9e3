"""The guard must be the outermost middleware: a stack that wraps it says so, once.

A middleware outside the guard sets cookies the guard never sees and answers the consent
endpoint before it. Each test builds the stack the way a user would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from apps import Tracking, WsgiTracking, asgi_request
from fastapi import FastAPI, Request, Response
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from support import make_guard
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from consentguard.asgi import ConsentMiddleware
from consentguard.flask import ConsentGuard as FlaskConsentGuard

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment



def _home(request: Any) -> PlainTextResponse:
    return PlainTextResponse("home")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "consentguard" and r.levelno == logging.WARNING
            and "outermost" in r.getMessage()]


def _get_twice(app: Any) -> list[str]:
    first = asgi_request(app, "GET", "/")
    asgi_request(app, "GET", "/")
    return [v for k, v in first.headers.multi_items() if k == "set-cookie"]


def _start_up(app: Any) -> None:
    """Run the app's lifespan start-up, as uvicorn does before serving."""
    async def go() -> None:
        sent: list[Any] = []
        messages = iter([{"type": "lifespan.startup"}])

        async def receive() -> Any:
            try:
                return next(messages)
            except StopIteration:
                await asyncio.sleep(3600)

        async def send(message: Any) -> None:
            sent.append(message)

        task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"},
                                        "state": {}}, receive, send))
        while not sent:
            await asyncio.sleep(0)
        task.cancel()
        assert sent[0]["type"] == "lifespan.startup.complete"

    asyncio.run(go())


# -- Starlette / FastAPI -----------------------------------------------------------------------


def test_add_middleware_after_the_guard_is_named_once(caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(routes=[Route("/", _home)])
    app.add_middleware(ConsentMiddleware, guard=make_guard())
    app.add_middleware(Tracking)  # added later = outside the guard
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        set_cookies = _get_twice(app)
    assert any(v.startswith("_ga=") for v in set_cookies)  # why it matters: it leaked
    [warning] = _warnings(caplog)
    assert "Tracking runs outside it" in warning
    assert "the Starlette app" in warning
    assert "add ConsentMiddleware last" in warning


def test_a_middleware_list_with_the_guard_inside_names_every_outer_class(
        caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(routes=[Route("/", _home)], middleware=[
        Middleware(Tracking), Middleware(GZipMiddleware),
        Middleware(ConsentMiddleware, guard=make_guard())])
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _get_twice(app)
    [warning] = _warnings(caplog)
    assert "Tracking, GZipMiddleware run outside it" in warning


def test_fastapi_http_middleware_is_named_by_its_function(
        caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    app.add_middleware(ConsentMiddleware, guard=make_guard())

    @app.middleware("http")
    async def track(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.set_cookie("_fbp", "fb.1")
        return response

    @app.get("/")
    def index() -> dict[str, str]:
        return {"ok": "yes"}

    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _get_twice(app)
    [warning] = _warnings(caplog)
    assert "BaseHTTPMiddleware(dispatch=" in warning and "track)" in warning


def test_the_warning_comes_at_start_up_when_the_server_runs_lifespan(
        caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(routes=[Route("/", _home)])
    app.add_middleware(ConsentMiddleware, guard=make_guard())
    app.add_middleware(Tracking)
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _start_up(app)
    assert len(_warnings(caplog)) == 1  # before any request


@pytest.mark.parametrize("how", ["add_middleware", "list"])
def test_the_guard_outermost_logs_nothing(how: str, caplog: pytest.LogCaptureFixture) -> None:
    guard = make_guard()
    if how == "list":
        app = Starlette(routes=[Route("/", _home)], middleware=[
            Middleware(ConsentMiddleware, guard=guard), Middleware(Tracking)])
    else:
        app = Starlette(routes=[Route("/", _home)])
        app.add_middleware(Tracking)
        app.add_middleware(ConsentMiddleware, guard=guard)  # last added = outermost
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        set_cookies = _get_twice(app)
    assert not any(v.startswith("_ga=") for v in set_cookies)
    assert _warnings(caplog) == []


def test_a_proxy_header_middleware_belongs_outside(caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(routes=[Route("/", _home)])
    app.add_middleware(ConsentMiddleware, guard=make_guard())
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts="*")
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _get_twice(app)
    assert _warnings(caplog) == []


def test_a_guard_around_the_whole_app_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    inner = Starlette(routes=[Route("/", _home)])
    inner.add_middleware(Tracking)
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _get_twice(make_guard().asgi(inner))
    assert _warnings(caplog) == []


# -- Flask -------------------------------------------------------------------------------------


def _flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "home"

    return app


def _flask_get_twice(app: Flask) -> list[str]:
    client = app.test_client(use_cookies=False)
    first = client.get("/", base_url="https://www.example.com")
    client.get("/", base_url="https://www.example.com")
    return first.headers.getlist("Set-Cookie")


def test_flask_wsgi_app_wrapped_after_the_extension_is_named_once(
        caplog: pytest.LogCaptureFixture) -> None:
    app = _flask_app()
    FlaskConsentGuard(app, guard=make_guard())
    app.wsgi_app = WsgiTracking(app.wsgi_app)  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        set_cookies = _flask_get_twice(app)
    assert any(v.startswith("_ga=") for v in set_cookies)
    [warning] = _warnings(caplog)
    assert "WsgiTracking runs outside it" in warning
    assert "the Flask app" in warning and "ConsentGuard(app) after" in warning


def test_flask_a_wrapper_the_chain_cannot_follow_is_still_named(
        caplog: pytest.LogCaptureFixture) -> None:
    app = _flask_app()
    FlaskConsentGuard(app, guard=make_guard())
    inner = app.wsgi_app

    def logging_wrapper(environ: WSGIEnvironment, start_response: StartResponse
                        ) -> Iterable[bytes]:
        return inner(environ, start_response)

    app.wsgi_app = logging_wrapper  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _flask_get_twice(app)
    [warning] = _warnings(caplog)
    assert "logging_wrapper" in warning


@pytest.mark.parametrize("outer", ["none", "proxyfix"])
def test_flask_the_guard_outermost_logs_nothing(outer: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    app = _flask_app()
    app.wsgi_app = WsgiTracking(app.wsgi_app)  # type: ignore[method-assign]
    FlaskConsentGuard(app, guard=make_guard())
    if outer == "proxyfix":  # the documented order behind a proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_host=1, x_proto=1)  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        set_cookies = _flask_get_twice(app)
    assert not any(v.startswith("_ga=") for v in set_cookies)
    assert _warnings(caplog) == []


# -- Starlette's SessionMiddleware beside the guard --------------------------------------------


def _session_app(registry_cookies: list[Any], **session: Any) -> Starlette:
    from starlette.middleware.sessions import SessionMiddleware

    from consentguard import Category, ConsentGuard, Registry

    registry = Registry([Category("essential", required=True), Category("analytics")],
                        registry_cookies)
    app = Starlette(routes=[Route("/", _home)])
    app.add_middleware(SessionMiddleware, secret_key="s", **session)
    app.add_middleware(ConsentMiddleware, guard=ConsentGuard(registry, "k"))
    return app


def _session_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "session cookie" in r.getMessage()]


def test_an_undeclared_sessionmiddleware_cookie_is_called_out_at_start_up(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _start_up(_session_app([], session_cookie="sid"))
    [warning] = _session_warnings(caplog)
    assert "SessionMiddleware's session cookie 'sid' is not declared" in warning
    assert "blocked" in warning


def test_a_sessionmiddleware_cookie_in_an_optional_category_is_called_out(
        caplog: pytest.LogCaptureFixture) -> None:
    from consentguard import Cookie

    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _get_twice(_session_app([Cookie("session", category="analytics")]))
    [warning] = _session_warnings(caplog)
    assert "'session' is declared in the optional category 'analytics'" in warning


def test_a_declared_sessionmiddleware_cookie_logs_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    from consentguard import Cookie

    with caplog.at_level(logging.WARNING, logger="consentguard"):
        _start_up(_session_app([Cookie("session", category="essential")]))
    assert _session_warnings(caplog) == []
