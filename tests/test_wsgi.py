"""What only the WSGI adapter has, driven directly with an environ and a recording
``start_response``: ``exc_info``, ``write()``, the response iterable, threads, mounting.
The scenarios both adapters share run over each in ``test_adapters.py``."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from apps import (
    StartResponseRecorder,
    environ,
    expected,
    set_cookie_values,
    stored_names,
    wsgi_app,
)
from support import make_guard
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from consentguard import Consent

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def run(app: WSGIApplication, env: dict[str, Any]) -> tuple[StartResponseRecorder, bytes]:
    recorder = StartResponseRecorder()
    body = b"".join(app(env, recorder))
    return recorder, body


def echo(app: WSGIApplication, env: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(Set-Cookie values that reached the browser, what the app saw)."""
    recorder, body = run(app, env)
    return set_cookie_values(recorder.headers), json.loads(body)


def test_consent_key_always_in_environ() -> None:
    guard = make_guard()
    seen: list[Any] = []

    def app(env: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        seen.append(env["consentguard.consent"])
        start_response("204 No Content", [])
        return []

    middleware = guard.wsgi(app)
    run(middleware, environ())
    run(middleware, environ(cookie="cg_consent=forged"))
    run(middleware, environ(cookie=f"cg_consent={guard.encode_consent([])}"))
    assert seen[:2] == [None, None]
    assert isinstance(seen[2], Consent) and seen[2].accepted == frozenset()


def test_exc_info_path_still_filters_headers() -> None:
    def app(env: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Set-Cookie", "_ga=1"), ("Set-Cookie", "session=1")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            start_response("500 Internal Server Error",
                           [("Set-Cookie", "_fbp=2"), ("Set-Cookie", "session=2"),
                            ("Content-Type", "text/plain")], sys.exc_info())
        return [b"error"]

    recorder, body = run(make_guard().wsgi(app), environ())
    assert body == b"error"
    assert [c[0] for c in recorder.calls] == ["200 OK", "500 Internal Server Error"]
    assert recorder.calls[0][2] is None
    _, headers, exc_info = recorder.calls[1]
    assert set_cookie_values(headers) == ["session=2"]
    assert exc_info is not None and isinstance(exc_info[1], RuntimeError)


def test_legacy_write_callable_works() -> None:
    def app(env: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [("Set-Cookie", "_ga=1"), ("Set-Cookie", "lang=fr")])
        write(b"hello ")
        write(b"world")
        return []

    guard = make_guard()
    value = guard.encode_consent(["functional"])
    recorder, body = run(guard.wsgi(app), environ(cookie=f"cg_consent={value}"))
    assert recorder.written == [b"hello ", b"world"] and body == b""
    assert set_cookie_values(recorder.headers) == ["lang=fr"]


class ClosingBody:
    """A WSGI response iterable whose close() must run."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"body"

    def close(self) -> None:
        self.closed = True


def test_app_iterable_is_returned_untouched_so_close_runs() -> None:
    body = ClosingBody()

    def app(env: WSGIEnvironment, start_response: StartResponse) -> ClosingBody:
        start_response("200 OK", [])
        return body

    result = make_guard().wsgi(app)(environ(), StartResponseRecorder())
    assert result is body
    assert list(result) == [b"body"]
    result.close()  # what the server does
    assert body.closed


def test_body_is_not_buffered_generator_runs_after_the_middleware_returns() -> None:
    progress: list[str] = []

    def app(env: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        progress.append("started")
        start_response("200 OK", [("Set-Cookie", "_ga=1"), ("Set-Cookie", "session=1")])
        yield b"first"
        progress.append("after first chunk")
        yield b"second"

    recorder = StartResponseRecorder()
    result = make_guard().wsgi(app)(environ(), recorder)
    assert progress == [] and recorder.calls == []  # nothing ran yet
    iterator = iter(result)
    assert next(iterator) == b"first"
    assert progress == ["started"]
    assert set_cookie_values(recorder.headers) == ["session=1"]
    assert list(iterator) == [b"second"]
    assert progress == ["started", "after first chunk"]


def test_threads_sharing_a_one_value_consent_memo_get_each_visitors_answer() -> None:
    # Eight threads, each a visitor of its own, through a guard remembering one consent
    # value: every request evicts another thread's value, and none may see a wrong answer
    # or an exception.
    guard = make_guard(cache_size=1)
    app = guard.wsgi(wsgi_app)
    choices = [["analytics"], ["marketing"], ["functional"], []] * 2
    signed = [guard.encode_consent(choice) for choice in choices]
    failures: list[object] = []

    def visit(i: int) -> None:
        try:
            for n in range(40):
                values, _ = echo(app, environ(cookie=f"cg_consent={signed[i]}; lang=x{n}"))
                if stored_names(values) != expected(*choices[i]):
                    failures.append((i, n, values))
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(len(signed))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_mounted_under_a_script_name_the_endpoint_answers_under_the_mount() -> None:
    guard = make_guard()
    site = DispatcherMiddleware(wsgi_app, {"/sub": guard.wsgi(wsgi_app)})
    client = Client(site, use_cookies=False)
    state = client.get("/sub/_consent", base_url="https://www.example.com")
    assert state.status_code == 200 and state.json["needs_consent"] is True  # type: ignore[index]
    outer = client.get("/_consent", base_url="https://www.example.com")
    assert outer.json["has_consent_key"] is False  # type: ignore[index]
