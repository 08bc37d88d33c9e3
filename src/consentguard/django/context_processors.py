"""``consent`` in templates: the request's decision, readable by category name.

::

    {% if consent.analytics %}<script src="/analytics.js"></script>{% endif %}
    {% if "analytics" in consent.accepted %}…{% endif %}
    {% if consent.needs_consent %}…{% endif %}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conf import get_guard

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ..consent import Consent
    from ..guard import Decision

__all__ = ["ConsentContext", "context_processor"]


class ConsentContext:
    """The decision as templates see it: ``consent.<category>`` is whether it is accepted.

    Django's templates try ``consent["analytics"]`` before an attribute, so every
    category the registry declares reads as a bool (``False`` when refused); other names
    fall through to the attributes ``accepted``, ``consent``, ``needs_consent`` and
    ``decision``.

    :param decision: the request's :class:`~consentguard.Decision`.
    :param categories: the category names the registry declares.
    """

    def __init__(self, decision: Decision, categories: tuple[str, ...]) -> None:
        self.decision = decision
        self._categories = categories

    def __getitem__(self, category: str) -> bool:
        if category not in self._categories:
            raise KeyError(category)
        return category in self.decision.accepted

    def __contains__(self, category: object) -> bool:  # {% if "analytics" in consent %}
        return category in self.decision.accepted

    @property
    def accepted(self) -> frozenset[str]:
        """The accepted categories, required ones included."""
        return self.decision.accepted

    @property
    def consent(self) -> Consent | None:
        """The visitor's :class:`~consentguard.Consent`, or ``None`` before any choice."""
        return self.decision.consent

    @property
    def needs_consent(self) -> bool:
        """Whether the banner should ask (no choice yet, or a category changed since)."""
        return self.decision.needs_consent

    def allows(self, category: str) -> bool:
        """Whether ``category`` is accepted (as :meth:`~consentguard.Decision.allows`)."""
        return self.decision.allows(category)

    def __repr__(self) -> str:
        return f"<ConsentContext accepted={sorted(self.accepted)}>"


def context_processor(request: HttpRequest) -> dict[str, Any]:
    """Add ``consent`` (a :class:`ConsentContext`) to every ``RequestContext``.

    Nothing is added for a request the middleware did not see (``consent`` is then
    undefined, which templates read as false).
    """
    decision: Decision | None = getattr(request, "consent_decision", None)
    if decision is None:
        return {}
    return {"consent": ConsentContext(decision, get_guard().registry.category_names)}
