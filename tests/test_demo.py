"""The demo site without a browser: its pages, the live panel's record, the command line.

The browser suite (tests/browser/) drives the same site in Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from consentguard.demo import add_arguments, main
from consentguard.demo.site import create_app, demo_registry

ORIGIN = "http://www.demo.test"


def fetch(*requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    """Send ``requests`` (method, path, httpx options) in order, sharing one cookie jar."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(secret_key="demo-test-secret"))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return [await client.request(method, path, **options)
                    for method, path, options in requests]

    return asyncio.run(go())


def set_cookie_names(response: httpx.Response) -> set[str]:
    return {h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")
            if "Max-Age=0" not in h}


def test_first_visit_lets_only_the_essential_cookie_through() -> None:
    (home, panel) = fetch(("GET", "/", {}), ("GET", "/demo/removed", {}))
    assert home.status_code == 200
    assert set_cookie_names(home) == {"session"}
    last = panel.json()["responses"][0]
    assert last["path"] == "/"
    removed = {(r["name"], r["category"]) for r in last["removed"]}
    assert removed == {("theme", "functional"), ("_ga", "analytics"),
                       ("_ga_DEMO123", "analytics"), ("_fbp", "marketing"),
                       ("tracker_uid", "undeclared")}
    assert any("HttpOnly" in r["header"] and "Domain=demo.test" in r["header"]
               for r in last["removed"] if r["name"] == "_ga")


def test_accepted_analytics_pass_on_both_halves_with_one_cookie() -> None:
    responses = fetch(
        ("POST", "/_consent", {"data": {"accept": "analytics", "next": "/consent"},
                               "headers": {"Origin": ORIGIN}}),
        ("GET", "/", {}),
        ("GET", "/flask/", {}),
        ("GET", "/demo/removed", {}),
    )
    consent, home, flask_page, panel = responses
    assert consent.status_code == 303 and consent.headers["location"] == "/consent"
    assert set_cookie_names(home) == {"session", "_ga", "_ga_DEMO123"}
    assert set_cookie_names(flask_page) == {"_ga_FLASK"}
    assert "analytics accepted" in flask_page.text
    assert "marketing not accepted" in flask_page.text
    # The Flask half's removals reach the panel too (recorded from its worker thread).
    flask_entry = panel.json()["responses"][0]
    assert flask_entry["path"] == "/flask/"
    assert {r["name"] for r in flask_entry["removed"]} == {"_fbp", "theme"}


def test_pages_carry_one_banner_tag_and_the_reopen_link() -> None:
    for page in fetch(("GET", "/", {}), ("GET", "/flask/", {}), ("GET", "/consent", {}),
                      ("GET", "/cookie-policy", {})):
        assert page.status_code == 200
        assert page.text.count("/_consent/banner.js") == 1
        assert "data-cg-open" in page.text


def test_policy_page_lists_every_declared_entry() -> None:
    (policy,) = fetch(("GET", "/cookie-policy", {}))
    for cookie in demo_registry().cookies:
        assert f"<code>{cookie.name}</code>" in policy.text


def test_gated_blocks_are_inert_until_the_banner_activates_them() -> None:
    (home,) = fetch(("GET", "/", {}))
    for category in ("analytics", "marketing", "functional"):
        assert f'<script type="text/plain" data-consent-category="{category}">' in home.text


def test_panel_records_pages_and_choices_not_polling_or_state_reads() -> None:
    (_, _, _, _, panel) = fetch(("GET", "/", {}), ("GET", "/demo/removed", {}),
                                ("GET", "/_consent", {}), ("GET", "/_consent/banner.js", {}),
                                ("GET", "/demo/removed", {}))
    assert [e["path"] for e in panel.json()["responses"]] == ["/"]
    assert panel.headers["cache-control"] == "no-store"


def test_arguments_default_to_localhost_8000() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 8000)


def test_a_taken_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_the_demo_serves_and_prints_its_url() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "consentguard.demo", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("consentguard demo running at http://127.0.0.1:")
        url = line.split()[-1]
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert "session=" in response.headers["set-cookie"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
