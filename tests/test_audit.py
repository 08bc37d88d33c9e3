"""``consentguard audit``: a real Flask and a real FastAPI app, crawled in-process."""

from __future__ import annotations

import html
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from apps import Tracking, WsgiTracking
from fastapi import Response  # module level: FastAPI resolves string annotations here

from consentguard import Category, ConsentGuard, Cookie, Registry
from consentguard.asgi import Receive, Scope, Send
from consentguard.audit import (
    AuditError,
    AuditReport,
    SetCookieAttributes,
    audit_app,
    detect_interface,
)
from consentguard.cli import main

AUDITAPPS = Path(__file__).parent / "auditapps"

REGISTRY = AUDITAPPS / "cookies.toml"  # the sites' registry


@pytest.fixture
def registry_file() -> Path:
    return REGISTRY


@pytest.fixture
def sites(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    monkeypatch.syspath_prepend(str(AUDITAPPS))
    monkeypatch.chdir(AUDITAPPS)
    yield {name: importlib.import_module(f"cg_audit_{name}_site") for name in ("flask", "fastapi")}


def cli(*argv: str) -> int:
    return main(["audit", *argv])


def runs(report: AuditReport, name: str) -> tuple[str | None, ...]:
    cookie = report.cookie(name)
    return tuple(cookie.runs[r].action for r in ("no_consent", "all_accepted"))


def codes(report: AuditReport, name: str) -> set[str]:
    return {f.code for f in report.cookie(name).findings}


def paths(report: AuditReport, run_name: str) -> list[str]:
    return [p.path for p in report.pages if p.run == run_name]


# -- the Flask site ---------------------------------------------------------------------------


def test_flask_site_report(sites: dict[str, ModuleType]) -> None:
    report = audit_app(sites["flask"].guarded_app, crawl=10)

    # Breadth first; the redirect from /old is followed; the fragment link is the same
    # page; the consent endpoint, other hosts, mailto: and javascript: are not visited.
    for run_name in ("no_consent", "all_accepted"):
        assert paths(report, run_name) == ["/", "/about", "/old", "/shop", "/deep?x=1"]
    assert report.interface == "wsgi"
    assert report.registry == str(REGISTRY)  # the app's own guard's
    assert report.guard == "enforce" and report.outside_guard == ()
    assert all(p.status in (200, 302) and p.error is None for p in report.pages)

    assert runs(report, "session_id") == ("passed", "passed")
    assert runs(report, "_ga") == ("removed", "passed")
    assert runs(report, "_fbp") == ("removed", "passed")  # needs the cookie jar
    assert runs(report, "prefs") == ("removed", "passed")
    assert runs(report, "mystery") == ("removed", "removed")

    session = report.cookie("session_id")
    assert (session.category, session.required, session.httponly, session.secure,
            session.samesite, session.lifetime) == ("essential", True, True, True, "Lax", None)
    assert session.findings == ()
    # Removed before consent is the guard working: not an error.
    assert codes(report, "_ga") == {"lifetime-exceeds-declared"}
    assert report.cookie("_ga").lifetime == 2 * 365 * 86400
    assert codes(report, "_fbp") == {"missing-samesite"}
    assert codes(report, "prefs") == set()
    assert codes(report, "mystery") == {"undeclared", "missing-secure", "missing-samesite"}
    # Deleting an undeclared cookie is no problem; it is still listed.
    legacy = report.cookie("legacy_tracker")
    assert legacy.findings == () and legacy.runs["no_consent"].deleted == 1

    assert report.undeclared == ("mystery",)
    assert report.leaks == ()
    assert report.removed_before_consent == ("_fbp", "_ga", "prefs")
    assert sorted(c.name for c in report.declared_not_seen) == [
        "_hjid", "ad_*", "never_set", "sid"]  # storage keys are never expected in Set-Cookie
    assert report.exit_code == 1

    text = report.to_text()
    assert "mystery" in text and "UNDECLARED" in text
    assert "Removed before consent (3)" in text and "the guard working" in text
    assert "Pre-consent leaks" not in text
    assert "it lives 730 days (about 2.0 years) but the registry declares '1 day'" in text
    assert text.rstrip().endswith("Result: FAIL — 1 error(s), 4 warning(s), 6 cookie(s).")


def test_a_site_without_a_guard_leaks_every_optional_cookie(sites: dict[str, ModuleType],
                                                            registry_file: Path) -> None:
    report = audit_app(sites["flask"].app, registry=registry_file, crawl=10)
    assert report.guard is None and report.runs == ("no_consent",)
    assert paths(report, "all_accepted") == []
    assert runs(report, "_ga") == ("passed", None)
    assert report.leaks == ("_fbp", "_ga", "mystery", "prefs")
    assert report.removed_before_consent == ()
    assert "No consentguard was found in front of the app" in report.cookie("_ga").findings[
        -1].message
    assert any("no consentguard found in the app" in w for w in report.warnings)
    assert report.exit_code == 1


@pytest.mark.parametrize(("crawl", "visited", "fbp_seen"), [
    pytest.param(0, ["/"], False, id="start-paths-only"),
    pytest.param(1, ["/", "/about"], True, id="one-more-page"),
    pytest.param(2, ["/", "/about", "/old", "/shop"], True, id="redirects-do-not-count"),
])
def test_crawl_budget(sites: dict[str, ModuleType], registry_file: Path, crawl: int,
                      visited: list[str], fbp_seen: bool) -> None:
    report = audit_app(sites["flask"].app, registry=registry_file, crawl=crawl)
    assert paths(report, "no_consent") == visited
    assert ("_fbp" in {c.name for c in report.cookies}) is fbp_seen


def test_start_paths(sites: dict[str, ModuleType], registry_file: Path) -> None:
    report = audit_app(sites["flask"].guarded_app, paths=("/deep?x=1", "/shop", "/shop"))
    assert paths(report, "all_accepted") == ["/deep?x=1", "/shop"]
    assert {c.name for c in report.cookies} == {"prefs", "mystery", "legacy_tracker"}
    # The consent endpoint answers without the app: nothing is counted for it.
    report = audit_app(sites["flask"].guarded_app, paths=("/", "/_consent"))
    assert [p.cookies for p in report.pages if p.path == "/_consent"] == [()] * 2
    assert report.cookie("_ga").runs["no_consent"].set == 1
    with pytest.raises(AuditError, match="must start with '/'"):
        audit_app(sites["flask"].app, paths=("about",))


def test_without_registry_everything_is_undeclared(sites: dict[str, ModuleType]) -> None:
    report = audit_app(sites["flask"].app)
    assert report.registry is None
    assert report.undeclared == ("_ga", "session_id")
    assert any("no registry given" in w for w in report.warnings)
    assert report.exit_code == 1


# -- the FastAPI site ---------------------------------------------------------------------


def test_fastapi_site_report(sites: dict[str, ModuleType]) -> None:
    report = audit_app(sites["fastapi"].guarded_app, crawl=10)

    assert report.interface == "asgi" and report.guard == "enforce"
    # The lifespan ran (/ needs its state); JSON is not crawled for links.
    assert paths(report, "no_consent") == ["/", "/products", "/api/items"]
    assert all(p.status == 200 and p.error is None for p in report.pages)

    assert runs(report, "sid") == ("passed", "passed")
    assert report.cookie("sid").findings == ()
    assert runs(report, "_hjid") == ("removed", "passed")
    assert codes(report, "_hjid") == {"lifetime-exceeds-declared"}
    ad = report.cookie("ad_id")
    assert (ad.declared_as, ad.category, ad.samesite, ad.secure) == (
        "ad_*", "marketing", "None", False)
    assert runs(report, "ad_id") == ("removed", "passed")
    assert codes(report, "ad_id") == {"missing-secure", "samesite-none-without-secure"}
    assert runs(report, "ab_test") == ("removed", "removed")
    assert codes(report, "ab_test") == {"undeclared"}
    assert report.leaks == ()
    assert report.removed_before_consent == ("_hjid", "ad_id")
    assert report.exit_code == 1
    # The audit left the app as it was: its stack is built on its first call, as before.
    assert sites["fastapi"].guarded_app.middleware_stack is None


def test_asgi_startup_failure_stops_the_audit() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(AuditError, match="startup failed: no database"):
        audit_app(app)


def test_plain_asgi_app_without_lifespan() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("lifespan not supported")
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/html"),
            (b"set-cookie", b"essential_ok=1; Secure; HttpOnly; SameSite=Strict")]})
        await send({"type": "http.response.body", "body": b"<p>hi</p>"})

    registry = Registry([Category("essential", required=True)],
                        [Cookie("essential_ok", category="essential", duration="session")])
    report = audit_app(app, registry=registry)
    assert runs(report, "essential_ok") == ("passed", None)
    assert report.findings == () and report.declared_not_seen == ()
    assert report.exit_code == 0
    assert "Result: OK" in report.to_text()


