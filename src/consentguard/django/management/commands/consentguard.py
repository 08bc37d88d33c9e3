"""``python manage.py consentguard check|policy|audit|starter``.

Runs the ``consentguard`` command against the project: ``check`` and ``policy`` read the
configured registry, ``audit`` drives the project's own WSGI application (the guard's
registry, ``WSGI_APPLICATION``); ``starter`` writes the Django starter ``cookies.toml``.
Further arguments go to the command as they are (``--format json``, ``--crawl 20``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ....cli import main
from ...checks import starter_registry
from ...conf import registry_from_settings


class Command(BaseCommand):
    help = ("Run the consentguard command against this project: check (the registry), "
            "policy (render the cookie policy), audit (drive the project's app), starter "
            "(write a cookies.toml declaring Django's own cookies).")
    # The registry may not load yet (the starter writes it), and `check` reports its own
    # problems: Django's system checks would stop the command before it could say more.
    requires_system_checks: list[str] | Literal["__all__"] = []  # noqa: RUF012 (Django's own)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subcommand", choices=("check", "policy", "audit", "starter"))
        parser.add_argument("arguments", nargs=argparse.REMAINDER,
                            help="passed on to `consentguard SUBCOMMAND`")

    def handle(self, *args: Any, subcommand: str, arguments: list[str], **options: Any) -> None:
        if subcommand == "starter":
            self._starter(arguments)
            return
        if subcommand == "audit":
            argv = ["audit", *_application(), "--registry", self._registry_file(), *arguments]
        else:
            argv = [subcommand, self._registry_file(), *arguments]
        status = main(argv)
        if status:  # the CLI's own status: 1 problems found, 2 usage error
            raise CommandError(f"consentguard {subcommand} exited with status {status}",
                               returncode=status)

    def _registry_file(self) -> str:
        try:
            registry = registry_from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if registry.source is None:
            raise CommandError("CONSENTGUARD[\"REGISTRY\"] is a Registry built in code: these "
                               "commands read a registry file. Fix: point REGISTRY at a file.")
        return registry.source

    def _starter(self, arguments: list[str]) -> None:
        parser = argparse.ArgumentParser(prog="manage.py consentguard starter")
        parser.add_argument("-o", "--output", metavar="FILE",
                            help="write to FILE (never over an existing file) instead of "
                            "standard output")
        output = parser.parse_args(arguments).output
        text = starter_registry()
        if output is None:
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        if path.exists():
            raise CommandError(f"{path} exists; not overwriting it.")
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path}: declare your other cookies in it, then set "
                          f"CONSENTGUARD = {{\"REGISTRY\": BASE_DIR / \"{path.name}\"}}.")


def _application() -> list[str]:
    """The audit's arguments naming the project's WSGI application (what runserver serves)."""
    dotted = getattr(settings, "WSGI_APPLICATION", None)
    if not dotted:
        return ["django.core.wsgi:get_wsgi_application", "--factory"]
    module, _, attribute = str(dotted).rpartition(".")
    return [f"{module}:{attribute}"]
