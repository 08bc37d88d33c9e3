"""Shared fixture apps for the framework integration tests.

One set of ``Set-Cookie`` headers every app sends, and the same small app written as raw
WSGI, raw ASGI, Flask, Starlette and FastAPI over the registry, secret and clock of
:mod:`support`, so each test file can ask the same questions of each adapter. Plain
functions, no pytest fixtures: import what you need (``from apps import ...``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI, Request, Response
from flask import Flask, jsonify, render_template_string, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from support import HOST, NOW, ORIGIN
from werkzeug.test import Client

from consentguard import ConsentGuard
from consentguard.asgi import ConsentMiddleware
from consentguard.cookies import is_deletion, set_cookie_name
from consentguard.fastapi import CurrentConsent, CurrentDecision
from consentguard.flask import ConsentGuard as FlaskConsentGuard
from consentguard.flask import current_consent, current_decision
from consentguard.starlette import get_consent, get_decision

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# What every fixture app tries to set, one cookie per category, plus an undeclared one.
APP_SET_COOKIES = (
    "session=s3cr3t; Path=/; HttpOnly",
    "lang=fr; Path=/; Max-Age=31536000",
    "_ga=GA1.2.111.222; Domain=example.com; Path=/; Max-Age=63072000",
    "_ga_XYZ=GS1.1.333; Domain=example.com; Path=/; Max-Age=63072000",
    "_fbp=fb.1.444; Domain=example.com; Path=/; Max-Age=7776000",
    "mystery=1; Path=/",
)
BY_CATEGORY = {
    "essential": ["session"],
    "functional": ["lang"],
    "analytics": ["_ga", "_ga_XYZ"],
    "marketing": ["_fbp"],
}


def expected(*optional: str) -> list[str]:
    """The names of :data:`APP_SET_COOKIES` that pass when ``optional`` are accepted."""
    allowed = {"essential", *optional}
    return [n for c, names in BY_CATEGORY.items() if c in allowed for n in names]


# -- reading responses ----------------------------------------------------------------------


def set_cookie_values(headers: Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]]
                      ) -> list[str]:
    """Every Set-Cookie value of a header list (str or bytes pairs), in order."""
    out = []
    for name, value in headers:
        text_name = name.decode("latin-1") if isinstance(name, bytes) else name
        if text_name.lower() == "set-cookie":
            out.append(value.decode("latin-1") if isinstance(value, bytes) else value)
    return out


def stored_names(values: Iterable[str], now: float = NOW) -> list[str]:
    """Names of the cookies the Set-Cookie values store (deletions left out)."""
    return [n for v in values if not is_deletion(v, now) and (n := set_cookie_name(v))
            is not None]


def deleted(values: Iterable[str], now: float = NOW) -> list[str]:
    """The deletion Set-Cookie values, in order."""
    return [v for v in values if is_deletion(v, now)]


def deletions_of(name: str, values: Iterable[str]) -> list[dict[str, str]]:
    """The attributes (lower-case names) of each deletion header for the cookie ``name``."""
    out = []
    for value in deleted(values):
        if set_cookie_name(value) != name:
            continue
        attributes = {}
        for part in value.split(";")[1:]:
            key, _, attribute = part.strip().partition("=")
            attributes[key.lower()] = attribute
        out.append(attributes)
    return out


def header_values(headers: Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]],
                  wanted: str) -> list[str]:
    """Every value of the header ``wanted`` (case-insensitive)."""
    out = []
    for name, value in headers:
        text_name = name.decode("latin-1") if isinstance(name, bytes) else name
        if text_name.lower() == wanted.lower():
            out.append(value.decode("latin-1") if isinstance(value, bytes) else value)
    return out


def httpx_set_cookies(response: httpx.Response) -> list[str]:
    """Set-Cookie values of an httpx response, in order."""
    return response.headers.get_list("set-cookie")


# -- raw apps -------------------------------------------------------------------------------


# The headers every fixture app answers with: a JSON body and :data:`APP_SET_COOKIES`.
APP_HEADERS = (("Content-Type", "application/json"),
               *(("Set-Cookie", c) for c in APP_SET_COOKIES))


def wsgi_echo(headers: Sequence[tuple[str, str]] = APP_HEADERS) -> WSGIApplication:
    """A raw WSGI app answering 200 with ``headers``; its body is what it saw, as JSON."""
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        consent = environ.get("consentguard.consent", "MISSING")
        body = json.dumps({
            "cookie": environ.get("HTTP_COOKIE"),
            "has_consent_key": "consentguard.consent" in environ,
            "consent": None if consent is None else getattr(consent, "id", consent),
        }).encode()
        start_response("200 OK", list(headers))
        return [body]

    return app


def asgi_echo(headers: Sequence[tuple[str, str]] = APP_HEADERS
              ) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A raw ASGI app answering 200 with ``headers`` (as bytes); its body is what it saw,
    as JSON."""
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        cookies = [v.decode("latin-1") for n, v in scope["headers"] if n == b"cookie"]
        state = scope.get("state") or {}
        consent = state.get("consent", "MISSING")
        body = json.dumps({
            "cookie": "; ".join(cookies) if cookies else None,
            "cookie_headers": len(cookies),
            "has_consent_key": "consent" in state,
            "consent": None if consent is None else getattr(consent, "id", consent),
        }).encode()
        await send({"type": "http.response.start", "status": 200, "headers": list(raw)})
        await send({"type": "http.response.body", "body": body})

    return app


