"""The endpoint's answers as the banner sees them, in a real Chromium.

Each test serves its own small Starlette site (uvicorn in a thread, plain http) with the
guard it needs, and visits it as ``http://www.demo.test:PORT/``: a host with no localhost
exemption, where Chromium drops a ``Secure`` cookie exactly as on any plain-http site.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

import uvicorn
from selenium.webdriver.common.by import By
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from consentguard import Category, ConsentGuard, Cookie, Registry
from consentguard.asgi import ConsentMiddleware
from consentguard.banner import banner_tag
from consentguard.log import ConsentRecord

from .browserkit import action, banner_hidden, cookies_named, load, wait_for

pytestmark = pytest.mark.browser

REGISTRY = Registry(
    categories=[Category("essential", required=True, description="Needed"),
                Category("analytics", description="Usage statistics")],
    cookies=[Cookie("session", category="essential", purpose="Login", duration="session"),
             Cookie("_ga", category="analytics", purpose="Visitors", duration="2 years")],
)


@contextmanager
def site(**options: Any) -> Iterator[Callable[[str], str]]:
    """A one-page site guarded with ``options``, served on a free port; yields ``url(path)``."""
    guard = ConsentGuard(REGISTRY, "browser-endpoint-secret-0123456789", **options)

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<!doctype html><title>shop</title><h1>Shop</h1>{banner_tag(guard)}")

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(ConsentMiddleware, guard=guard)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the site did not start"
        time.sleep(0.02)
    try:
        yield lambda path: f"http://www.demo.test:{port}{path}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def error_text(driver: Any) -> str:
    box = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#cg-banner .cg-error"),
                   "the banner showed no error")
    text: str = box[0].text
    return text


def test_a_choice_sticks_on_plain_http(browser: Any) -> None:
    with site() as url:  # cookie_secure="auto", the default
        assert load(browser, url("/")) is True
        action(browser, "accept-all").click()
        wait_for(browser, lambda d: banner_hidden(d), "the banner did not close")
        (stored,) = cookies_named(browser, "cg_consent")
        assert stored["secure"] is False and stored["httpOnly"] is True
        assert load(browser, url("/")) is False  # the next page knows the choice
        assert banner_hidden(browser)


def test_a_choice_that_did_not_stick_shows_the_error(browser: Any) -> None:
    # A Secure cookie on plain http: the server answers 200, the browser keeps nothing.
    with site(cookie_secure=True) as url:
        load(browser, url("/"))
        action(browser, "accept-all").click()
        assert error_text(browser) == "Your choice could not be saved. Please try again."
        assert not banner_hidden(browser)
        assert cookies_named(browser, "cg_consent") == []


def test_a_503_shows_the_error(browser: Any) -> None:
    def disk_full(record: ConsentRecord) -> None:
        raise OSError("disk full")

    with site(on_consent=disk_full) as url:
        load(browser, url("/"))
        action(browser, "accept-all").click()
        assert error_text(browser) == "Your choice could not be saved. Please try again."
        assert cookies_named(browser, "cg_consent") == []
        # Refusing needs no proof: it is honoured, and the banner closes.
        action(browser, "reject-all").click()
        wait_for(browser, lambda d: banner_hidden(d), "the banner did not close")
        assert len(cookies_named(browser, "cg_consent")) == 1
