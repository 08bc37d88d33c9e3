"""The one set of test fixtures: a secret, a frozen clock, a registry and a guard.

A plain module (no pytest, no web framework, nothing outside ``tests/`` and the package),
so test modules, ``conftest.py``, ``apps.py`` and the scripts tests run in a subprocess can
all import it: ``from support import SECRET, FrozenClock, make_registry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consentguard import Category, ConsentGuard, Cookie, Registry

SECRET = "test-secret-key-not-for-production"
# 2027-01-15T08:00:00Z: a fixed "now", far from any epoch or DST edge.
NOW = 1_800_000_000.0
HOST = "www.example.com"
ORIGIN = f"https://{HOST}"


class FrozenClock:
    """A clock that only moves when told to; pass it as ``clock=`` to the guard."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CATEGORIES = (
    Category("essential", required=True, description="Needed for the site to work"),
    Category("functional", description="Remember your preferences"),
    Category("analytics", description="Help us understand usage"),
    Category("marketing", description="Advertising and cross-site tracking"),
)

COOKIES = (
    Cookie("session", category="essential", purpose="Keeps you logged in", duration="session"),
    Cookie("csrftoken", category="essential", purpose="Blocks forged forms", duration="1 year"),
    Cookie("lang", category="functional", purpose="Your language", duration="1 year"),
    Cookie("theme", category="functional", storage="localStorage", purpose="Theme",
           duration="persistent"),
    Cookie("_ga", category="analytics", purpose="Distinguishes visitors", duration="2 years",
           provider="Google Analytics", domain=".example.com"),
    Cookie("_ga_*", category="analytics", purpose="Keeps session state", duration="2 years",
           provider="Google Analytics", domain=".example.com"),
    Cookie("stats", category="analytics", purpose="Page statistics", duration="30 days",
           path="/blog"),
    Cookie("_fbp", category="marketing", purpose="Ad delivery", duration="3 months",
           provider="Meta"),
    Cookie("ads_*", category="marketing", purpose="Ad targeting", duration="30 days",
           path="/shop"),
)

# An extra analytics cookie: adding it changes the analytics revision (re-consent).
EXTRA_ANALYTICS = Cookie("_hjid", category="analytics", purpose="Hotjar visitor id",
                         duration="1 year", provider="Hotjar")


def make_registry(*, version: str | None = None, extra: Sequence[Cookie] = ()) -> Registry:
    """The test registry, plus ``extra`` cookies: essential (required: session, csrftoken),
    functional (lang; localStorage theme), analytics (_ga, _ga_* on .example.com, stats on
    /blog), marketing (_fbp, ads_* on /shop)."""
    return Registry(CATEGORIES, (*COOKIES, *extra), version=version)


def make_guard(registry: Registry | None = None, **options: Any) -> ConsentGuard:
    """A guard over the test registry with :data:`SECRET` and a :class:`FrozenClock`
    (unless given); ``options`` as ConsentGuard's."""
    options.setdefault("clock", FrozenClock())
    return ConsentGuard(registry or make_registry(), SECRET, **options)


# The smallest registry file worth loading: one required and one optional cookie. The CLI's
# tests edit it and name its entries in the messages they expect; tests whose subject is a
# text of their own (an error naming a line, a TOML detail, the docs' registry) keep theirs.
REGISTRY_TOML = """\
version = "2026-04-20"

[categories.essential]
required = true
description = "Needed for the site to work"

[categories.analytics]
description = "Help us understand usage"

[[cookies]]
name = "session"
category = "essential"
purpose = "Keeps you logged in"
duration = "session"

[[cookies]]
name = "_ga"
category = "analytics"
purpose = "Distinguishes visitors"
duration = "1 year"
provider = "Google Analytics"
"""


def write_file(directory: Path, text: str = REGISTRY_TOML, name: str = "cookies.toml") -> str:
    """Write ``text`` to ``directory / name`` (UTF-8); its path."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)
