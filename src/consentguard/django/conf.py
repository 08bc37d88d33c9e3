"""``settings.CONSENTGUARD`` → one :class:`consentguard.ConsentGuard` for the project.

The guard is built on first use and rebuilt when a test changes the settings it is made
from (``override_settings``), so each test sees its own configuration.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.urls import NoReverseMatch, reverse

from ..guard import ConsentGuard
from ..registry import Registry

__all__ = ["SETTING", "get_guard", "guard_from_settings", "policy_url"]

SETTING = "CONSENTGUARD"
# Keys of settings.CONSENTGUARD that are not ConsentGuard options.
_OWN_KEYS = ("REGISTRY", "SECRET_KEY", "POLICY_URL")
_OPTIONS = tuple(name for name, parameter in inspect.signature(ConsentGuard).parameters.items()
                 if parameter.kind is inspect.Parameter.KEYWORD_ONLY)
_KNOWN = frozenset({*_OWN_KEYS, *(name.upper() for name in _OPTIONS)})
_WATCHED = frozenset({SETTING, "SECRET_KEY", "SECRET_KEY_FALLBACKS"})

_guard: ConsentGuard | None = None


def get_guard() -> ConsentGuard:
    """The project's guard, built from ``settings.CONSENTGUARD`` on first use.

    :raises ImproperlyConfigured: when the setting is missing or wrong, or the registry
        does not load (the message says how to fix it).
    """
    global _guard
    if _guard is None:
        _guard = guard_from_settings()
    return _guard


def _forget(*, setting: str, **kwargs: Any) -> None:
    global _guard
    if setting in _WATCHED:
        _guard = None


setting_changed.connect(_forget, dispatch_uid="consentguard.django.conf")


def _config() -> dict[str, Any]:
    config = getattr(settings, SETTING, None)
    if config is None:
        raise ImproperlyConfigured(
            "consentguard needs settings.CONSENTGUARD. Fix: add "
            "CONSENTGUARD = {\"REGISTRY\": BASE_DIR / \"cookies.toml\"} to your settings.")
    if not isinstance(config, dict):
        raise ImproperlyConfigured("settings.CONSENTGUARD must be a dict, such as "
                                   "{\"REGISTRY\": BASE_DIR / \"cookies.toml\"}.")
    return config


def guard_from_settings() -> ConsentGuard:
    """Build a guard from ``settings.CONSENTGUARD`` (a fresh one on every call).

    ``REGISTRY`` (a path or a :class:`~consentguard.Registry`) is required. ``SECRET_KEY``
    defaults to Django's ``SECRET_KEY`` followed by its ``SECRET_KEY_FALLBACKS`` (the
    consent cookie is signed with a salt of its own). Every other key is a keyword option
    of :class:`~consentguard.ConsentGuard` in upper case (``"UNKNOWN": "raise"``).

    :raises ImproperlyConfigured: for a missing or unknown key, or a registry that does
        not load.
    """
    config = _config()
    unknown = sorted(str(key) for key in config if key not in _KNOWN)
    if unknown:
        known = ", ".join(sorted(_KNOWN))
        raise ImproperlyConfigured(
            f"settings.CONSENTGUARD has unknown key(s) {', '.join(map(repr, unknown))}. "
            f"Known keys (upper case): {known}.")
    registry = registry_from_settings()
    secret: Any = config.get("SECRET_KEY")
    if not secret:
        # Rotating SECRET_KEY the Django way (SECRET_KEY_FALLBACKS) keeps consents valid.
        secret = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not secret or not secret[0]:
        raise ImproperlyConfigured("consentguard needs a secret key to sign the consent "
                                   "cookie. Fix: set SECRET_KEY (or CONSENTGUARD[\"SECRET_KEY\"]).")
    options = {key.lower(): value for key, value in config.items() if key not in _OWN_KEYS}
    try:
        return ConsentGuard(registry, secret, **options)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"settings.CONSENTGUARD: {exc}") from exc


def registry_from_settings() -> Registry:
    """The registry ``settings.CONSENTGUARD["REGISTRY"]`` names, loaded.

    :raises ImproperlyConfigured: when it is missing or does not load.
    """
    source = _config().get("REGISTRY")
    if source is None:
        raise ImproperlyConfigured(
            "settings.CONSENTGUARD has no \"REGISTRY\". Fix: point it at your cookies.toml, "
            "e.g. CONSENTGUARD = {\"REGISTRY\": BASE_DIR / \"cookies.toml\"} (a starter "
            "declaring Django's own cookies: `python manage.py consentguard starter`).")
    if isinstance(source, Registry):
        return source
    if not isinstance(source, (str, Path)):
        raise ImproperlyConfigured("settings.CONSENTGUARD[\"REGISTRY\"] must be a path or a "
                                   "consentguard.Registry.")
    try:
        return Registry.load(source)
    except (OSError, ValueError) as exc:  # RegistryError is a ValueError
        raise ImproperlyConfigured(f"the consentguard registry {str(source)!r} does not "
                                   f"load: {exc}") from exc


def policy_url() -> str | None:
    """``settings.CONSENTGUARD["POLICY_URL"]``: a URL name (reversed) or a URL, or None."""
    value = getattr(settings, SETTING, None) or {}
    url = value.get("POLICY_URL") if isinstance(value, dict) else None
    if not url:
        return None
    try:
        return reverse(url)
    except NoReverseMatch:
        return str(url)
