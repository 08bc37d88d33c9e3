"""The Flask extension, through a real Flask 3 app and its test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apps import deletions_of, expected, flask_app, stored_names
from flask import Flask, render_template_string, session
from flask.testing import FlaskClient
from support import HOST, ORIGIN, SECRET, FrozenClock, make_guard, make_registry, write_file
from werkzeug.middleware.proxy_fix import ProxyFix

from consentguard import Category, Consent, Cookie, Registry
from consentguard import ConsentGuard as CoreGuard
from consentguard.flask import ConsentGuard, current_consent, current_decision, get_guard


def get(client: FlaskClient, path: str = "/", **kwargs: Any) -> Any:
    return client.get(path, base_url=ORIGIN, **kwargs)


def consent_in_jar(client: FlaskClient, value: str) -> None:
    client.set_cookie("cg_consent", value, domain=HOST)


def test_without_consent_only_required_cookies_and_the_view_sees_none() -> None:
    client = flask_app(make_guard()).test_client()
    response = get(client)
    assert stored_names(response.headers.getlist("Set-Cookie")) == expected()
    assert response.json["consent"] is None
    assert response.json["analytics"] is False


def test_with_consent_its_cookies_pass_and_the_view_sees_it() -> None:
    guard = make_guard()
    client = flask_app(guard).test_client()
    value = guard.encode_consent(["analytics"])
    consent_in_jar(client, value)
    response = get(client)
    assert stored_names(response.headers.getlist("Set-Cookie")) == expected("analytics")
    assert response.json["consent"] == guard.decode_consent(value).id  # type: ignore[union-attr]
    assert response.json["analytics"] is True
    assert response.headers["Cache-Control"] == "private"


def test_forged_consent_falls_back() -> None:
    client = flask_app(make_guard()).test_client()
    consent_in_jar(client, CoreGuard(make_registry(), "other").encode_consent(["*"]))
    response = get(client)
    assert stored_names(response.headers.getlist("Set-Cookie")) == expected()
    assert response.json["consent"] is None


def test_request_cookies_hold_only_accepted_cookies_duplicates_kept() -> None:
    guard = make_guard()
    client = flask_app(guard).test_client(use_cookies=False)
    consent = guard.encode_consent(["functional"])
    sent = f"session=a; _ga=1; lang=fr; session=b; _fbp=2; cg_consent={consent}"
    response = get(client, headers={"Cookie": sent})
    assert response.json["cookies"] == [
        ["session", "a"], ["session", "b"], ["lang", "fr"], ["cg_consent", consent]]
    assert response.json["cookie_header"] == f"session=a; lang=fr; session=b; cg_consent={consent}"
    assert [d.get("domain") for d in deletions_of("_ga", response.headers.getlist(
        "Set-Cookie"))] == [None, "example.com", "www.example.com"]


def test_jinja_consent_allows() -> None:
    guard = make_guard()
    client = flask_app(guard).test_client()
    assert get(client, "/page").text == "no analytics"
    consent_in_jar(client, guard.encode_consent(["analytics"]))
    assert get(client, "/page").text == '<script src="/analytics.js"></script>'


def test_templates_render_outside_a_request() -> None:
    app = flask_app(make_guard())
    with app.app_context():
        assert render_template_string("hello {{ 1 + 1 }}") == "hello 2"


def test_current_consent_and_decision() -> None:
    guard = make_guard()
    app = flask_app(guard)
    seen: list[tuple[Consent | None, bool]] = []

    @app.get("/check")
    def check() -> str:
        seen.append((current_consent(), current_decision().allows("marketing")))
        return "ok"

    client = app.test_client()
    get(client, "/check")
    consent_in_jar(client, guard.encode_consent(["marketing"]))
    get(client, "/check")
    assert seen[0] == (None, False)
    assert isinstance(seen[1][0], Consent) and seen[1][1] is True


def test_current_decision_without_the_middleware_says_how_to_fix() -> None:
    app = Flask("bare")
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="ConsentGuard"):
        current_decision()
    with pytest.raises(RuntimeError, match=r"ConsentGuard\(app\)"):
        get_guard(app)


def test_init_app_factory_and_extension_state() -> None:
    guard = make_guard()
    extension = ConsentGuard(guard=guard)
    apps = [Flask("one"), Flask("two")]
    for app in apps:
        extension.init_app(app)
        assert app.extensions["consentguard"] is guard
        with app.app_context():
            assert get_guard() is guard
    assert not hasattr(extension, "app")


def _config_app(tmp_path: Path, **config: Any) -> Flask:
    app = Flask("configured")
    app.config.update(SECRET_KEY="flask-secret", CONSENTGUARD_REGISTRY=write_file(tmp_path))
    app.config.update(config)

    @app.get("/")
    def index() -> Any:
        session["user"] = 1  # Flask's own session cookie, declared as essential
        response = app.make_response("ok")
        response.headers.add("Set-Cookie", "_ga=1")
        response.headers.add("Set-Cookie", "mystery=1")
        return response

    ConsentGuard(app)
    return app


def test_config_keys_build_the_guard(tmp_path: Path) -> None:
    app = _config_app(tmp_path, CONSENTGUARD_UNKNOWN="allow", CONSENTGUARD_ENDPOINT="/privacy",
                      CONSENTGUARD_COOKIE_NAME="choice", CONSENTGUARD_MAX_AGE=3600)
    guard = get_guard(app)
    assert (guard.unknown, guard.endpoint, guard.cookie_name) == ("allow", "/privacy", "choice")
    assert guard.codec.max_age == 3600
    assert guard.registry.version == "2026-04-20"
    client = app.test_client()
    response = get(client)
    assert stored_names(response.headers.getlist("Set-Cookie")) == ["mystery", "session"]
    assert get(client, "/privacy").json["cookie_name"] == "choice"
    with pytest.raises(RuntimeError, match="CONSENTGUARD_MAX_AGE"):
        _config_app(tmp_path, CONSENTGUARD_MAX_AGE="6 months")


def test_secret_key_defaults_to_the_apps_with_a_salt_of_its_own(tmp_path: Path) -> None:
    app = _config_app(tmp_path)
    value = CoreGuard(get_guard(app).registry, "flask-secret").encode_consent(["analytics"])
    assert get_guard(app).decode_consent(value) is not None
    # Flask's session cookie is signed with the same key, but never passes as consent.
    client = app.test_client()
    flask_session = client.get("/").headers.getlist("Set-Cookie")[0].split(";")[0]
    assert flask_session.startswith("session=")
    assert get_guard(app).decode_consent(flask_session.partition("=")[2]) is None


def test_config_errors_say_how_to_fix() -> None:
    app = Flask("no-registry")
    with pytest.raises(RuntimeError, match="CONSENTGUARD_REGISTRY"):
        ConsentGuard(app)
    app = Flask("no-secret")
    app.config["CONSENTGUARD_REGISTRY"] = make_registry()
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ConsentGuard(app)
    app.config["SECRET_KEY"] = SECRET
    ConsentGuard(app)
    assert isinstance(get_guard(app), CoreGuard)


def test_endpoint_form_post_then_cookie_jar_carries_consent() -> None:
    guard = make_guard(clock=FrozenClock())
    client = flask_app(guard).test_client()
    response = client.post("/_consent", base_url=ORIGIN, data={"accept": ["analytics"],
                                                                "next": "/page"},
                           headers={"Origin": ORIGIN})
    assert response.status_code == 303
    assert response.headers["Location"] == "/page"
    assert get(client, "/page").text == '<script src="/analytics.js"></script>'
    assert stored_names(get(client).headers.getlist("Set-Cookie")) == expected("analytics")


def test_endpoint_head_has_the_get_headers_and_no_body() -> None:
    client = flask_app(make_guard()).test_client()
    get, head = client.get("/_consent", base_url=ORIGIN), client.head("/_consent", base_url=ORIGIN)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(len(get.data))


def test_secret_key_rotation_the_flask_way_keeps_consents(tmp_path: Path) -> None:
    app = _config_app(tmp_path)
    value = get_guard(app).encode_consent(["analytics"])
    rotated = _config_app(tmp_path, SECRET_KEY="new-secret",
                          SECRET_KEY_FALLBACKS=["flask-secret"])
    assert get_guard(rotated).decode_consent(value) is not None


def test_behind_a_proxy_apply_proxyfix_after_the_extension(tmp_path: Path) -> None:
    """The documented order: ConsentGuard(app) first, then ProxyFix, so the guard sees the
    public host (for the origin check and the purge domains)."""
    guard = make_guard()
    app = flask_app(guard)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_host=1, x_proto=1)  # type: ignore[method-assign]
    client = app.test_client(use_cookies=False)
    proxied = {"X-Forwarded-Host": HOST, "X-Forwarded-Proto": "https"}
    chosen = client.post("/_consent", base_url="http://app:8000", data={"accept": "analytics"},
                         headers={**proxied, "Origin": ORIGIN})
    assert chosen.status_code == 303
    page = client.get("/", base_url="http://app:8000", headers={**proxied, "Cookie": "_fbp=1"})
    assert [d.get("domain") for d in deletions_of("_fbp", page.headers.getlist(
        "Set-Cookie"))] == [None, "www.example.com", "example.com"]


def test_an_undeclared_session_cookie_is_called_out_at_start_up(
        caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry([Category("essential", required=True), Category("analytics")])
    app = Flask(__name__)
    with caplog.at_level("WARNING", logger="consentguard"):
        ConsentGuard(app, guard=CoreGuard(registry, secret_key=SECRET))
    assert "session cookie 'session' is not declared" in caplog.text
    caplog.clear()
    declared = Registry(registry.categories, [Cookie("session", category="essential")])
    with caplog.at_level("WARNING", logger="consentguard"):
        ConsentGuard(Flask(__name__), guard=CoreGuard(declared, secret_key=SECRET))
    assert "not declared" not in caplog.text
    assert "session cookie" not in caplog.text
    optional = Registry(registry.categories, [Cookie("session", category="analytics")])
    with caplog.at_level("WARNING", logger="consentguard"):
        ConsentGuard(Flask(__name__), guard=CoreGuard(optional, secret_key=SECRET))
    assert "declared in the optional category 'analytics'" in caplog.text


def test_a_relative_registry_path_is_read_from_the_app_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like templates: `flask run` from another directory still finds cookies.toml."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "cookies.toml").write_text(
        '[categories.essential]\nrequired = true\n[[cookies]]\nname = "session"\n'
        'category = "essential"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the app's folder
    app = Flask("site", root_path=str(site))
    app.config.update(SECRET_KEY="k", CONSENTGUARD_REGISTRY="cookies.toml")
    ConsentGuard(app)
    assert get_guard(app).registry.match("session") is not None
