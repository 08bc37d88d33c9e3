"""Typed access to what the middleware put on a request (``request.consent`` is an
attribute Django's type stubs do not know)::

    from consentguard.django import get_consent, get_decision

    if get_decision(request).allows("analytics"): ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..guard import Decision

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ..consent import Consent

__all__ = ["get_consent", "get_decision"]

_MISSING = ("consentguard did not see this request. Fix: put "
            "\"consentguard.django.ConsentMiddleware\" first in MIDDLEWARE.")


def get_decision(request: HttpRequest) -> Decision:
    """This request's :class:`~consentguard.Decision` (``.allows(category)``, GPC included).

    :raises RuntimeError: when the middleware did not see the request.
    """
    decision = getattr(request, "consent_decision", None)
    if not isinstance(decision, Decision):
        raise RuntimeError(_MISSING)
    return decision


def get_consent(request: HttpRequest) -> Consent | None:
    """The visitor's :class:`~consentguard.Consent`, or ``None`` before any choice.

    :raises RuntimeError: when the middleware did not see the request.
    """
    return get_decision(request).consent
