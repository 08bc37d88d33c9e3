"""FastAPI dependencies for the current consent.

::

    from consentguard.fastapi import CurrentConsent, CurrentDecision

    @app.get("/")
    def index(consent: CurrentConsent, decision: CurrentDecision):
        if decision.allows("analytics"): ...
"""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import Depends

from .consent import Consent
from .guard import Decision
from .starlette import get_consent, get_decision

__all__ = ["CurrentConsent", "CurrentDecision", "get_consent", "get_decision"]

#: The visitor's Consent, or None before any choice.
CurrentConsent = Annotated[Optional[Consent], Depends(get_consent)]  # noqa: UP045 - evaluated at runtime on 3.10
#: This request's Decision: ``decision.allows("analytics")``.
CurrentDecision = Annotated[Decision, Depends(get_decision)]
