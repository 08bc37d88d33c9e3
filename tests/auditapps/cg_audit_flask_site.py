"""A Flask site with cookie problems, for the audit tests (imported as module:attribute).

- ``/``: an HttpOnly session cookie (essential) and ``_ga`` (analytics, declared "1 day",
  set for 2 years); links to pages on and off the site.
- ``/about``: ``_fbp`` (marketing) without SameSite, only when the session cookie comes
  back (so it needs the crawler's cookie jar); links one level deeper.
- ``/old`` redirects to ``/shop``: an undeclared ``mystery`` cookie, and the deletion of
  an undeclared legacy cookie.
- ``/deep``: ``prefs`` (functional), reachable only from ``/about``.

``app`` runs no consentguard; ``guarded_app`` is the same site with the Flask extension and
``cookies.toml`` beside this file.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, make_response, redirect, request
from werkzeug.wrappers import Response

from consentguard.flask import ConsentGuard

TWO_YEARS = 2 * 365 * 86400


def create_app(*, guarded: bool = False) -> Flask:
    app = Flask(__name__)
    for rule, view in (("/", index), ("/about", about), ("/old", old), ("/shop", shop),
                       ("/deep", deep)):
        app.add_url_rule(rule, view_func=view)
    if guarded:
        app.config.update(SECRET_KEY="audit-site-secret",
                          CONSENTGUARD_REGISTRY=Path(__file__).with_name("cookies.toml"))
        ConsentGuard(app)
    return app


def index() -> Response:
    response = make_response(
        "<!doctype html><title>Home</title>"
        '<a href="/about">About</a> <a href="about#team">Team</a> <a href="/old">Shop</a>'
        ' <a href="https://elsewhere.example/">Partner</a> <a href="mailto:x@example.org">Mail</a>'
        ' <a href="/_consent">Cookie settings</a> <a href="javascript:void(0)">Menu</a>'
    )
    response.set_cookie("session_id", "s3cr3t", httponly=True, secure=True, samesite="Lax")
    response.set_cookie("_ga", "GA1.1.42", max_age=TWO_YEARS, secure=True, samesite="Lax")
    return response


def about() -> Response:
    response = make_response('<p>About us</p><a href="/">Home</a> <a href="/deep?x=1">Deep</a>')
    if "session_id" in request.cookies:
        response.set_cookie("_fbp", "fb.1.42", max_age=90 * 86400, secure=True)
    return response


def old() -> Response:
    return redirect("/shop")


def shop() -> Response:
    response = make_response("<p>Shop</p>")
    response.set_cookie("mystery", "1")
    response.delete_cookie("legacy_tracker")
    return response


def deep() -> Response:
    response = make_response("<p>Deep</p>")
    response.set_cookie("prefs", "dark", max_age=365 * 86400, secure=True, samesite="Lax")
    return response


app = create_app()
guarded_app = create_app(guarded=True)
