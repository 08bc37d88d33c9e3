"""Shared fixtures: a small registry, a frozen clock and a guard with a fixed secret.

Keep this file to what several test modules need; module-specific helpers live in the
modules themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from djangoserver import DJANGO_PROJECT
from hypothesis import settings

# The consent-log stores and the throwaway PostgreSQL cluster, for every test module.
from logstores import backend, postgres_cluster, postgres_url, sqlalchemy_backend  # noqa: F401
from support import SECRET, FrozenClock, make_registry

from consentguard import ConsentGuard, Registry

if TYPE_CHECKING:
    from apps import Driver

# No per-example deadline: CI's two cores may be busy (a browser, PostgreSQL, servers), and
# a slow example is not a wrong one. Loaded here, before the test modules' @settings.
settings.register_profile("consentguard", deadline=None)
settings.load_profile("consentguard")

@pytest.fixture
def registry() -> Registry:
    """The test registry (:func:`support.make_registry`)."""
    return make_registry()


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at :data:`NOW`; ``clock.advance(seconds)`` moves it."""
    return FrozenClock()


@pytest.fixture
def guard(registry: Registry, clock: FrozenClock) -> ConsentGuard:
    """A guard over :func:`registry` with the fixed :data:`SECRET` and the frozen clock."""
    return ConsentGuard(registry, secret_key=SECRET, clock=clock)


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The consent values every codec verifies during the test, in order: a value the
    codec remembers is not verified again, so this shows what its memo kept."""
    from consentguard.consent import ConsentCodec

    values: list[str] = []
    verify = ConsentCodec.verify

    def counting(codec: ConsentCodec, value: str) -> object:
        values.append(value)
        return verify(codec, value)

    monkeypatch.setattr(ConsentCodec, "verify", counting)
    return values


@pytest.fixture(params=["wsgi", "asgi"])
def send(request: pytest.FixtureRequest) -> Driver:
    """Each adapter in turn: ``send(guard, method="GET", path="/", *, headers=None, body=b"",
    content_type=None, host=HOST, app_headers=APP_HEADERS)`` runs one request through the
    guard's WSGI (werkzeug's client) or ASGI (httpx's transport) middleware over an app
    answering ``app_headers`` and echoing, as JSON, the Cookie header and consent it saw;
    it returns an :class:`apps.Reply`. A scenario written once runs on both adapters.
    """
    import apps  # here, not at the top: the web frameworks load only for the tests using it

    return apps.DRIVERS[request.param]


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