wsgi_app = wsgi_echo()
asgi_app = asgi_echo()


class StartResponseRecorder:
    """A WSGI ``start_response`` that records each call and returns a ``write`` callable."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []
        self.written: list[bytes] = []

    def __call__(self, status: str, headers: list[tuple[str, str]],
                 exc_info: Any = None) -> Callable[[bytes], object]:
        self.calls.append((status, list(headers), exc_info))
        return self.written.append

    @property
    def status(self) -> str:
        return self.calls[-1][0]

    @property
    def headers(self) -> list[tuple[str, str]]:
        return self.calls[-1][1]


def environ(path: str = "/", *, cookie: str | None = None, host: str = HOST,
            method: str = "GET", **extra: Any) -> dict[str, Any]:
    """A minimal WSGI environ; ``extra`` keys are added as they are (``HTTP_SEC_GPC="1"``)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": host, "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host, "wsgi.url_scheme": "https", "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    env.update(extra)
    return env


def http_scope(path: str = "/", *, cookie: str | None = None, host: str = HOST,
               headers: Sequence[tuple[bytes, bytes]] = (), method: str = "GET",
               root_path: str = "") -> dict[str, Any]:
    """A minimal ASGI http scope."""
    raw = [(b"host", host.encode())]
    if cookie is not None:
        raw.append((b"cookie", cookie.encode("latin-1")))
    raw.extend(headers)
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": root_path, "headers": raw,
            "server": (host, 443), "client": ("127.0.0.1", 50000)}


async def call_asgi(app: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope,
                    body: bytes = b"") -> list[Message]:
    """Run one http request through ``app``; the messages it sent, in order."""
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the test is over before a disconnect
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def asgi_request(app: Any, method: str, url: str, *, base_url: str = ORIGIN,
                 cookie: str | None = None, **kwargs: Any) -> httpx.Response:
    """One request through httpx's ASGI transport (no cookie jar: ``cookie`` is sent as is)."""
    headers = dict(kwargs.pop("headers", None) or {})
    if cookie is not None:
        headers["Cookie"] = cookie

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.request(method, url, headers=headers, **kwargs)

    return asyncio.run(go())


@dataclass(frozen=True)
class Reply:
    """What a client got back: the status, the headers as sent (names in their case) and
    the body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        """Every value of the header ``name`` (case-insensitive), in order."""
        return header_values(self.headers, name)

    @property
    def set_cookies(self) -> list[str]:
        return self.all("set-cookie")

    def consent_value(self) -> str:
        """The value of the consent cookie this reply sets."""
        (value,) = [c.split(";")[0].partition("=")[2] for c in self.set_cookies
                    if c.startswith("cg_consent=")]
        return value


def via_wsgi(guard: ConsentGuard, method: str = "GET", path: str = "/", *,
             headers: dict[str, str] | None = None, body: bytes = b"",
             content_type: str | None = None, host: str = HOST,
             app_headers: Sequence[tuple[str, str]] = APP_HEADERS) -> Reply:
    """One request through ``guard.wsgi`` over :func:`wsgi_echo` answering ``app_headers``
    (werkzeug's test client, no cookie jar: a ``Cookie`` in ``headers`` is sent as is)."""
    client = Client(guard.wsgi(wsgi_echo(app_headers)), use_cookies=False)
    response = client.open(path, method=method, base_url=f"https://{host}",
                           headers=headers or {}, data=body, content_type=content_type)
    return Reply(response.status_code, list(response.headers.items()), response.get_data())


def via_asgi(guard: ConsentGuard, method: str = "GET", path: str = "/", *,
             headers: dict[str, str] | None = None, body: bytes = b"",
             content_type: str | None = None, host: str = HOST,
             app_headers: Sequence[tuple[str, str]] = APP_HEADERS) -> Reply:
    """The same request through ``guard.asgi`` over :func:`asgi_echo` (httpx's ASGI
    transport)."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    response = asgi_request(guard.asgi(asgi_echo(app_headers)), method, path,
                            base_url=f"https://{host}", headers=all_headers, content=body)
    raw = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response.headers.raw]
    return Reply(response.status_code, raw, response.content)


# The `send` fixture of conftest.py: one of these per test run.
Driver = Callable[..., Reply]
DRIVERS: dict[str, Driver] = {"wsgi": via_wsgi, "asgi": via_asgi}


def cookie_header(pairs: dict[str, str] | Iterator[tuple[str, str]]) -> str:
    """A Cookie header from name → value pairs."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return "; ".join(f"{k}={v}" for k, v in items)


ALL_BROWSER_COOKIES = {
    "session": "s3cr3t", "lang": "fr", "_ga": "GA1.2.111.222", "_ga_XYZ": "GS1.1.333",
    "stats": "9", "_fbp": "fb.1.444", "mystery": "1",
}


# -- middleware that sets a cookie of its own ---------------------------------------------

# The analytics cookie the tracking middlewares add to every response, with the attributes
# the audit asks of a cookie (so its only finding is where it comes from).
TRACKING_COOKIE = "_ga=GA1.1.1; Secure; SameSite=Lax; Path=/"


class Tracking:
    """A pure ASGI middleware that sets :data:`TRACKING_COOKIE` on every response."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"set-cookie", TRACKING_COOKIE.encode())]}
            await send(message)

        await self.app(scope, receive, tracked)


class WsgiTracking:
    """The same for WSGI."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        def tracked(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Set-Cookie", TRACKING_COOKIE)])

        return self.app(environ, tracked)


