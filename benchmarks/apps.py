"""The apps under test, each in its variants: bare, no-op wrapper, consentguard, session.

Every app answers ``GET /`` with a short body and the fixture's ``Set-Cookie`` headers.
The framework apps append prebuilt header values instead of calling ``set_cookie``, so
the app itself is as cheap as it can be: that makes every ratio against it *harder*
to meet, not easier.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from consentguard import ConsentGuard

from . import fixtures

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY = b"Hello, world!"


# -- raw ASGI -----------------------------------------------------------------------------


def raw_asgi(set_cookie_count: int = 7, *, varied: int = 0) -> ASGIApp:
    """The cheapest possible ASGI app sending a response with the fixture's cookies.

    With ``varied``, responses cycle through that many sets of distinct cookie values.
    """
    if varied:
        pool = itertools.cycle([fixtures.response_headers(set_cookie_count, variant=i)
                                for i in range(varied)])

        async def varied_app(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": list(next(pool))})
            await send({"type": "http.response.body", "body": BODY})

        return varied_app
    headers = fixtures.response_headers(set_cookie_count)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # (the same cost as varied_app: one next() on a cycle of one)
        await send({"type": "http.response.start", "status": 200,
                    "headers": list(next(single))})
        await send({"type": "http.response.body", "body": BODY})

    single = itertools.repeat(headers)
    return app


class NoopASGIWrapper:
    """The floor: a pure ASGI middleware whose send wrapper looks at every message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message["headers"])
            await send(message)

        await self.app(scope, receive, wrapped_send)


def with_guard(app: ASGIApp, guard: ConsentGuard) -> ASGIApp:
    return guard.asgi(app)


def with_session(app: ASGIApp) -> ASGIApp:
    from starlette.middleware.sessions import SessionMiddleware

    return SessionMiddleware(app, secret_key=fixtures.SESSION_SECRET)


# -- Starlette / FastAPI ------------------------------------------------------------------


def starlette_app(middleware: str, guard: ConsentGuard | None = None) -> ASGIApp:
    """A one-route Starlette app: ``middleware`` is "", "noop", "guard" or "session"."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route


    cookies = fixtures.response_headers()[2:]

    async def home(request: Request) -> Response:
        response = PlainTextResponse("Hello, world!")
        response.raw_headers.extend(cookies)
        return response

    return Starlette(routes=[Route("/", home)], middleware=_middleware(middleware, guard))


def fastapi_app(middleware: str, guard: ConsentGuard | None = None) -> ASGIApp:
    """The same app in FastAPI."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI(middleware=_middleware(middleware, guard), openapi_url=None)
    cookies = fixtures.response_headers()[2:]

    @app.get("/")
    async def home() -> PlainTextResponse:
        response = PlainTextResponse("Hello, world!")
        response.raw_headers.extend(cookies)
        return response

    return app


def _middleware(kind: str, guard: ConsentGuard | None) -> list[Any]:
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    from consentguard.asgi import ConsentMiddleware

    if kind == "":
        return []
    if kind == "noop":
        return [Middleware(NoopASGIWrapper)]
    if kind == "guard":
        if guard is None:
            raise ValueError("a guard is needed")
        return [Middleware(ConsentMiddleware, guard=guard)]
    if kind == "session":
        return [Middleware(SessionMiddleware, secret_key=fixtures.SESSION_SECRET)]
    raise ValueError(kind)


# -- raw WSGI -----------------------------------------------------------------------------


def raw_wsgi(set_cookie_count: int = 7, *, varied: int = 0) -> WSGIApplication:
    """The cheapest WSGI app; ``varied`` as in :func:`raw_asgi`."""
    pool = []
    for i in range(max(varied, 1)):
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "13")]
        headers.extend(("Set-Cookie", v) for v in
                       fixtures.set_cookies(set_cookie_count, variant=i if varied else None))
        pool.append(headers)
    cycle = itertools.cycle(pool)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(next(cycle)))
        return [BODY]

    return app


class NoopWSGIWrapper:
    """The floor: a WSGI middleware wrapping ``start_response`` and copying the headers."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info is None:
                return start_response(status, list(headers))
            return start_response(status, list(headers), exc_info)

        return self.app(environ, wrapped)


# -- Flask --------------------------------------------------------------------------------


def flask_app(kind: str, guard: ConsentGuard | None = None) -> WSGIApplication:
    """A one-route Flask app: ``kind`` is "", "noop", "guard" or "session".

    The view reads the session in every variant; only "session" gives Flask a secret
    key, so only there does Flask verify the ``session`` cookie and answer ``Vary: Cookie``.
    """
    from flask import Flask, Response, session

    app = Flask("bench")
    if kind == "session":
        app.secret_key = fixtures.SESSION_SECRET
    cookies = fixtures.set_cookies()

    @app.get("/")
    def home() -> Response:
        session.get("uid")
        response = Response("Hello, world!", mimetype="text/plain")
        for value in cookies:
            response.headers.add("Set-Cookie", value)
        return response

    if kind == "guard":
        if guard is None:
            raise ValueError("a guard is needed")
        app.wsgi_app = guard.wsgi(app.wsgi_app)  # type: ignore[method-assign]
    elif kind == "noop":
        app.wsgi_app = NoopWSGIWrapper(app.wsgi_app)  # type: ignore[method-assign]
    elif kind not in ("", "session"):
        raise ValueError(kind)
    return app


def flask_session_value() -> str:
    """A valid Flask session cookie value for :func:`flask_app` ("session")."""
    from flask import Flask

    app = flask_app("session")
    if not isinstance(app, Flask):
        raise TypeError("flask_app returns a Flask app")
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps({"uid": 42, "cart": [1, 2, 3]}))
