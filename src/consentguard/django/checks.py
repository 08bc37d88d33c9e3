"""System checks (``python manage.py check``), ids ``consentguard.*``.

- ``E001`` the settings do not make a guard (no ``CONSENTGUARD``, the registry does not load).
- ``E002`` ``ConsentMiddleware`` is not in ``MIDDLEWARE``.
- ``W001`` it is not first: what the middleware before it sets or reads escapes the guard.
- ``E003`` a cookie Django sets for the site (session, CSRF, messages) is not declared,
  so the guard blocks it (``UNKNOWN`` is not ``"allow"``).
- ``W002`` a cookie Django may set is not declared (the language cookie, or any of them
  when ``UNKNOWN`` is ``"allow"``).
- ``W003`` the session or CSRF cookie is declared in an optional category: visitors who
  refuse it cannot sign in or post a form.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..registry import Registry
from .conf import get_guard
from .middleware import ConsentMiddleware

__all__ = ["check_consentguard", "register", "starter_registry"]

ID = "consentguard"


def register() -> None:
    """Register :func:`check_consentguard` with Django's check framework."""
    checks.register(check_consentguard, checks.Tags.security, "consentguard")


def starter_registry() -> str:
    """The text of the Django starter ``cookies.toml`` shipped with the package."""
    return resources.files(__package__).joinpath("cookies.toml").read_text("utf-8")


def check_consentguard(app_configs: Sequence[Any] | None = None,
                       **kwargs: Any) -> list[checks.CheckMessage]:
    """Check the consentguard set-up of the current settings."""
    middleware = [_resolve(path) for path in settings.MIDDLEWARE]
    found: list[checks.CheckMessage] = _middleware_order(middleware)
    try:
        guard = get_guard()
    except ImproperlyConfigured as exc:
        return [*found, checks.Error(str(exc), id=f"{ID}.E001")]
    registry = guard.registry
    required = sorted(registry.required)
    category = required[0] if required else "essential"
    starter = Registry.loads(starter_registry(), format="toml")
    for kind, name in _django_cookies(middleware):
        entry = registry.match(name)
        example = starter.match(kind)
        if entry is None:
            blocked = guard.unknown != "allow" and kind != "django_language"
            toml = (f'[[cookies]]\nname = "{name}"\ncategory = "{category}"\n'
                    f'purpose = "{example.purpose if example else ""}"\n'
                    f'duration = "{example.duration if example else ""}"')
            text = (f"Django sets the cookie {name!r}, which the consentguard registry "
                    f"{registry.source or ''} does not declare"
                    + (", so the guard blocks it" if blocked else ""))
            hint = f"Declare it in your registry:\n{toml}"
            found.append(checks.Error(text, hint=hint, id=f"{ID}.E003") if blocked
                         else checks.Warning(text, hint=hint, id=f"{ID}.W002"))
        elif kind in ("sessionid", "csrftoken") and entry.category not in registry.required:
            found.append(checks.Warning(
                f"Django's cookie {name!r} is declared in the optional category "
                f"{entry.category!r}: visitors who refuse it cannot "
                + ("stay signed in." if kind == "sessionid" else "submit forms."),
                hint=f'Declare it in a required category: category = "{category}".',
                id=f"{ID}.W003"))
    return found


def _resolve(path: str) -> Any:
    try:
        return import_string(path)
    except ImportError:
        return None


def _middleware_order(middleware: list[Any]) -> list[checks.CheckMessage]:
    ours = [i for i, cls in enumerate(middleware)
            if isinstance(cls, type) and issubclass(cls, ConsentMiddleware)]
    if not ours:
        return [checks.Error(
            "consentguard.django.ConsentMiddleware is not in MIDDLEWARE: no cookie is "
            "enforced.",
            hint='Put "consentguard.django.ConsentMiddleware" first in MIDDLEWARE.',
            id=f"{ID}.E002")]
    if ours[0] != 0:
        before = ", ".join(settings.MIDDLEWARE[: ours[0]])
        return [checks.Warning(
            f"consentguard.django.ConsentMiddleware comes after {before}: cookies they set "
            "or read escape the guard.",
            hint='Put "consentguard.django.ConsentMiddleware" first in MIDDLEWARE.',
            id=f"{ID}.W001")]
    return []


def _uses(middleware: list[Any], path: str) -> bool:
    try:
        wanted = import_string(path)
    except ImportError:  # pragma: no cover - Django ships them all
        return False
    return any(isinstance(cls, type) and issubclass(cls, wanted) for cls in middleware)


def _django_cookies(middleware: list[Any]) -> list[tuple[str, str]]:
    """(the starter's name for the kind, the name this project uses) of each cookie
    Django's enabled parts set."""
    found = []
    if _uses(middleware, "django.contrib.sessions.middleware.SessionMiddleware"):
        found.append(("sessionid", settings.SESSION_COOKIE_NAME))
    if (_uses(middleware, "django.middleware.csrf.CsrfViewMiddleware")
            and not settings.CSRF_USE_SESSIONS):
        found.append(("csrftoken", settings.CSRF_COOKIE_NAME))
    if (_uses(middleware, "django.contrib.messages.middleware.MessageMiddleware")
            and (name := _messages_cookie()) is not None):
        found.append(("messages", name))
    if settings.USE_I18N:
        found.append(("django_language", settings.LANGUAGE_COOKIE_NAME))
    return found


def _messages_cookie() -> str | None:
    """The cookie name of the message storage, when it stores messages in a cookie."""
    from django.contrib.messages.storage.cookie import CookieStorage

    storage = _resolve(settings.MESSAGE_STORAGE)
    classes = [storage, *getattr(storage, "storage_classes", ())]
    for cls in classes:
        if isinstance(cls, type) and issubclass(cls, CookieStorage):
            return str(cls.cookie_name)
    return None
