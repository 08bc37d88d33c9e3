"""Django integration: ``consentguard.django``.

In ``settings.py``::

    INSTALLED_APPS = [..., "consentguard.django"]
    MIDDLEWARE = ["consentguard.django.ConsentMiddleware", ...]   # first: outermost
    CONSENTGUARD = {"REGISTRY": BASE_DIR / "cookies.toml"}
    TEMPLATES[0]["OPTIONS"]["context_processors"].append(
        "consentguard.django.context_processor")

Views read ``request.consent`` and ``request.consent_decision`` (typed:
``get_consent(request)``, ``get_decision(request)``); templates get
``consent`` (``{% if consent.analytics %}``) and ``{% load consentguard %}``
``{% consentguard_banner %}``; ``python manage.py check`` checks the set-up.
"""

from __future__ import annotations

from .conf import get_guard as get_guard
from .context_processors import ConsentContext as ConsentContext
from .context_processors import context_processor as context_processor
from .middleware import ConsentMiddleware as ConsentMiddleware
from .request import get_consent as get_consent
from .request import get_decision as get_decision

__all__ = ["ConsentContext", "ConsentMiddleware", "context_processor", "get_consent",
           "get_decision", "get_guard"]