# -- framework apps -------------------------------------------------------------------------

TEMPLATE = ('{% if consent.allows("analytics") %}<script src="/analytics.js"></script>'
            '{% else %}no analytics{% endif %}')


def flask_app(guard: ConsentGuard | None = None, **config: Any) -> Flask:
    """A Flask app with the extension installed: ``/`` sets :data:`APP_SET_COOKIES` and
    echoes what the view saw; ``/page`` renders :data:`TEMPLATE`."""
    app = Flask("fixture")
    app.config.update(TESTING=True, **config)

    @app.get("/")
    def index() -> Any:
        consent = current_consent()
        response = jsonify(
            cookies=[[k, v] for k, vs in request.cookies.lists() for v in vs],
            cookie_header=request.headers.get("Cookie"),
            consent=None if consent is None else consent.id,
            analytics=current_decision().allows("analytics"),
        )
        for value in APP_SET_COOKIES:
            response.headers.add("Set-Cookie", value)
        return response

    @app.get("/page")
    def page() -> str:
        return render_template_string(TEMPLATE)

    FlaskConsentGuard(app, guard=guard)
    return app


async def _starlette_index(request: StarletteRequest) -> JSONResponse:
    consent = get_consent(request)
    response = JSONResponse({
        "cookie_header": request.headers.get("cookie"),
        "cookies": dict(request.cookies),
        "consent": None if consent is None else consent.id,
        "state_consent": None if request.state.consent is None else request.state.consent.id,
        "analytics": get_decision(request).allows("analytics"),
    })
    for value in APP_SET_COOKIES:
        response.headers.append("Set-Cookie", value)
    return response


def starlette_app(guard: ConsentGuard, *, how: str = "add_middleware") -> Starlette:
    """A Starlette app guarded with ``app.add_middleware`` (``how="add_middleware"``) or a
    ``middleware=[Middleware(...)]`` list (``how="list"``)."""
    routes = [Route("/", _starlette_index)]
    if how == "list":
        return Starlette(routes=routes,
                         middleware=[Middleware(ConsentMiddleware, guard=guard)])
    app = Starlette(routes=routes)
    app.add_middleware(ConsentMiddleware, guard=guard)
    return app


def mounted_app(guard: ConsentGuard) -> Starlette:
    """A Starlette app with a guarded sub-app mounted at ``/sub`` (the outer app unguarded)."""
    async def outer(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("outer")

    sub = Starlette(routes=[Route("/", _starlette_index)],
                    middleware=[Middleware(ConsentMiddleware, guard=guard)])
    return Starlette(routes=[Route("/", outer), Mount("/sub", app=sub)])


def fastapi_app(guard: ConsentGuard) -> FastAPI:
    """A FastAPI app using the CurrentConsent / CurrentDecision dependencies."""
    app = FastAPI()

    @app.get("/")
    def index(request: Request, response: Response, consent: CurrentConsent,
              decision: CurrentDecision) -> dict[str, Any]:
        for value in APP_SET_COOKIES:
            response.headers.append("Set-Cookie", value)
        return {
            "cookie_header": request.headers.get("cookie"),
            "consent": None if consent is None else consent.id,
            "analytics": decision.allows("analytics"),
            "marketing": decision.allows("marketing"),
        }

    app.add_middleware(ConsentMiddleware, guard=guard)
    return app


def websocket_scope(path: str = "/ws", *, cookie: str | None = None, host: str = HOST
                    ) -> dict[str, Any]:
    """A minimal ASGI websocket scope."""
    scope = http_scope(path, cookie=cookie, host=host)
    scope.update(type="websocket", scheme="wss", subprotocols=[])
    del scope["method"]
    return scope


async def call_websocket(app: Any, scope: Scope) -> list[Message]:
    """Connect, let the app run, then disconnect; the messages the app sent, in order."""
    sent: list[Message] = []
    incoming: list[Message] = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent
