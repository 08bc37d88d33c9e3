"""consentguard.django: system checks and ``manage.py consentguard``.

In-process through ``call_command`` with ``override_settings``, and once as a real
``python manage.py check`` in the test project (tests/djangoproject).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")

from django.conf import settings
from django.core.checks import CheckMessage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from djangoserver import DJANGO_PROJECT

from consentguard.django.checks import check_consentguard, starter_registry

pytestmark = pytest.mark.usefixtures("django_site")

OURS = "consentguard.django.ConsentMiddleware"


def ids(messages: list[CheckMessage]) -> list[str]:
    return [str(m.id) for m in messages]


def registry_without(tmp_path: Path, *names: str) -> Path:
    """The test project's registry less the cookies ``names``."""
    text = (DJANGO_PROJECT / "cookies.toml").read_text()
    blocks = text.split("[[cookies]]")
    kept = [b for b in blocks[1:] if not any(f'name = "{n}"' in b for n in names)]
    path = tmp_path / "cookies.toml"
    path.write_text("[[cookies]]".join([blocks[0], *kept]))
    return path


def with_registry(path: Path | str, **options: Any) -> dict[str, Any]:
    return {**settings.CONSENTGUARD, "REGISTRY": path, **options}


def test_a_clean_project_passes_with_no_message() -> None:
    assert check_consentguard() == []
    out = io.StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()


def test_a_startproject_site_with_the_starter_registry_passes(tmp_path: Path) -> None:
    starter = tmp_path / "cookies.toml"
    starter.write_text(starter_registry())
    with override_settings(CONSENTGUARD={"REGISTRY": starter}):
        assert check_consentguard() == []


@pytest.mark.parametrize("name, setting", [
    pytest.param("csrftoken", "CSRF_COOKIE_NAME", id="csrf"),
    pytest.param("sessionid", "SESSION_COOKIE_NAME", id="session"),
    pytest.param("messages", None, id="messages"),
])
def test_an_undeclared_django_cookie_is_an_error_with_the_toml_to_add(
        tmp_path: Path, name: str, setting: str | None) -> None:
    with override_settings(CONSENTGUARD=with_registry(registry_without(tmp_path, name))):
        [message] = check_consentguard()
    assert message.id == "consentguard.E003" and message.is_serious()
    assert repr(name) in message.msg and "blocks it" in message.msg
    assert f'[[cookies]]\nname = "{name}"\ncategory = "essential"' in str(message.hint)


def test_a_renamed_cookie_is_checked_under_its_name(tmp_path: Path) -> None:
    with override_settings(CSRF_COOKIE_NAME="__Host-csrf"):
        [message] = check_consentguard()
    assert "'__Host-csrf'" in message.msg and 'name = "__Host-csrf"' in str(message.hint)


def test_unknown_allow_makes_it_a_warning(tmp_path: Path) -> None:
    path = registry_without(tmp_path, "csrftoken")
    with override_settings(CONSENTGUARD=with_registry(path, UNKNOWN="allow")):
        assert ids(check_consentguard()) == ["consentguard.W002"]


def test_the_language_cookie_is_a_warning_and_only_with_i18n(tmp_path: Path) -> None:
    path = registry_without(tmp_path, "django_language")
    with override_settings(CONSENTGUARD=with_registry(path)):
        assert ids(check_consentguard()) == ["consentguard.W002"]
        with override_settings(USE_I18N=False):
            assert check_consentguard() == []


@pytest.mark.parametrize("overrides", [
    pytest.param({"CSRF_USE_SESSIONS": True}, id="csrf-in-session"),
    pytest.param({"MIDDLEWARE": None}, id="no-csrf-middleware"),
])
def test_a_cookie_django_does_not_set_need_not_be_declared(tmp_path: Path,
                                                          overrides: dict[str, Any]) -> None:
    if "MIDDLEWARE" in overrides:
        overrides = {"MIDDLEWARE": [m for m in settings.MIDDLEWARE if "Csrf" not in m]}
    with override_settings(CONSENTGUARD=with_registry(registry_without(tmp_path, "csrftoken")),
                           **overrides):
        assert check_consentguard() == []


def test_messages_in_the_session_need_no_cookie(tmp_path: Path) -> None:
    with override_settings(
            CONSENTGUARD=with_registry(registry_without(tmp_path, "messages")),
            MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage"):
        assert check_consentguard() == []


def test_session_cookie_in_an_optional_category(tmp_path: Path) -> None:
    path = tmp_path / "cookies.toml"
    text = (DJANGO_PROJECT / "cookies.toml").read_text()
    path.write_text(text.replace('name = "sessionid"\ncategory = "essential"',
                                 'name = "sessionid"\ncategory = "functional"'))
    with override_settings(CONSENTGUARD=with_registry(path)):
        [message] = check_consentguard()
    assert message.id == "consentguard.W003" and "'functional'" in message.msg


def test_middleware_not_first_or_missing() -> None:
    rest = [m for m in settings.MIDDLEWARE if m != OURS]
    with override_settings(MIDDLEWARE=[rest[0], OURS, *rest[1:]]):
        [message] = check_consentguard()
        assert message.id == "consentguard.W001" and rest[0] in message.msg
    with override_settings(MIDDLEWARE=rest):
        assert ids(check_consentguard()) == ["consentguard.E002"]


@pytest.mark.parametrize("value", [
    pytest.param({"REGISTRY": "nowhere.toml"}, id="no-file"),
    pytest.param(None, id="no-setting"),
])
def test_a_registry_that_does_not_load_is_an_error(value: dict[str, Any] | None) -> None:
    with override_settings(CONSENTGUARD=value):
        [message] = check_consentguard()
    assert message.id == "consentguard.E001"


def test_manage_py_check_flags_a_missing_csrftoken(tmp_path: Path) -> None:
    env = {**os.environ, "CGSITE_DB": str(tmp_path / "db.sqlite3"),
           "CGSITE_REGISTRY": str(registry_without(tmp_path, "csrftoken"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=DJANGO_PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "consentguard.E003" in done.stderr and "'csrftoken'" in done.stderr
    assert 'name = "csrftoken"' in done.stderr


# -- manage.py consentguard -------------------------------------------------------------------


def test_command_check_validates_the_configured_registry() -> None:
    out = io.StringIO()
    with _stdout(out):
        call_command("consentguard", "check")
    assert "cookies.toml: valid" in out.getvalue()


def test_command_policy_renders_the_configured_registry() -> None:
    out = io.StringIO()
    with _stdout(out):
        call_command("consentguard", "policy", "--format", "json")
    assert '"_ga"' in out.getvalue()


def test_command_audit_drives_the_project(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    with pytest.raises(CommandError) as caught:
        call_command("consentguard", "audit", "--format", "json", "-o", str(report))
    assert caught.value.returncode == 1  # an undeclared cookie
    text = report.read_text()
    for name in ("_ga", "_fbp", "theme", "tracker"):
        assert f'"{name}"' in text
    data = json.loads(text)
    # Audited as deployed: the guard (first in MIDDLEWARE) removes what needs consent.
    assert data["guard"]["mode"] == "enforce"
    assert data["undeclared"] == ["tracker"] and data["pre_consent_leaks"] == []
    assert data["removed_before_consent"] == ["_fbp", "_ga", "theme"]


def test_command_starter_writes_the_template(tmp_path: Path) -> None:
    target = tmp_path / "cookies.toml"
    call_command("consentguard", "starter", "-o", str(target), stdout=io.StringIO())
    assert target.read_text() == starter_registry()
    with pytest.raises(CommandError, match="exists"):
        call_command("consentguard", "starter", "-o", str(target))


def _stdout(out: io.StringIO) -> Any:
    import contextlib

    return contextlib.redirect_stdout(out)


# -- the Django tutorial, followed on a fresh startproject site ------------------------------


def readme_settings() -> str:
    """The first Python block of the Django tutorial (docs/tutorials/django.md)."""
    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "tutorials" / "django.md").read_text(encoding="utf-8")
    return page.split("```python\n", 1)[1].split("```", 1)[0]


def test_a_startproject_site_following_the_readme(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    run("-m", "django", "startproject", "mysite", ".")
    with (tmp_path / "mysite" / "settings.py").open("a") as settings_file:
        settings_file.write("\n" + readme_settings())
    run("manage.py", "consentguard", "starter", "-o", "cookies.toml")
    assert "no issues" in run("manage.py", "check")
    run("manage.py", "migrate", "-v", "0")
    shown = run("manage.py", "shell", "-c", (
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='localhost')\n"
        "print(c.get('/_consent').json()['categories'][0]['name'])\n"
        "r = c.get('/admin/login/')\n"
        "print(r.status_code, sorted(r.cookies))\n"))
    assert "\nessential\n200 ['csrftoken']\n" in f"\n{shown}"