# -- apps that already run consentguard -----------------------------------------------------


def _site_registry() -> Registry:
    return Registry(
        [Category("essential", required=True), Category("analytics"), Category("marketing")],
        [Cookie("session", category="essential", duration="session"),
         Cookie("_ga", category="analytics", duration="2 years")],
        source="site registry",
    )


def test_flask_extension_is_audited_in_place_and_consent_aware_views_pass() -> None:
    from flask import Flask, make_response

    from consentguard.flask import ConsentGuard as FlaskConsentGuard
    from consentguard.flask import current_decision

    app = Flask("consent_aware")
    app.config.update(SECRET_KEY="k", CONSENTGUARD_REGISTRY=_site_registry())
    FlaskConsentGuard(app)

    @app.get("/")
    def index() -> Any:
        response = make_response("<p>hi</p>")
        response.set_cookie("session", "1", httponly=True, secure=True, samesite="Lax")
        if current_decision().allows("analytics"):  # the app asks before setting it
            response.set_cookie("_ga", "GA1", max_age=86400, secure=True, samesite="Lax")
        return response

    report = audit_app(app)
    assert report.registry == "site registry"  # taken from the app's own guard
    assert runs(report, "session") == ("passed", "passed")
    assert runs(report, "_ga") == (None, "passed")
    assert report.findings == () and report.warnings == ()
    assert report.exit_code == 0


