"""Flask integration: ``consentguard.flask.ConsentGuard(app)``.

Wraps ``app.wsgi_app`` with the WSGI middleware, keeps the guard in
``app.extensions["consentguard"]``, and makes the visitor's choice available to views
(:func:`current_consent`, :func:`current_decision`) and templates (``consent``)::

    from consentguard.flask import ConsentGuard

    app.config["CONSENTGUARD_REGISTRY"] = "cookies.toml"
    ConsentGuard(app)

    {% if consent.allows("analytics") %}<script src="/analytics.js"></script>{% endif %}
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request

from . import guard as _guard
from ._placement import layer_name, warn_outside, wsgi_layers_outside
from ._session_check import warn_about_session_cookie
from .consent import Consent
from .guard import Decision
from .registry import Registry
from .wsgi import ENVIRON_CONSENT, ENVIRON_DECISION

__all__ = ["ConsentGuard", "current_consent", "current_decision", "get_guard"]

EXTENSION_KEY = "consentguard"

# CONSENTGUARD_<NAME> config key → ConsentGuard keyword argument.
_OPTIONS = (
    "unknown", "mode", "endpoint", "cookie_name", "max_age", "refusal_max_age",
    "on_violation", "on_consent", "gpc_categories", "gpc_overrides_consent", "honor_dnt",
    "gpc_json", "cache_control", "cookie_secure", "cookie_samesite", "cookie_domain",
    "cookie_path", "trusted_origins",
)


class ConsentGuard:
    """The Flask extension.

    :param app: the Flask app, or ``None`` to call :meth:`init_app` later (app factories).
    :param guard: a ready :class:`consentguard.ConsentGuard`. Without one, it is built
        from the app's config: ``CONSENTGUARD_REGISTRY`` (a path, relative to the app's
        ``root_path`` like its templates, or a :class:`~consentguard.Registry`; required),
        ``CONSENTGUARD_SECRET_KEY`` (defaults to the app's ``SECRET_KEY``; the consent
        cookie is signed with a salt of its own, so the key is never used for the same thing
        twice) and ``CONSENTGUARD_<OPTION>`` for every keyword option of
        :class:`consentguard.ConsentGuard` (for example ``CONSENTGUARD_UNKNOWN = "raise"``,
        ``CONSENTGUARD_MODE = "report-only"``).
    """

    def __init__(self, app: Flask | None = None, guard: _guard.ConsentGuard | None = None) -> None:
        self.guard = guard
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install the guard on ``app``."""
        guard = self.guard or guard_from_config(app.config, root_path=app.root_path)
        app.extensions[EXTENSION_KEY] = guard
        session_cookie = app.config.get("SESSION_COOKIE_NAME") or "session"
        warn_about_session_cookie(guard, session_cookie, "Flask")
        wrapper = guard.wsgi(app.wsgi_app)
        app.wsgi_app = wrapper  # type: ignore[method-assign]
        app.before_request(_placement_check(app, wrapper))
        app.context_processor(_template_context)


def _placement_check(app: Flask, wrapper: object) -> Callable[[], None]:
    """A before_request hook that, on the first request, warns when ``app.wsgi_app`` was
    wrapped again after the extension: that middleware runs outside the guard."""
    unchecked = True

    def check() -> None:
        nonlocal unchecked
        if not unchecked:
            return
        unchecked = False
        top = app.wsgi_app
        if top is wrapper:
            return
        outside = wsgi_layers_outside(top, wrapper)
        warn_outside([layer_name(top)] if outside is None else outside,
                     where=f"the Flask app {app.name!r}", fix=(
                         "call ConsentGuard(app) after every app.wsgi_app = "
                         "Middleware(app.wsgi_app) (werkzeug's ProxyFix is the exception: "
                         "it belongs outside, so the guard sees the public host)."))

    return check


def guard_from_config(config: dict[str, Any], *, root_path: str | os.PathLike[str] | None = None
                      ) -> _guard.ConsentGuard:
    """Build a :class:`consentguard.ConsentGuard` from ``CONSENTGUARD_*`` config keys.

    :param root_path: the directory a relative ``CONSENTGUARD_REGISTRY`` path is read from
        (the extension passes ``app.root_path``, as Flask does for templates); ``None``:
        the current directory.
    """
    registry = config.get("CONSENTGUARD_REGISTRY")
    if registry is None:
        raise RuntimeError(
            "consentguard needs a registry. Fix: set app.config['CONSENTGUARD_REGISTRY'] to "
            "the path of your cookies.toml (or a Registry), or pass guard=ConsentGuard(...).")
    if not isinstance(registry, Registry):
        # Relative to the app, like its templates: `flask run` may start anywhere.
        registry = Registry.load(Path(root_path or "", registry))
    secret: Any = config.get("CONSENTGUARD_SECRET_KEY")
    if not secret and config.get("SECRET_KEY"):
        # Rotating SECRET_KEY the Flask way (SECRET_KEY_FALLBACKS) keeps consents valid.
        secret = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]
    if not secret:
        raise RuntimeError(
            "consentguard needs a secret key to sign the consent cookie. Fix: set "
            "app.config['SECRET_KEY'] (or CONSENTGUARD_SECRET_KEY).")
    options = {name: config[f"CONSENTGUARD_{name.upper()}"] for name in _OPTIONS
               if f"CONSENTGUARD_{name.upper()}" in config}
    for name in ("max_age", "refusal_max_age"):
        if isinstance(options.get(name), (int, float, timedelta)):
            continue
        if name in options:
            raise RuntimeError(f"CONSENTGUARD_{name.upper()} must be seconds or a timedelta")
    return _guard.ConsentGuard(registry, secret, **options)


def get_guard(app: Flask | None = None) -> _guard.ConsentGuard:
    """The guard installed on ``app`` (default: the current app)."""
    app = app or current_app
    try:
        guard: _guard.ConsentGuard = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("consentguard is not installed on this app. "
                           "Fix: call consentguard.flask.ConsentGuard(app).") from None
    return guard


def current_consent() -> Consent | None:
    """The visitor's :class:`~consentguard.Consent`, or ``None`` before any choice."""
    consent: Consent | None = request.environ.get(ENVIRON_CONSENT)
    return consent


def current_decision() -> Decision:
    """This request's :class:`~consentguard.Decision` (``.allows(category)``, GPC included)."""
    decision: Decision | None = request.environ.get(ENVIRON_DECISION)
    if decision is None:
        raise RuntimeError("consentguard did not see this request. "
                           "Fix: call consentguard.flask.ConsentGuard(app).")
    return decision


def _template_context() -> dict[str, Any]:
    # ``consent`` in templates is the decision: it has allows() even before any choice.
    if not has_request_context():  # render_template in a CLI command or a test
        return {}
    return {"consent": request.environ.get(ENVIRON_DECISION)}
