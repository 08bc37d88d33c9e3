"""The ASGI adapter: a pure ASGI middleware (no ``BaseHTTPMiddleware``).

It acts on the ``http.response.start`` and ``websocket.accept`` messages only; body
messages pass straight through, unbuffered. ``lifespan`` and unknown scope types are
not touched. Per-request state lives in the ``send`` wrapper, never on ``self``.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ._placement import check_asgi_stack
from ._types import ASGIApp as ASGIApp
from ._types import Message as Message
from ._types import Receive as Receive
from ._types import Scope as Scope
from ._types import Send as Send
from .endpoint import (
    MAX_BODY,
    EndpointRequest,
    EndpointResponse,
    handle,
    is_endpoint_path,
    may_be_endpoint_path,
    proof_failed,
    response_headers,
)

if TYPE_CHECKING:
    from .guard import ConsentGuard, Decision

__all__ = ["ASGIApp", "ConsentMiddleware", "Receive", "Scope", "Send", "record_proof_async"]

# The request headers the guard reads, under every ASCII spelling of their names (header
# names are case-insensitive, and ``bytes.lower`` folds ASCII only): 152 keys, so each
# header costs one lookup, where asking every other name ``islower()`` doubled the loop.
_COOKIE, _HOST, _GPC, _DNT = 1, 2, 3, 4


def _spellings(name: bytes) -> list[bytes]:
    letters = [bytes({c, c ^ 0x20}) if c in b"abcdefghijklmnopqrstuvwxyz" else bytes([c])
               for c in name]
    return [bytes(chars) for chars in itertools.product(*letters)]


_WANTED = {spelling: kind
           for name, kind in ((b"cookie", _COOKIE), (b"host", _HOST), (b"sec-gpc", _GPC),
                              (b"dnt", _DNT))
           for spelling in _spellings(name)}

# Messages that carry the response headers.
_HEADER_MESSAGES = frozenset(
    {"http.response.start", "websocket.accept", "websocket.http.response.start"})


class ConsentMiddleware:
    """Enforce ``guard`` on an ASGI app.

    Starlette / FastAPI::

        app.add_middleware(ConsentMiddleware, guard=guard)

    The visitor's :class:`~consentguard.Consent` (or ``None``) is in
    ``scope["state"]["consent"]`` (``request.state.consent`` in Starlette), and the
    :class:`~consentguard.Decision` in ``scope["state"]["consent_decision"]``.
    """

    def __init__(self, app: ASGIApp, *, guard: ConsentGuard) -> None:
        self.app = app
        self.guard = guard
        self.placement_unchecked = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.placement_unchecked:  # once: warn about the stack around the guard
            self.placement_unchecked = check_asgi_stack(self, scope)
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cookie: str | None = None
        host = ""
        gpc = dnt = False
        wanted = _WANTED
        for name, value in scope["headers"]:
            kind = wanted.get(name)
            if kind is None:
                continue
            if kind == _COOKIE:  # several Cookie headers are one, joined with "; "
                text = value.decode("latin-1")
                cookie = text if cookie is None else f"{cookie}; {text}"
            elif kind == _HOST:
                host = value.decode("latin-1")
            elif kind == _GPC:
                gpc = value == b"1"
            else:
                dnt = value == b"1"
        guard = self.guard
        path: str = scope.get("path", "")
        decision = guard.decide(cookie, host=host or _server_host(scope), gpc=gpc, dnt=dnt,
                                path=path)
        if decision.cookie_changed:  # the app gets its own scope with the filtered header
            headers = [(n, v) for n, v in scope["headers"] if wanted.get(n) != _COOKIE]
            if decision.cookie_header is not None:
                headers.append((b"cookie", decision.cookie_header.encode("latin-1")))
            scope = {**scope, "headers": headers}
        state = scope.get("state")
        if state is None:  # servers without lifespan state; Starlette expects a dict here
            state = scope["state"] = {}
        state["consent"] = decision.consent
        state["consent_decision"] = decision

        if scope["type"] == "http" and may_be_endpoint_path(guard, path):
            app_path = _endpoint_path(scope, path)
            if is_endpoint_path(guard, app_path):
                await serve_asgi(guard, decision, scope, receive, send, app_path, cookie)
                return

        async def guarded_send(message: Message) -> None:
            if message["type"] in _HEADER_MESSAGES:  # a copy: apps may reuse their dicts
                message = {**message,
                           "headers": decision.filter_raw_headers(message.get("headers", ()))}
            await send(message)

        await self.app(scope, receive, guarded_send)


def _endpoint_path(scope: Scope, path: str) -> str:
    """The request path inside the app: ``path`` less ``root_path`` when it starts with it."""
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    return str(server[0]) if server else ""


async def serve_asgi(guard: ConsentGuard, decision: Decision, scope: Scope, receive: Receive,
                     send: Send, path: str, cookie_header: str | None) -> None:
    """Answer an endpoint request: read the body (bounded), store the proof off the event
    loop, respond."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in scope["headers"]}
    headers.setdefault("host", _server_host(scope))  # as the page's decision reads it
    method = scope.get("method", "GET").upper()
    body, too_large = b"", False
    if method in ("POST", "DELETE"):
        read = await _read_body(receive)
        if read is None:
            return  # the client went away
        body, too_large = read
    response = await record_proof_async(guard, handle(guard, decision, EndpointRequest(
        method=method, path=path, query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers, body=body, scheme=scope.get("scheme", "http"),
        body_too_large=too_large,
    ), cookie_header=cookie_header))
    raw = [(n.lower().encode("latin-1"), v.encode("latin-1"))
           for n, v in response_headers(response)]
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": response.body})


async def _read_body(receive: Receive) -> tuple[bytes, bool] | None:
    """The request body and whether it was over the bound; ``None`` on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", True
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), False


async def record_proof_async(guard: ConsentGuard, response: EndpointResponse) -> EndpointResponse:
    """:func:`consentguard.endpoint.record_proof` without blocking the event loop.

    A coroutine function ``on_consent`` is awaited; any other runs in a worker thread, so
    a slow or locked store (SQLite waiting on another writer) stalls this request only.
    """
    on_consent = guard.on_consent
    record = response.record
    if record is None or on_consent is None:
        return response
    try:
        if _is_async(on_consent):
            result = on_consent(record)
        else:
            result = await _in_thread(on_consent, record)
        if inspect.isawaitable(result):  # (a callable object whose __call__ is async, too)
            await result
    except Exception:
        return proof_failed(response)
    return response


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None))  # noqa: B004 - an async __call__ method


_T = TypeVar("_T")
_A = TypeVar("_A")


async def _in_thread(function: Callable[[_A], _T], argument: _A) -> _T:
    """``function(argument)`` in a worker thread.

    anyio when it is installed (Starlette depends on it): it runs under asyncio and trio
    alike, and shares Starlette's thread limiter; else the standard library's asyncio.
    """
    try:
        from anyio import to_thread
    except ImportError:
        import asyncio

        return await asyncio.to_thread(function, argument)
    return await to_thread.run_sync(function, argument)