def test_starlette_middleware_is_audited_in_place_without_touching_the_app() -> None:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from consentguard.asgi import ConsentMiddleware

    guard = ConsentGuard(_site_registry(), "k")
    app = FastAPI()
    app.add_middleware(ConsentMiddleware, guard=guard)

    @app.get("/")
    def index(response: Response) -> dict[str, str]:
        response.set_cookie("_ga", "GA1", max_age=86400, secure=True, samesite="lax")
        return {}

    report = audit_app(app)
    assert [p.status for p in report.pages] == [200, 200]
    assert runs(report, "_ga") == ("removed", "passed")
    assert report.leaks == () and report.removed_before_consent == ("_ga",)
    assert report.exit_code == 0
    # The app itself still enforces consent afterwards.
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
            return await client.get("/")

    response = asyncio.run(get())
    assert response.status_code == 200 and "set-cookie" not in response.headers


def test_guard_hidden_inside_other_middleware_is_reported(registry_file: Path) -> None:
    from flask import Flask, make_response

    inner = Flask("hidden_guard")

    @inner.get("/")
    def index() -> Any:
        response = make_response("<p>hi</p>")
        response.set_cookie("_ga", "GA1", secure=True, samesite="Lax")
        return response

    guarded = ConsentGuard(_site_registry(), "k").wsgi(inner)

    def outer(environ: dict[str, Any], start_response: Any) -> Any:
        return guarded(environ, start_response)

    report = audit_app(outer, registry=registry_file)
    assert any("a ConsentGuard runs inside a layer the audit cannot see through" in w
               for w in report.warnings)
    assert report.cookies == ()  # the hidden guard removed _ga: nothing leaks, nothing to see
    assert report.leaks == ()


