"""The apps under test, each in its variants: bare, no-op wrapper, consentguard, session.

Every app answers ``GET /`` with a short body and the fixture's ``Set-Cookie`` headers.
Each response's ``Set-Cookie`` values are new strings, joined from their parts as the
response is made (as ``set_cookie`` makes them), not prebuilt ones: a reused object
carries its cached hash and would flatter a memo. The framework apps join them instead
of calling ``set_cookie``, so the app itself is as cheap as it can be: that makes every
ratio against it *harder* to meet, not easier.
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


def _tags(varied: bool) -> Callable[[], int]:
    """The number tagging each response's cookie values: 0 every time, or (``varied``)
    a new one per response, as another visitor's values are (never repeating within a
    million responses: no memo meets one again)."""
    counter = itertools.count()
    step = 1 if varied else 0
    return lambda: next(counter) * step % 1_000_000


def _raw_parts(count: int) -> list[tuple[bytes, bytes]]:
    return [(a.encode("latin-1"), b.encode("latin-1")) for a, b in fixtures.set_cookie_parts(count)]


def raw_asgi(set_cookie_count: int = 7, *, varied: bool = False) -> ASGIApp:
    """The cheapest possible ASGI app sending a response with the fixture's cookies:
    the same values each response, or (``varied``) new ones each response."""
    parts = _raw_parts(set_cookie_count)
    tag = _tags(varied)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        number = b"%06d" % tag()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
        headers += [(b"set-cookie", name + number + rest) for name, rest in parts]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})

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


    parts = _raw_parts(7)

    async def home(request: Request) -> Response:
        response = PlainTextResponse("Hello, world!")
        response.raw_headers.extend((b"set-cookie", name + b"000000" + rest)
                                    for name, rest in parts)
        return response

    return Starlette(routes=[Route("/", home)], middleware=_middleware(middleware, guard))


def fastapi_app(middleware: str, guard: ConsentGuard | None = None) -> ASGIApp:
    """The same app in FastAPI."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI(middleware=_middleware(middleware, guard), openapi_url=None)
    parts = _raw_parts(7)

    @app.get("/")
    async def home() -> PlainTextResponse:
        response = PlainTextResponse("Hello, world!")
        response.raw_headers.extend((b"set-cookie", name + b"000000" + rest)
                                    for name, rest in parts)
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


def raw_wsgi(set_cookie_count: int = 7, *, varied: bool = False) -> WSGIApplication:
    """The cheapest WSGI app; ``varied`` as in :func:`raw_asgi`."""
    parts = fixtures.set_cookie_parts(set_cookie_count)
    tag = _tags(varied)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        number = f"{tag():06d}"
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "13")]
        headers += [("Set-Cookie", name + number + rest) for name, rest in parts]
        start_response("200 OK", headers)
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
    parts = fixtures.set_cookie_parts()

    @app.get("/")
    def home() -> Response:
        session.get("uid")
        response = Response("Hello, world!", mimetype="text/plain")
        for name, rest in parts:
            response.headers.add("Set-Cookie", name + "000000" + rest)
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
