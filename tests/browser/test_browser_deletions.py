"""Lookalike deletions, judged by a real Chromium's cookie jar.

A refused cookie may pass the guard only as a deletion; these Set-Cookie headers read as
deletions to a careless parser, and Chromium stores each of them (the security review
saw it). A small WSGI server of the test's own serves them with and without the guard.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from consentguard import Category, ConsentGuard, Cookie, Registry

from .browserkit import cookie_names, wait_for

pytestmark = pytest.mark.browser

LOOKALIKES = [
    "_ga=GA1; Max-Age=0; Max-Age=+63072000",
    "_ga_A=GA1; Max-Age=0; Max-Age=x",
    "_ga_B=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=garbage",
    "_ga_C=1; Max-Age=0; Max-Age=+63072000; Path=/elsewhere",
]
STORED_BY_LOOKALIKES = {"_ga", "_ga_A", "_ga_B", "_ga_C"}


def page(environ: Any, start_response: Any) -> Iterable[bytes]:
    headers = [("Content-Type", "text/html; charset=utf-8"),
               ("Set-Cookie", "session=s1; Path=/")]
    headers += [("Set-Cookie", value) for value in LOOKALIKES]
    start_response("200 OK", headers)
    # (No favicon request: it would go through the guard, which purges what it is sent.)
    return [b"<!doctype html><title>lookalikes</title><link rel=icon href='data:,'>"
            b"<p id=done>done</p>"]


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per connection: Chromium opens spare connections a single thread would
    wait on."""

    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Every path behind a guard with no consent given; ``/raw`` without it."""
    registry = Registry([Category("essential", required=True), Category("analytics")],
                        [Cookie("session", category="essential"),
                         Cookie("_ga", category="analytics"),
                         Cookie("_ga_*", category="analytics")])
    guarded = ConsentGuard(registry, secret_key="browser-deletions-secret").wsgi(page)

    def route(environ: Any, start_response: Any) -> Iterable[bytes]:
        # Anything else (the browser's /favicon.ico too) goes through the guard.
        app = page if environ["PATH_INFO"] == "/raw" else guarded
        return app(environ, start_response)

    httpd = make_server("127.0.0.1", 0, route, server_class=_Server,
                        handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def visit(driver: Any, url: str) -> set[str]:
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get(url)
    wait_for(driver, lambda d: d.find_element("id", "done"), "the page did not load")
    return cookie_names(driver)


def test_chromium_stores_the_lookalikes_without_the_guard(chromium: Any, server: str) -> None:
    # The headers really are dangerous in this browser: otherwise the next test proves nothing.
    assert visit(chromium, f"{server}/raw") >= STORED_BY_LOOKALIKES


def test_no_lookalike_deletion_reaches_chromiums_jar(chromium: Any, server: str) -> None:
    assert visit(chromium, f"{server}/guarded") == {"session"}
