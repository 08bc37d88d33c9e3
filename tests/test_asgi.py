"""What only the ASGI adapter has, driven directly with scopes and recording ``send``
callables: several Cookie headers, header types, scope state, lifespan, websockets,
streaming, concurrency. The scenarios both adapters share run over each in
``test_adapters.py``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from apps import (
    ALL_BROWSER_COOKIES,
    APP_SET_COOKIES,
    Message,
    Receive,
    Scope,
    Send,
    asgi_app,
    call_asgi,
    call_websocket,
    cookie_header,
    deletions_of,
    expected,
    http_scope,
    set_cookie_values,
    stored_names,
    websocket_scope,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from support import make_guard

from consentguard import Consent
from consentguard.asgi import ConsentMiddleware


def request(app: Any, scope: Scope) -> tuple[Message, dict[str, Any]]:
    """(the http.response.start message, the JSON body) of one request."""
    sent = asyncio.run(call_asgi(app, scope))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start, json.loads(body)


def test_several_cookie_headers_are_read_and_rewritten_as_one() -> None:
    guard = make_guard()
    consent = f"cg_consent={guard.encode_consent(['analytics'])}"
    scope = http_scope(headers=[(b"cookie", b"session=1; _fbp=2"),
                                (b"Cookie", f"_ga=3; {consent}".encode())])
    _, seen = request(guard.asgi(asgi_app), scope)
    assert seen["cookie"] == f"session=1; _ga=3; {consent}"
    assert seen["cookie_headers"] == 1


def _any_case(name: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(*[st.sampled_from([c, c.upper()]) for c in
                       (name[i:i + 1] for i in range(len(name)))]).map(b"".join)


@settings(max_examples=60, deadline=None)
@given(st.tuples(*map(_any_case, (b"cookie", b"host", b"sec-gpc", b"dnt"))),
       st.sampled_from(["gpc", "dnt", "neither"]))
def test_request_header_names_are_read_in_any_case(names: tuple[bytes, ...],
                                                   signal: str) -> None:
    guard = make_guard(honor_dnt=True, gpc_overrides_consent=True)
    consent = f"cg_consent={guard.encode_consent(['analytics', 'marketing'])}"
    values = {b"cookie": f"session=1; _fbp=2; stats=3; {consent}".encode(),
              b"host": b"www.shop.example.com", b"sec-gpc": b"1" if signal == "gpc" else b"0",
              b"dnt": b"1" if signal == "dnt" else b"0"}
    app = guard.asgi(asgi_app)
    answers = []
    for spelled in (names, (b"cookie", b"host", b"sec-gpc", b"dnt")):
        scope = http_scope(host="ignored.example.org")
        scope["headers"] = [(name, values[lower]) for name, lower in
                            zip(spelled, values, strict=True)]
        answers.append(request(app, scope))
    (start, seen), (want_start, want_seen) = answers
    assert start["headers"] == want_start["headers"]  # Set-Cookie kept, removed, purged
    assert seen["consent"] == want_seen["consent"]  # the consent cookie was read
    if signal != "neither":  # a cookie was hidden: the app gets one rewritten header
        assert seen == want_seen
    # The signal and the Host were read: GPC/DNT denies marketing (_fbp), the purge
    # reaches the parent domains of the request's Host, not of the server's name.
    set_cookies = set_cookie_values(start["headers"])
    assert ("_fbp" in stored_names(set_cookies)) == (signal == "neither")
    purged = [v for v in set_cookies if v.startswith("_fbp=;")]
    assert bool(purged) == (signal != "neither")
    assert all("ignored" not in v for v in purged)
    assert any("Domain=shop.example.com" in v for v in purged) == (signal != "neither")


def test_unchanged_cookie_headers_pass_as_sent() -> None:
    guard = make_guard()
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["headers"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [(b"cookie", b"session=1"), (b"x-a", b"b"), (b"cookie", b"session=2")]
    asyncio.run(call_asgi(guard.asgi(app), http_scope(headers=headers)))
    assert seen[0] == [(b"host", b"www.example.com"), *headers]


def test_consent_always_in_scope_state_and_lifespan_state_kept() -> None:
    guard = make_guard()
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["state"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = guard.asgi(app)
    asyncio.run(call_asgi(middleware, http_scope()))  # no "state" key at all
    with_state = http_scope(cookie=f"cg_consent={guard.encode_consent(['marketing'])}")
    with_state["state"] = {"db": "pool"}
    asyncio.run(call_asgi(middleware, with_state))
    assert seen[0]["consent"] is None
    assert seen[1]["db"] == "pool"
    assert isinstance(seen[1]["consent"], Consent) and seen[1]["consent"].allows("marketing")


def test_lifespan_and_unknown_scope_types_pass_through_untouched() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    middleware = make_guard().asgi(app)
    for scope_type in ("lifespan", "webtransport"):
        scope: Scope = {"type": scope_type, "asgi": {"version": "3.0"}, "state": {}}
        asyncio.run(middleware(scope, receive, send))
        assert seen[-1][0] is scope and seen[-1][1] is receive and seen[-1][2] is send
        assert scope == {"type": scope_type, "asgi": {"version": "3.0"}, "state": {}}


def test_streaming_first_chunk_reaches_the_client_before_the_app_finishes() -> None:
    first_seen = asyncio.Event()
    events: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        # Only the test's send can let the app go on: if the middleware buffered the
        # body, this would wait for ever (bounded here by the timeout).
        await asyncio.wait_for(first_seen.wait(), timeout=5)
        events.append("app resumed")
        yield b"second"

    async def endpoint(request: Request) -> StreamingResponse:
        response = StreamingResponse(chunks(), media_type="text/plain")
        response.set_cookie("_ga", "1")
        response.set_cookie("session", "1")
        return response

    app = Starlette(routes=[Route("/", endpoint)])
    app.add_middleware(ConsentMiddleware, guard=make_guard())

    async def go() -> list[Message]:
        sent: list[Message] = []
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body") == b"first":
                events.append("client got first chunk")
                first_seen.set()

        await app(http_scope(), receive, send)
        return sent

    sent = asyncio.run(go())
    assert events == ["client got first chunk", "app resumed"]
    start = sent[0]
    assert stored_names(set_cookie_values(start["headers"])) == ["session"]
    assert [m.get("body") for m in sent[1:] if m.get("body")] == [b"first", b"second"]


def test_websocket_accept_headers_filtered_and_purged() -> None:
    states: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        states.append(scope["state"]["consent"])
        await receive()
        await send({"type": "websocket.accept", "headers": [
            (b"Set-Cookie", b"_ga=1"), (b"set-cookie", b"session=1"), (b"x-trace", b"t")]})
        await send({"type": "websocket.close", "code": 1000})

    sent = asyncio.run(call_websocket(make_guard().asgi(app), websocket_scope(cookie="_fbp=1")))
    accept = sent[0]
    assert accept["type"] == "websocket.accept"
    assert stored_names(set_cookie_values(accept["headers"])) == ["session"]
    assert (b"x-trace", b"t") in accept["headers"]
    assert deletions_of("_fbp", set_cookie_values(accept["headers"]))
    assert states == [None]


def test_websocket_accept_through_starlette() -> None:
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept(headers=[(b"set-cookie", b"_ga=1"), (b"set-cookie", b"lang=fr")])
        await websocket.send_text("hi")
        await websocket.close()

    guard = make_guard()
    app = Starlette(routes=[WebSocketRoute("/ws", ws)])
    app.add_middleware(ConsentMiddleware, guard=guard)
    consent = f"cg_consent={guard.encode_consent(['functional'])}"
    sent = asyncio.run(call_websocket(app, websocket_scope(cookie=consent)))
    assert sent[0]["type"] == "websocket.accept"
    assert stored_names(set_cookie_values(sent[0]["headers"])) == ["lang"]
    assert sent[1] == {"type": "websocket.send", "text": "hi"}


def test_websocket_denial_response_headers_filtered() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"set-cookie", b"_ga=1"), (b"set-cookie", b"session=1")]})
        await send({"type": "websocket.http.response.body", "body": b"no"})

    sent = asyncio.run(call_websocket(make_guard().asgi(app), websocket_scope()))
    assert set_cookie_values(sent[0]["headers"]) == ["session=1"]


def test_concurrent_requests_with_different_consents_do_not_bleed() -> None:
    guard = make_guard()
    choices = [["analytics"], [], ["marketing"], ["functional", "analytics"], []] * 4
    values = [guard.encode_consent(c) for c in choices]
    arrived = 0
    all_in = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal arrived
        consent = scope["state"]["consent"]
        arrived += 1
        if arrived == len(choices):
            all_in.set()
        await asyncio.wait_for(all_in.wait(), timeout=5)  # every request is in flight
        headers = [(b"set-cookie", c.encode()) for c in APP_SET_COOKIES]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": consent.id.encode()})

    middleware = guard.asgi(app)

    async def go() -> list[list[Message]]:
        return await asyncio.gather(*(
            call_asgi(middleware, http_scope(cookie=f"cg_consent={v}")) for v in values))

    for choice, value, sent in zip(choices, values, asyncio.run(go()), strict=True):
        assert stored_names(set_cookie_values(sent[0]["headers"])) == expected(*choice)
        assert sent[1]["body"].decode() == guard.decode_consent(value).id  # type: ignore[union-attr]


def test_middleware_holds_no_per_request_state() -> None:
    middleware = ConsentMiddleware(asgi_app, guard=make_guard())
    request(middleware, http_scope())  # the first call checks, once, where the guard sits
    before = dict(vars(middleware))
    request(middleware, http_scope(cookie=cookie_header(ALL_BROWSER_COOKIES)))
    assert vars(middleware) == before


# -- header types: servers take more than (bytes, bytes) tuples ------------------------------

_TYPES: dict[str, Callable[[str], Any]] = {
    "str": lambda text: text,
    "bytes": lambda text: text.encode("latin-1"),
    "bytearray": lambda text: bytearray(text, "latin-1"),
    "memoryview": lambda text: memoryview(text.encode("latin-1")),
}


@pytest.mark.parametrize("shape", ["tuple", "list"])
@pytest.mark.parametrize(("name_type", "value_type"), [
    ("str", "str"), ("bytes", "str"), ("str", "bytes"), ("bytearray", "bytearray"),
    ("bytes", "memoryview"), ("bytearray", "str"),
])
def test_set_cookie_headers_are_filtered_whatever_their_types(
        name_type: str, value_type: str, shape: str) -> None:
    # The security review: uvicorn with h11 sends ("set-cookie", "...") str tuples to the
    # client, and they passed unfiltered.
    def header(name: str, value: str) -> Any:
        pair = (_TYPES[name_type](name), _TYPES[value_type](value))
        return pair if shape == "tuple" else list(pair)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            header("Set-Cookie", "_ga=1; Path=/"), header("content-type", "text/plain"),
            header("set-cookie", "session=1; Path=/"), header("SET-COOKIE", "tracker=1")]})
        await send({"type": "http.response.body", "body": b""})

    guarded = make_guard().asgi(app)
    for _ in range(3):  # and once the guard remembers the list
        sent = asyncio.run(call_asgi(guarded, http_scope()))
        headers = [(bytes(n) if not isinstance(n, str) else n.encode(),
                    bytes(v) if not isinstance(v, str) else v.encode())
                   for n, v in sent[0]["headers"]]
        assert [v for n, v in headers if n.lower() == b"set-cookie"] == [b"session=1; Path=/"]
        assert (b"content-type", b"text/plain") in [(n.lower(), v) for n, v in headers]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.sampled_from(["set-cookie", b"Set-Cookie", bytearray(b"set-cookie"), 7, None]),
              st.one_of(st.text(max_size=20), st.binary(max_size=20), st.integers())),
    st.lists(st.text(max_size=5), max_size=3), st.none(), st.text(max_size=5),
    # Found in review: empty, 1- and 3-tuples, beside a refused deletion whose Expires
    # makes the guard read the response's Date headers.
    st.just(()), st.just((b"set-cookie",)), st.just((b"date", b"x", b"y")),
    st.just((b"set-cookie", b"_fbp=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT")),
    st.just([b"date", b"Thu, 01 Jan 1970 00:00:00 GMT"])), max_size=6))
def test_no_header_shape_raises_into_the_app(headers: list[Any]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent = asyncio.run(call_asgi(make_guard().asgi(app), http_scope()))
    for name, value in (h for h in sent[0]["headers"] if isinstance(h, tuple) and len(h) == 2):
        if isinstance(name, (bytes, bytearray)) and bytes(name).lower() == b"set-cookie":
            assert isinstance(value, bytes)  # every Set-Cookie that went out was judged
            assert not value.startswith((b"_ga=", b"tracker"))


def test_str_set_cookies_are_filtered_under_uvicorn_with_h11() -> None:
    import http.client
    import threading

    import uvicorn

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            ("set-cookie", "_ga=GA1.2.3; Path=/"), ("set-cookie", "session=1; Path=/"),
            ("content-type", "text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    config = uvicorn.Config(make_guard().asgi(app), host="127.0.0.1", port=0, http="h11",
                            lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            thread.join(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.read() == b"ok"
        assert response.headers.get_all("set-cookie") == ["session=1; Path=/"]
        connection.close()
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_asgi_types_live_in_a_private_module_and_are_still_importable_here() -> None:
    import consentguard._types
    import consentguard.asgi

    for name in ("ASGIApp", "Message", "Receive", "Scope", "Send"):
        assert getattr(consentguard.asgi, name) is getattr(consentguard._types, name)
