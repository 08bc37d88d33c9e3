"""Starlette helpers: the current consent from a request.

Install the middleware with ``app.add_middleware(ConsentMiddleware, guard=guard)``
(or ``Middleware(ConsentMiddleware, guard=guard)``), then in an endpoint::

    from consentguard.starlette import get_consent

    consent = get_consent(request)   # Consent | None
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from .consent import Consent
from .guard import Decision

__all__ = ["get_consent", "get_decision"]

_MISSING = ("consentguard did not see this request. Fix: app.add_middleware("
            "ConsentMiddleware, guard=guard) (from consentguard.asgi import ConsentMiddleware).")


def get_decision(request: HTTPConnection) -> Decision:
    """This request's :class:`~consentguard.Decision` (``.allows(category)``, GPC included)."""
    decision = request.scope.get("state", {}).get("consent_decision")
    if not isinstance(decision, Decision):
        raise RuntimeError(_MISSING)
    return decision


def get_consent(request: HTTPConnection) -> Consent | None:
    """The visitor's :class:`~consentguard.Consent`, or ``None`` before any choice."""
    return get_decision(request).consent
