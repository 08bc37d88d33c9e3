"""What a site declares: :class:`Category` and :class:`Cookie` (re-exported by
:mod:`consentguard.registry`, their public home), and :func:`parse_duration`."""

from __future__ import annotations

import math
import re
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from typing import Literal

from ._patterns import name_matches, weight

__all__ = ["STORAGES", "THIRTEEN_MONTHS", "Category", "Cookie", "Storage", "parse_duration"]

#: The longest a consent-based tracker, or a stored choice, should live (CNIL deliberation
#: 2020-091, art. 5): 13 months of 365.25/12 days, rounded down. One limit for the guard's
#: ``max_age`` warning and ``consentguard check``'s long-duration warning.
THIRTEEN_MONTHS = timedelta(days=395)

Storage = Literal["cookie", "localStorage", "sessionStorage"]
STORAGES: tuple[Storage, ...] = ("cookie", "localStorage", "sessionStorage")

_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_DURATION = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|year)s?\b", re.IGNORECASE
)


def parse_duration(text: str) -> float | None:
    """Parse a human duration into seconds, where it can be parsed.

    ``"session"`` (and text starting with it, such as ``"Session (cleared when browser
    closes)"``) is ``0.0``: the cookie lives until the browser closes. ``"persistent"`` is
    ``math.inf``. ``"N seconds|minutes|hours|days|weeks|months|years"`` (singular too) is
    N times the unit, a month counted as 30 days and a year as 365. Anything else
    (``"Varies"``, ``""``) is ``None``.
    """
    lowered = text.strip().lower()
    if lowered.startswith("session"):
        return 0.0
    if lowered.startswith("persistent"):
        return math.inf
    match = _DURATION.match(lowered)
    if match is None:
        return None
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class Category:
    """A category of cookies a visitor can accept or refuse.

    :param name: short identifier, lower case (``"analytics"``); what consent records.
    :param required: cookies the site cannot work without; always accepted, never asked.
    :param description: one sentence shown to visitors in the banner and the policy.
    :param title: display name (defaults to the name, capitalised).
    :param consent_mode: Google Consent Mode v2 signals this category grants
        (for example ``("analytics_storage",)``; a list is kept as a tuple); used by the
        banner.
    """

    name: str
    _: KW_ONLY
    required: bool = False
    description: str = ""
    title: str = ""
    consent_mode: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.consent_mode, list):  # as a file gives it: keep it hashable
            object.__setattr__(self, "consent_mode", tuple(self.consent_mode))

    @property
    def label(self) -> str:
        """The display name: ``title`` or the capitalised name."""
        return self.title or self.name.capitalize()


@dataclass(frozen=True)
class Cookie:
    """A cookie (or a localStorage/sessionStorage key) the site uses.

    :param name: the exact name, or a pattern where ``*`` matches any run of characters.
    :param category: the name of the :class:`Category` it belongs to.
    :param purpose: why the site stores it, in words for visitors.
    :param duration: how long it lives, as people write it (``"2 years"``, ``"session"``);
        :attr:`lifetime` is the parsed number of seconds, when it can be parsed.
    :param provider: who sets it, when that is not the site itself (``"Google Analytics"``).
    :param storage: ``"cookie"`` (default), ``"localStorage"`` or ``"sessionStorage"``.
        Storage keys are declared and listed, and cleared by the banner script, but never
        matched against ``Set-Cookie``.
    :param domain: the ``Domain`` the cookie is set with, when it lives on a parent
        domain (needed to delete it).
    :param path: the ``Path`` the cookie is set with (default ``"/"``).
    :param third_party: whether a third party sets or reads it (shown in the policy;
        defaults to true when a provider is given).
    """

    name: str
    _: KW_ONLY
    category: str
    purpose: str = ""
    duration: str = ""
    provider: str = ""
    storage: Storage = "cookie"
    domain: str | None = None
    path: str = "/"
    third_party: bool | None = None

    @property
    def is_pattern(self) -> bool:
        """Whether the name contains a ``*`` wildcard."""
        return "*" in self.name

    @property
    def weight(self) -> int:
        """The number of literal characters in the name: longer wins among patterns."""
        return weight(self.name)

    @property
    def lifetime(self) -> float | None:
        """``duration`` in seconds (``0.0`` session, ``inf`` persistent), or ``None``."""
        return parse_duration(self.duration)

    @property
    def is_third_party(self) -> bool:
        """Whether the policy lists it as third party."""
        return self.third_party if self.third_party is not None else bool(self.provider)

    def matches(self, name: str) -> bool:
        """Whether ``name`` is this entry's name, or matches its pattern."""
        return name_matches(self.name, name)