def test_page_errors_are_reported_and_the_crawl_goes_on() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise ValueError("broken view")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Set-Cookie", "tracker=1; Path=/")])
        return [b'<a href="/boom">x</a> <a href="/fine">y</a>']

    report = audit_app(app, crawl=5)
    boom = [p for p in report.pages if p.path == "/boom"]
    assert [p.error for p in boom] == ["ValueError: broken view"]
    assert paths(report, "no_consent") == ["/", "/boom", "/fine"]
    assert "/boom [no consent]: ValueError: broken view" in report.to_text()
    assert report.exit_code == 1


# -- the stack as deployed ----------------------------------------------------------------------


def test_a_middleware_outside_the_guard_leaks_and_is_named() -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from consentguard.asgi import ConsentMiddleware

    async def home(request: Any) -> HTMLResponse:
        return HTMLResponse("<p>home</p>")

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(ConsentMiddleware, guard=ConsentGuard(_site_registry(), "k"))
    app.add_middleware(Tracking)  # added last: outside the guard
    report = audit_app(app)
    assert report.outside_guard == ("Tracking",)
    assert runs(report, "_ga") == ("passed", "passed")  # the browser got it: no consent
    assert report.cookie("_ga").runs["no_consent"].outside == 1
    assert report.leaks == ("_ga",) and report.exit_code == 1
    [leak] = [f for f in report.cookie("_ga").findings if f.code == "pre-consent-leak"]
    assert "outside consentguard sets it (Tracking)" in leak.message
    assert "outermost" in leak.message
    text = report.to_text()
    assert "guard: consentguard (enforce), outside it: Tracking" in text
    assert "passed (outside the guard)" in text


def test_a_flask_wsgi_app_wrapped_after_the_extension_leaks_and_is_named() -> None:
    from flask import Flask

    from consentguard.flask import ConsentGuard as FlaskConsentGuard

    app = Flask("wrapped_after")
    app.add_url_rule("/", view_func=lambda: "<p>hi</p>")
    FlaskConsentGuard(app, guard=ConsentGuard(_site_registry(), "k"))
    app.wsgi_app = WsgiTracking(app.wsgi_app)  # type: ignore[method-assign]
    report = audit_app(app)
    assert report.outside_guard == ("WsgiTracking",)
    assert report.leaks == ("_ga",)
    assert "(WsgiTracking)" in report.cookie("_ga").findings[0].message


def test_a_report_only_guard_leaks_and_says_so() -> None:
    guard = ConsentGuard(_site_registry(), "k", mode="report-only")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Set-Cookie", "_ga=1; Secure; SameSite=Lax")])
        return [b"ok"]

    report = audit_app(guard.wsgi(app))
    assert report.guard == "report-only"
    assert report.leaks == ("_ga",)
    assert "report-only mode" in report.cookie("_ga").findings[0].message


def test_pages_that_do_not_answer_2xx_or_3xx_fail_naming_path_and_status() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        status = {"/": "200 OK", "/gone": "404 Not Found"}.get(path, "400 Bad Request")
        start_response(status, [("Content-Type", "text/html")])
        return [b'<a href="/gone">a</a> <a href="/form">b</a>']

    report = ConsentGuard(_site_registry(), "k")
    result = audit_app(report.wsgi(app), crawl=5)
    assert [(p.path, p.status) for p in result.failed_pages] == [
        ("/gone", 404), ("/form", 400), ("/gone", 404), ("/form", 400)]
    assert result.findings == () and result.exit_code == 1
    text = result.to_text()
    assert "x /gone [no consent]: answered 404" in text
    assert "x /form [all accepted]: answered 400" in text
    assert text.rstrip().endswith("Result: FAIL — 4 error(s), 0 warning(s), 0 cookie(s).")
    data = result.to_json()
    assert data["summary"]["failed_pages"] == 4 and data["exit_code"] == 1
    assert {"run": "no_consent", "path": "/gone", "status": 404, "error": None,
            "cookies": []} in data["failed_pages"]


