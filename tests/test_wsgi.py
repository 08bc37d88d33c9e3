"""The WSGI adapter, driven directly with an environ and a recording ``start_response``."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from apps import (
    ALL_BROWSER_COOKIES,
    APP_SET_COOKIES,
    StartResponseRecorder,
    cookie_header,
    deleted,
    deletions_of,
    environ,
    expected,
    header_values,
    set_cookie_values,
    stored_names,
    wsgi_app,
)
from support import FrozenClock, make_guard, make_registry
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from consentguard import Consent, ConsentGuard, UndeclaredCookieError, Violation

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


def test_without_consent_only_required_cookies_reach_the_browser() -> None:
    app = make_guard().wsgi(wsgi_app)
    values, seen = echo(app, environ())
    assert stored_names(values) == expected()
    assert seen["has_consent_key"] and seen["consent"] is None


@pytest.mark.parametrize("accepted", [["analytics"], ["functional", "marketing"], ["*"]],
                         ids=["analytics", "functional+marketing", "all"])
def test_consent_lets_its_categories_cookies_pass(accepted: list[str]) -> None:
    guard = make_guard()
    app = guard.wsgi(wsgi_app)
    value = guard.encode_consent(accepted)
    values, seen = echo(app, environ(cookie=f"cg_consent={value}"))
    optional = ["functional", "analytics", "marketing"] if accepted == ["*"] else accepted
    assert stored_names(values) == expected(*optional)
    assert seen["consent"] == guard.decode_consent(value).id  # type: ignore[union-attr]


def _other_key_value(guard: ConsentGuard) -> str:
    return ConsentGuard(make_registry(), "another-key").encode_consent(["*"])


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(_other_key_value, id="forged-other-key"),
        pytest.param(lambda g: g.encode_consent(["*"])[:-3] + "AAA", id="tampered-signature"),
        pytest.param(lambda g: g.encode_consent(["*"])[:20], id="truncated"),
        pytest.param(lambda g: "not-a-consent", id="garbage"),
        pytest.param(lambda g: '"\\303\\251t\\303\\251"', id="quoted-non-ascii"),
    ],
)
def test_invalid_consent_falls_back_to_required_only(
    make_value: Callable[[ConsentGuard], str],
) -> None:
    guard = make_guard()
    value = make_value(guard)
    values, seen = echo(guard.wsgi(wsgi_app), environ(cookie=f"cg_consent={value}"))
    assert stored_names(values) == expected()
    assert seen["consent"] is None


def test_expired_consent_falls_back_to_required_only() -> None:
    clock = FrozenClock()
    guard = make_guard(clock=clock, max_age=3600)
    app = guard.wsgi(wsgi_app)
    env = {"cookie": f"cg_consent={guard.encode_consent(['analytics'])}"}
    clock.advance(3599)
    assert stored_names(echo(app, environ(**env))[0]) == expected("analytics")
    clock.advance(2)
    values, seen = echo(app, environ(**env))
    assert stored_names(values) == expected()
    assert seen["consent"] is None


def test_rotated_out_key_falls_back_and_rotation_keeps_old_consents() -> None:
    old = ConsentGuard(make_registry(), "old-key", clock=FrozenClock())
    value = old.encode_consent(["analytics"])
    rotating = ConsentGuard(make_registry(), ["new-key", "old-key"], clock=FrozenClock())
    rotated_out = ConsentGuard(make_registry(), ["new-key"], clock=FrozenClock())
    env = {"cookie": f"cg_consent={value}"}
    assert stored_names(echo(rotating.wsgi(wsgi_app), environ(**env))[0]) == expected("analytics")
    assert stored_names(echo(rotated_out.wsgi(wsgi_app), environ(**env))[0]) == expected()
    # The newest key signs: a value made by the rotating guard fails under the old key alone.
    assert old.decode_consent(rotating.encode_consent(["analytics"])) is None


def test_unknown_block_removes_and_logs_once_per_name(caplog: pytest.LogCaptureFixture) -> None:
    app = make_guard(unknown="block").wsgi(wsgi_app)
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        values, _ = echo(app, environ())
        echo(app, environ())
    assert "mystery" not in stored_names(values)
    logged = [r for r in caplog.records if "mystery" in r.getMessage()]
    assert len(logged) == 1


def test_unknown_allow_lets_undeclared_cookies_pass() -> None:
    values, _ = echo(make_guard(unknown="allow").wsgi(wsgi_app), environ())
    assert stored_names(values) == [*expected(), "mystery"]


def test_unknown_raise_raises_into_the_app() -> None:
    with pytest.raises(UndeclaredCookieError, match="mystery"):
        run(make_guard(unknown="raise").wsgi(wsgi_app), environ())


def test_report_only_changes_nothing_and_reports_everything() -> None:
    violations: list[Violation] = []
    guard = make_guard(mode="report-only", on_violation=violations.append)
    browser = cookie_header(ALL_BROWSER_COOKIES)
    recorder, body = run(guard.wsgi(wsgi_app), environ(cookie=browser))
    assert set_cookie_values(recorder.headers) == list(APP_SET_COOKIES)
    assert header_values(recorder.headers, "cache-control") == []
    assert json.loads(body)["cookie"] == browser
    reported = {(v.kind, v.name, v.category, v.action) for v in violations}
    assert reported == {
        ("request-cookie", "lang", "functional", "reported"),
        ("request-cookie", "_ga", "analytics", "reported"),
        ("request-cookie", "_ga_XYZ", "analytics", "reported"),
        ("request-cookie", "stats", "analytics", "reported"),
        ("request-cookie", "_fbp", "marketing", "reported"),
        ("request-cookie", "mystery", None, "reported"),
        ("set-cookie", "lang", "functional", "reported"),
        ("set-cookie", "_ga", "analytics", "reported"),
        ("set-cookie", "_ga_XYZ", "analytics", "reported"),
        ("set-cookie", "_fbp", "marketing", "reported"),
        ("set-cookie", "mystery", None, "reported"),
    }


def test_enforce_reports_removed_cookies_with_the_path() -> None:
    violations: list[Violation] = []
    guard = make_guard(on_violation=violations.append)
    run(guard.wsgi(wsgi_app), environ("/shop", cookie="_fbp=1"))
    assert Violation("request-cookie", "_fbp", "marketing", "removed", "_fbp=1", "/shop") in (
        violations)
    assert {v.name for v in violations if v.kind == "set-cookie"} == {
        "lang", "_ga", "_ga_XYZ", "_fbp", "mystery"}


def test_refused_cookies_the_browser_holds_are_hidden_and_purged() -> None:
    guard = make_guard()
    recorder, body = run(guard.wsgi(wsgi_app),
                         environ(cookie=cookie_header(ALL_BROWSER_COOKIES)))
    values = set_cookie_values(recorder.headers)
    assert json.loads(body)["cookie"] == "session=s3cr3t"
    # _ga lives on .example.com: host-only, the declared domain and the host's parents.
    assert deletions_of("_ga", values) == [
        {"expires": "Thu, 01 Jan 1970 00:00:00 GMT", "max-age": "0", "path": "/"},
        {"domain": "example.com", "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
         "max-age": "0", "path": "/"},
        {"domain": "www.example.com", "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
         "max-age": "0", "path": "/"},
    ]
    # stats was declared with path /blog: every deletion carries it.
    assert {d["path"] for d in deletions_of("stats", values)} == {"/blog"}
    assert {d.get("domain") for d in deletions_of("stats", values)} == {
        None, "www.example.com", "example.com"}
    # Required and undeclared cookies are not purged (we cannot know their path).
    assert deletions_of("session", values) == [] and deletions_of("mystery", values) == []
    purged = {v.split("=", 1)[0] for v in deleted(values)}
    assert purged == {"lang", "_ga", "_ga_XYZ", "stats", "_fbp"}
    # A purge makes the response personal: shared caches must not keep it.
    assert header_values(recorder.headers, "cache-control") == ["private"]


def test_parent_domains_purged_up_to_two_labels() -> None:
    recorder, _ = run(make_guard().wsgi(wsgi_app),
                      environ(cookie="_fbp=1", host="a.shop.example.com"))
    domains = [d.get("domain") for d in deletions_of("_fbp", set_cookie_values(
        recorder.headers))]
    assert domains == [None, "a.shop.example.com", "shop.example.com", "example.com"]


def test_accepted_cookies_reach_the_app_verbatim_in_order_with_duplicates() -> None:
    guard = make_guard()
    consent = f"cg_consent={guard.encode_consent(['functional'])}"
    sent = (f'session=a; _ga=x; lang="fr ch"; {consent}; session=b;mystery=1;'
            "  lang=\t; _fbp=z")
    _, seen = echo(guard.wsgi(wsgi_app), environ(cookie=sent))
    assert seen["cookie"] == f'session=a; lang="fr ch"; {consent}; session=b; lang='


def test_unchanged_cookie_header_is_passed_byte_identical() -> None:
    guard = make_guard()
    sent = f"session=a;lang=fr ;  cg_consent={guard.encode_consent(['functional'])}"
    _, seen = echo(guard.wsgi(wsgi_app), environ(cookie=sent))
    assert seen["cookie"] == sent


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


def _cache_app(cache_control: str | None, cookies: list[str]) -> WSGIApplication:
    def app(env: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        headers = [("Set-Cookie", c) for c in cookies]
        if cache_control is not None:
            headers.insert(0, ("Cache-Control", cache_control))
        start_response("200 OK", headers)
        return []

    return app


@pytest.mark.parametrize(
    ("cache_control", "cookies", "accepted", "want"),
    [
        pytest.param(None, ["_ga=1"], ["analytics"], ["private"], id="consent-cookie-added"),
        pytest.param("public, max-age=60", ["_ga=1"], ["analytics"], ["max-age=60, private"],
                     id="public-made-private"),
        pytest.param("no-store", ["_ga=1"], ["analytics"], ["no-store"], id="no-store-kept"),
        pytest.param("private, max-age=5", ["_ga=1"], ["analytics"], ["private, max-age=5"],
                     id="private-kept"),
        pytest.param("public, max-age=60", ["session=1"], ["analytics"],
                     ["public, max-age=60"], id="required-only-untouched"),
        pytest.param("public, max-age=60", ["_ga=1"], [], ["public, max-age=60"],
                     id="refused-cookie-removed-untouched"),
        pytest.param(None, [], ["analytics"], [], id="no-cookie-no-header"),
    ],
)
def test_cache_control_private_when_a_consent_only_cookie_passes(
    cache_control: str | None, cookies: list[str], accepted: list[str], want: list[str]
) -> None:
    guard = make_guard()
    app = guard.wsgi(_cache_app(cache_control, cookies))
    recorder, _ = run(app, environ(cookie=f"cg_consent={guard.encode_consent(accepted)}"))
    assert header_values(recorder.headers, "cache-control") == want


def test_cache_control_option_off() -> None:
    guard = make_guard(cache_control=False)
    app = guard.wsgi(_cache_app("public", ["_ga=1"]))
    recorder, _ = run(app, environ(cookie=f"cg_consent={guard.encode_consent(['analytics'])}"))
    assert header_values(recorder.headers, "cache-control") == ["public"]


def test_consent_cookie_not_renewed_on_ordinary_pages() -> None:
    guard = make_guard()
    value = guard.encode_consent(["analytics"])
    values, _ = echo(guard.wsgi(wsgi_app), environ(cookie=f"cg_consent={value}"))
    assert not [v for v in values if v.startswith("cg_consent=")]


def test_endpoint_served_by_the_wsgi_adapter_and_disabled_with_none() -> None:
    recorder, body = run(make_guard().wsgi(wsgi_app), environ("/_consent"))
    assert recorder.status == "200 OK"
    assert json.loads(body)["needs_consent"] is True
    recorder, body = run(make_guard(endpoint=None).wsgi(wsgi_app), environ("/_consent"))
    assert json.loads(body)["has_consent_key"] is True  # the app answered



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
