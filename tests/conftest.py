"""Shared fixtures: a small registry, a frozen clock and a guard with a fixed secret.

Keep this file to what several test modules need; module-specific helpers live in the
modules themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from djangoserver import DJANGO_PROJECT as DJANGO_PROJECT
from hypothesis import settings

# The consent-log stores and the throwaway PostgreSQL cluster, for every test module.
from logstores import backend, postgres_cluster, postgres_url, sqlalchemy_backend  # noqa: F401

from consentguard import Category, ConsentGuard, Cookie, Registry

# No per-example deadline: CI's two cores may be busy (a browser, PostgreSQL, servers), and
# a slow example is not a wrong one. Loaded here, before the test modules' @settings.
settings.register_profile("consentguard", deadline=None)
settings.load_profile("consentguard")

SECRET = "test-secret-key-not-for-production"
# 2027-01-15T08:00:00Z: a fixed "now", far from any epoch or DST edge.
NOW = 1_800_000_000.0


class FrozenClock:
    """A clock that only moves when told to; pass it as ``clock=`` to the guard."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_registry(*, version: str | None = None, extra: tuple[Cookie, ...] = ()) -> Registry:
    """The four usual categories with a few cookies each, plus ``extra`` entries."""
    return Registry(
        categories=[
            Category("essential", required=True, description="Needed for the site to work"),
            Category("functional", description="Remember your preferences"),
            Category("analytics", description="Help us understand usage"),
            Category("marketing", description="Advertising and cross-site tracking"),
        ],
        cookies=[
            Cookie("session", category="essential", purpose="Keeps you logged in",
                   duration="session"),
            Cookie("csrftoken", category="essential", purpose="Blocks forged forms",
                   duration="1 year"),
            Cookie("lang", category="functional", purpose="Your language", duration="1 year"),
            Cookie("theme", category="functional", storage="localStorage", purpose="Theme",
                   duration="persistent"),
            Cookie("_ga", category="analytics", purpose="Distinguishes visitors",
                   duration="2 years", provider="Google Analytics", domain=".example.com"),
            Cookie("_ga_*", category="analytics", purpose="Keeps session state",
                   duration="2 years", provider="Google Analytics", domain=".example.com"),
            Cookie("_fbp", category="marketing", purpose="Ad delivery", duration="3 months",
                   provider="Meta"),
            Cookie("ads_*", category="marketing", purpose="Ad targeting", duration="30 days",
                   path="/shop"),
            *extra,
        ],
        version=version,
    )


@pytest.fixture
def registry() -> Registry:
    """essential (required: session, csrftoken), functional (lang; localStorage theme),
    analytics (_ga, _ga_* on .example.com), marketing (_fbp, ads_* on /shop)."""
    return make_registry()


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at :data:`NOW`; ``clock.advance(seconds)`` moves it."""
    return FrozenClock()


@pytest.fixture
def guard(registry: Registry, clock: FrozenClock) -> ConsentGuard:
    """A guard over :func:`registry` with the fixed :data:`SECRET` and the frozen clock."""
    return ConsentGuard(registry, secret_key=SECRET, clock=clock)




@pytest.fixture(scope="session")
def django_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Django set up once for the process with the test project's settings, its SQLite
    database migrated in a temporary folder (yielded). Tests change settings only with
    ``override_settings``, so nothing leaks between them; other modules never see Django.
    """
    pytest.importorskip("django")
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    if str(DJANGO_PROJECT) not in sys.path:
        sys.path.insert(0, str(DJANGO_PROJECT))
    database = tmp_path_factory.mktemp("django") / "db.sqlite3"
    if not settings.configured:
        from cgsite import settings as site

        values = {name: getattr(site, name) for name in dir(site) if name.isupper()}
        values["DATABASES"] = {"default": {**site.DATABASES["default"], "NAME": database}}
        settings.configure(**values)
        django.setup()
        setup_test_environment()
        call_command("migrate", verbosity=0)
    yield Path(settings.DATABASES["default"]["NAME"])
