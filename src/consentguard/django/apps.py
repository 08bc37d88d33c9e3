"""The Django app config: registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class ConsentGuardConfig(AppConfig):
    name = "consentguard.django"
    label = "consentguard"
    verbose_name = "consentguard"

    def ready(self) -> None:
        from . import checks

        checks.register()
