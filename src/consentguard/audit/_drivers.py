"""Driving the app in-process (WSGI; ASGI on a private loop), watching inside its guard."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..asgi import ConsentMiddleware
from ..wsgi import ENVIRON_DECISION
from ._loading import _describe, _Located
from ._report import AuditError

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from django.http import HttpRequest, HttpResponseBase

    from .._types import ASGIApp, Message, Receive, Scope, Send

_MAX_HTML = 5 * 1024 * 1024  # enough to find the links of any real page
_REQUEST_TIMEOUT = 30.0
_LIFESPAN_TIMEOUT = 60.0


@contextlib.contextmanager
def _watching(located: _Located, tap: _Tap) -> Iterator[bool]:
    """Watch just inside the app's guard for the audit's duration; yield whether it can."""
    layer = located.layer
    if layer is None:
        yield False
        return
    original = getattr(layer, located.inner)
    watcher: object  # what the layer wraps, watched: a Django, ASGI or WSGI callable
    if located.inner == "get_response":
        watcher = _django_tap(original, tap, is_async=bool(getattr(layer, "is_async", False)))
    elif isinstance(layer, ConsentMiddleware):
        watcher = _asgi_tap(original, tap)
    else:
        watcher = _wsgi_tap(original, tap)
    setattr(layer, located.inner, watcher)
    try:
        yield True
    finally:
        setattr(layer, located.inner, original)
        if located.built is not None:  # as it was: Starlette builds it on its first call
            located.built.middleware_stack = None


# -- driving the app in-process ----------------------------------------------------------------


@dataclass
class _Response:
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes = b""
    error: str | None = None
    guarded: bool = False  # a consentguard decided this request somewhere inside

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class _Tap:
    """What the app inside the guard answered on the last request, before the guard."""

    set_cookies: list[str] = field(default_factory=list)
    reached: bool = False


_Fetch = Callable[[str, "str | None"], _Response]
_DEFAULT_HEADERS = (("User-Agent", "consentguard-audit"),
                    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"))


def _request_headers(cookie: str | None, extra: Sequence[tuple[str, str]]
                     ) -> list[tuple[str, str]]:
    given = {name.lower() for name, _ in extra}
    headers = [(k, v) for k, v in _DEFAULT_HEADERS if k.lower() not in given]
    headers += extra
    if cookie:
        headers.append(("Cookie", cookie))
    return headers


def _wsgi_tap(app: WSGIApplication, tap: _Tap) -> WSGIApplication:
    def tapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        tap.reached = True

        def tapped_start_response(status: str, headers: list[tuple[str, str]],
                                  exc_info: OptExcInfo | None = None
                                  ) -> Callable[[bytes], object]:
            tap.set_cookies = [v for k, v in headers if k.lower() == "set-cookie"]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return app(environ, tapped_start_response)

    return tapped


def _wsgi_fetch(app: WSGIApplication, base_url: str, extra: Sequence[tuple[str, str]]) -> _Fetch:
    from werkzeug.test import EnvironBuilder

    def fetch(target: str, cookie: str | None) -> _Response:
        builder = EnvironBuilder(path=target, base_url=base_url,
                                 headers=_request_headers(cookie, extra))
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        response = _Response(None, [])
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
            response.status = int(status.split(None, 1)[0])
            response.headers = list(headers)
            return chunks.append

        try:
            result = app(environ, start_response)
            try:
                size = 0
                for chunk in result:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= _MAX_HTML:  # enough for the links; never follow an endless stream
                        break
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            response.error = _describe(exc)
        response.body = b"".join(chunks)
        response.guarded = environ.get(ENVIRON_DECISION) is not None
        return response

    return fetch


def _django_tap(get_response: Callable[[HttpRequest], Any], tap: _Tap, *, is_async: bool
                ) -> Callable[[HttpRequest], Any]:
    """Record a Django response's Set-Cookie lines as its WSGI and ASGI handlers emit them.
    (``get_response`` answers a response, or an awaitable of one when ``is_async``.)"""
    def record(response: HttpResponseBase) -> HttpResponseBase:
        tap.reached = True
        tap.set_cookies = [v for k, v in response.items() if k.lower() == "set-cookie"]
        tap.set_cookies += [c.output(header="") for c in response.cookies.values()]
        return response

    if is_async:
        async def tapped_async(request: HttpRequest) -> HttpResponseBase:
            return record(await get_response(request))

        return tapped_async

    def tapped(request: HttpRequest) -> HttpResponseBase:
        return record(get_response(request))

    return tapped


def _asgi_tap(app: ASGIApp, tap: _Tap) -> ASGIApp:
    async def tapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            tap.reached = True

        async def tapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                tap.set_cookies = [v.decode("latin-1") for k, v in message.get("headers", ())
                                   if k.lower() == b"set-cookie"]
            await send(message)

        await app(scope, receive, tapped_send)

    return tapped


class _AsgiDriver:
    """Runs an ASGI app on a private event loop: lifespan once, then one request at a time."""

    def __init__(self, app: ASGIApp, base_url: str,
                 extra: Sequence[tuple[str, str]] = ()) -> None:
        self.app = app
        self.base = urlsplit(base_url)
        self.extra = list(extra)
        self.loop = asyncio.new_event_loop()
        self.state: dict[str, Any] = {}
        self._lifespan: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Message] | None = None

    def start(self) -> None:
        self.loop.run_until_complete(self._startup())

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._shutdown())
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    async def _startup(self) -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        started: asyncio.Future[str | None] = self.loop.create_future()

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind.startswith("lifespan.startup.") and not started.done():
                started.set_result(None if kind.endswith("complete")
                                   else str(message.get("message", "")))

        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                        "state": self.state}

        async def lifespan() -> None:  # a task needs a coroutine; an ASGI app gives an awaitable
            await self.app(scope, inbox.get, send)

        task = self.loop.create_task(lifespan())
        await inbox.put({"type": "lifespan.startup"})
        either: list[asyncio.Future[Any]] = [task, started]
        await asyncio.wait(either, timeout=_LIFESPAN_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        if started.done():
            failure = started.result()
            if failure is not None:
                raise AuditError(f"the app's startup failed: {failure or 'no message'}")
            self._lifespan, self._inbox = task, inbox
        elif task.done():
            # The app does not speak lifespan (it raised or returned): the ASGI spec says
            # to carry on without it.
            if not task.cancelled():
                task.exception()
        else:
            task.cancel()
            raise AuditError(f"the app's startup did not finish within {_LIFESPAN_TIMEOUT:g} s")

    async def _shutdown(self) -> None:
        if self._lifespan is None or self._inbox is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self._lifespan, _LIFESPAN_TIMEOUT)

    def fetcher(self) -> _Fetch:
        def fetch(target: str, cookie: str | None) -> _Response:
            return self.loop.run_until_complete(self._request(self.app, target, cookie))

        return fetch

    async def _request(self, app: ASGIApp, target: str, cookie: str | None) -> _Response:
        split = urlsplit(target)
        state = dict(self.state)
        base = self.base
        default_port = 443 if base.scheme == "https" else 80
        headers = [(b"host", base.netloc.encode("latin-1"))]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in _request_headers(cookie, self.extra)]
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": base.scheme,
            "path": unquote(split.path),
            "raw_path": split.path.encode("latin-1"),
            "query_string": split.query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": (base.hostname or "localhost", base.port or default_port),
            "state": state,
        }
        response = _Response(None, [])
        chunks: list[bytes] = []
        done = asyncio.Event()
        request_sent = False

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # a client that stays until the response is complete
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                response.status = int(message["status"])
                response.headers = [(k.decode("latin-1"), v.decode("latin-1"))
                                    for k, v in message.get("headers", ())]
            elif message["type"] == "http.response.body":
                if sum(map(len, chunks)) < _MAX_HTML:
                    chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done.set()

        try:
            await asyncio.wait_for(app(scope, receive, send), _REQUEST_TIMEOUT)
        except asyncio.TimeoutError:
            response.error = f"TimeoutError: no complete response within {_REQUEST_TIMEOUT:g} s"
        except Exception as exc:
            response.error = _describe(exc)
        finally:
            done.set()
        response.body = b"".join(chunks)
        response.guarded = "consent_decision" in state
        return response