_LOGIN_SITE = """
from consentguard import Category, ConsentGuard, Cookie, Registry

registry = Registry([Category("essential", required=True), Category("analytics")],
                    [Cookie("session", category="essential", duration="session"),
                     Cookie("cart", category="essential", duration="session")])


def site(environ, start_response):
    logged_in = ("session=abc" in environ.get("HTTP_COOKIE", "")
                 and environ.get("HTTP_AUTHORIZATION") == "Bearer t0ken")
    if not logged_in:
        start_response("401 Unauthorized", [("Content-Type", "text/plain")])
        return [b"log in first"]
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Set-Cookie", "cart=1; Secure; HttpOnly; SameSite=Lax")])
    return [b"your account"]


app = ConsentGuard(registry, "k").wsgi(site)
"""


def test_cookie_and_header_options_reach_pages_behind_a_login(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cg_audit_login_site.py").write_text(_LOGIN_SITE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert cli("cg_audit_login_site:app") == 1
        assert "x / [no consent]: answered 401" in capsys.readouterr().out
        code = cli("cg_audit_login_site:app", "--cookie", "session=abc",
                   "--header", "Authorization: Bearer t0ken", "--format", "json")
    finally:
        sys.modules.pop("cg_audit_login_site", None)
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [c["name"] for c in data["cookies"]] == ["cart"]
    assert data["failed_pages"] == []


def test_cookies_and_headers_reach_an_asgi_app() -> None:
    seen: list[tuple[Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        headers = dict(scope["headers"])
        seen.append((headers.get(b"cookie"), headers.get(b"x-team")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = ConsentGuard(_site_registry(), "k")
    report = audit_app(guard.asgi(app), cookies={"session": "abc"}, headers=[("X-Team", "a")])
    assert report.exit_code == 0
    assert seen[0] == (b"session=abc", b"a")
    assert seen[1][0] is not None and seen[1][0].startswith(b"session=abc; cg_consent=")


@pytest.mark.parametrize(("option", "value", "expected"), [
    pytest.param("--header", "Authorization Bearer x", "is not 'Name: value'", id="no-colon"),
    pytest.param("--header", "Cookie: a=1", "send cookies with --cookie", id="cookie-header"),
    pytest.param("--header", "Host: example.com", "set the host with --base-url",
                 id="host-header"),
    pytest.param("--header", "Bad Name: x", "is not a header to send", id="bad-name"),
    pytest.param("--cookie", "session", "is not NAME=VALUE", id="no-equals"),
    pytest.param("--cookie", "a=1; b=2", "a value without ';'", id="two-cookies"),
])
def test_bad_cookie_and_header_options_are_usage_errors(
        option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("x:app", option, value) == 2  # a usage error, before any import
    assert expected in capsys.readouterr().err


# -- JSON ------------------------------------------------------------------------------------


def test_json_report_is_stable_and_sorted(sites: dict[str, ModuleType],
                                          registry_file: Path) -> None:
    first = audit_app(sites["flask"].guarded_app, crawl=10,
                      name="cg_audit_flask_site:guarded_app").to_json()
    second = audit_app(sites["flask"].guarded_app, crawl=10,
                       name="cg_audit_flask_site:guarded_app").to_json()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["version"] == 2
    assert first["app"] == "cg_audit_flask_site:guarded_app"
    assert first["guard"] == {"mode": "enforce", "outside": []}
    names = [c["name"] for c in first["cookies"]]
    assert names == sorted(names) and "mystery" in names
    assert first["undeclared"] == ["mystery"]
    assert first["pre_consent_leaks"] == []
    assert first["removed_before_consent"] == ["_fbp", "_ga", "prefs"]
    assert first["failed_pages"] == []
    assert [d["name"] for d in first["declared_not_seen"]] == ["_hjid", "ad_*", "never_set", "sid"]
    ga = next(c for c in first["cookies"] if c["name"] == "_ga")
    assert ga["runs"]["no_consent"] == {
        "set": 1, "passed": 0, "removed": 1, "deleted": 0, "outside": 0, "action": "removed"}
    assert ga["attributes"]["lifetime"] == 2 * 365 * 86400
    assert ga["findings"] == ["lifetime-exceeds-declared"]
    assert [p["path"] for p in first["runs"]["all_accepted"]["pages"]] == sorted(
        ["/", "/about", "/old", "/shop", "/deep?x=1"])
    findings = [(f["cookie"], f["code"]) for f in first["findings"]]
    assert findings == sorted(findings)
    assert first["summary"]["errors"] == 1 and first["exit_code"] == 1


# -- the command --------------------------------------------------------------------------------


def test_cli_json_to_stdout(sites: dict[str, ModuleType], registry_file: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    code = cli("cg_audit_fastapi_site:app", "--registry", str(registry_file), "--crawl", "5",
               "--format", "json")
    out, err = capsys.readouterr()
    assert code == 1
    assert err == ""  # stderr is not a terminal and --progress was not given
    data = json.loads(out)
    assert data["app"] == "cg_audit_fastapi_site:app"
    assert [c["name"] for c in data["cookies"]] == ["_hjid", "ab_test", "ad_id", "sid"]


def test_cli_output_file_and_progress(sites: dict[str, ModuleType], registry_file: Path,
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "audit.json"
    code = cli("cg_audit_flask_site:app", "-r", str(registry_file), "--crawl", "1",
               "--format", "json", "-o", str(target), "--progress")
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["version"] == 2
    lines = err.splitlines()
    assert len(lines) == 2  # two pages; no guard, so no all-accepted run
    assert lines[0] == "audit [no consent] 1: 200 /  sets session_id, _ga"


def test_cli_clean_app_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cg_audit_clean_site.py").write_text(
        "def app(environ, start_response):\n"
        "    print('hello from the app')  # must not end up in the report on stdout\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain'),\n"
        "                              ('Set-Cookie', 'session=1; Secure; HttpOnly')])\n"
        "    return [b'ok']\n", encoding="utf-8")
    (tmp_path / "cookies.json").write_text(json.dumps({
        "categories": {"essential": {"required": True}},
        "cookies": [{"name": "session", "category": "essential", "duration": "session"}],
    }), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_app adds the current directory
    code = cli("cg_audit_clean_site:app", "--registry", "cookies.json")
    out, err = capsys.readouterr()
    assert code == 0
    assert "Result: OK — 0 error(s), 0 warning(s), 1 cookie(s)." in out
    assert "hello from the app" not in out and "hello from the app" in err
    monkeypatch.delitem(sys.modules, "cg_audit_clean_site")


@pytest.mark.parametrize(("source", "target", "expected"), [
    pytest.param(None, "cg_audit_no_such_module:app",
                 "no module named 'cg_audit_no_such_module'", id="no-module"),
    pytest.param("app = None\n", "cg_audit_broken_site:application",
                 "has no attribute 'application'", id="no-attribute"),
    pytest.param("raise RuntimeError('DATABASE_URL\\nis not set')\n", "cg_audit_broken_site:app",
                 "raised RuntimeError: DATABASE_URL is not set", id="import-raises"),
    pytest.param("import cg_audit_missing_dependency\n", "cg_audit_broken_site:app",
                 "raised ModuleNotFoundError: No module named 'cg_audit_missing_dependency'",
                 id="missing-dependency"),
    pytest.param("app = 'not an app'\n", "cg_audit_broken_site:app",
                 "str object is not a WSGI or ASGI application", id="not-callable"),
    pytest.param("def app(scope):\n    pass\n", "cg_audit_broken_site:app",
                 "neither a WSGI app", id="wrong-arity"),
    pytest.param(None, "cg_audit_broken_site", "is not module:attribute", id="no-colon"),
])
def test_cli_app_that_cannot_be_loaded_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    source: str | None, target: str, expected: str,
) -> None:
    if source is not None:
        (tmp_path / "cg_audit_broken_site.py").write_text(source, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "cg_audit_broken_site", raising=False)
    try:
        code = cli(target)
    finally:
        sys.modules.pop("cg_audit_broken_site", None)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("consentguard audit: ")
    assert expected in err


def test_cli_bad_registry_exits_2(sites: dict[str, ModuleType], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cookies.toml"
    bad.write_text("[categories.essential\n", encoding="utf-8")
    assert cli("cg_audit_flask_site:app", "--registry", str(bad)) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "cannot use the registry" in err and "not valid TOML" in err


def test_cli_rejects_a_negative_crawl(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("x:app", "--crawl", "-1") == 2
    assert "must be 0 or more" in capsys.readouterr().err


def test_main_cli_registers_audit(sites: dict[str, ModuleType], registry_file: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    cli_module = pytest.importorskip("consentguard.cli")
    code = cli_module.main(["audit", "cg_audit_flask_site:app", "--registry",
                            str(registry_file), "--format", "json"])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["undeclared"] == []  # only / is visited
    assert cli_module.main(["audit", "cg_audit_no_such_module:app"]) == 2


# -- the pieces -----------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    pytest.param("a=1", SetCookieAttributes(), id="bare"),
    pytest.param("a=1; Secure; HttpOnly; SameSite=lax; Path=/x; Domain=.example.com",
                 SetCookieAttributes(secure=True, httponly=True, samesite="Lax", path="/x",
                                     domain=".example.com"), id="all-flags"),
    pytest.param("a=1; SameSite=bogus", SetCookieAttributes(), id="unknown-samesite"),
    pytest.param("a=1; Max-Age=10; Max-Age=20", SetCookieAttributes(max_age=20),
                 id="last-max-age-wins"),
    pytest.param("a=1; Max-Age=1e3", SetCookieAttributes(), id="invalid-max-age"),
    pytest.param("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
                 SetCookieAttributes(expires=1445412480.0), id="expires"),
])
def test_set_cookie_attributes(header: str, expected: SetCookieAttributes) -> None:
    assert SetCookieAttributes.parse(header) == expected


def test_lifetime_prefers_max_age() -> None:
    both = SetCookieAttributes.parse("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=60")
    assert both.lifetime(now=0.0) == 60.0
    assert SetCookieAttributes.parse("a=1; Expires=Thu, 01 Jan 1970 00:10:00 GMT").lifetime(
        now=0.0) == 600.0
    assert SetCookieAttributes.parse("a=1").lifetime(now=0.0) is None


@pytest.mark.parametrize(("href", "expected"), [
    pytest.param("/about", "/about", id="absolute-path"),
    pytest.param("team", "/docs/team", id="relative"),
    pytest.param("../x?q=1#frag", "/x?q=1", id="dot-dot-query-fragment"),
    pytest.param("https://localhost/a", "/a", id="same-origin-url"),
    pytest.param("//localhost:443/b", "/b", id="default-port"),
    pytest.param("https://localhost:8443/c", None, id="other-port"),
    pytest.param("https://evil.example/", None, id="other-host"),
    pytest.param("mailto:someone@example.org", None, id="mailto"),
    pytest.param("/caf\u00e9", "/caf%C3%A9", id="non-ascii-quoted"),
])
def test_the_crawl_follows_same_site_links_only(href: str, expected: str | None) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        if environ["PATH_INFO"] != "/docs/index":
            return [b"no links here"]
        return [f'<a href="{html.escape(href)}">x</a>'.encode()]

    report = audit_app(app, paths=["/docs/index"], crawl=5)
    assert paths(report, "no_consent") == ["/docs/index", *([expected] if expected else [])]


def test_detect_interface() -> None:
    from flask import Flask

    class AsgiApp:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        return []

    assert detect_interface(Flask("x")) == "wsgi"
    assert detect_interface(wsgi) == "wsgi"
    assert detect_interface(AsgiApp()) == "asgi"
    with pytest.raises(AuditError):
        detect_interface(lambda: None)


def test_the_audit_takes_wsgi_and_asgi_apps_only() -> None:
    """Checked by ``mypy --strict``, which reads the tests and rejects an unneeded ignore:
    each line fails the type check while ``audit_app``'s ``app`` is ``Any``."""
    if TYPE_CHECKING:
        audit_app(42)  # type: ignore[arg-type]
        audit_app(lambda environ: [b""])  # type: ignore[arg-type]
