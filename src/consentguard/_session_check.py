"""The start-up warning for a framework's session cookie the registry gets wrong.

Undeclared cookies are blocked, so an undeclared session cookie silently logs every user
out; one declared in an optional category logs out whoever refuses it. Both are easy to
miss, so the Flask extension and the ASGI middleware say so once, at start-up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .guard import ConsentGuard

__all__ = ["warn_about_session_cookie"]

logger = logging.getLogger("consentguard")


def warn_about_session_cookie(guard: ConsentGuard, name: str, owner: str) -> None:
    """Log a warning when ``name`` (``owner``'s session cookie) would be blocked or refused.

    :param owner: who sets it, for the message (``"Flask"``, ``"SessionMiddleware"``).
    """
    entry = guard.registry.match(name)
    if entry is None and guard.unknown != "allow":
        logger.warning(
            "%s's session cookie %r is not declared in the consentguard registry, so it will "
            "be %s. Fix: declare it, e.g. Cookie(%r, category=\"essential\").",
            owner, name, "an error" if guard.unknown == "raise" else "blocked", name)
    elif entry is not None and entry.category not in guard.registry.required:
        logger.warning(
            "%s's session cookie %r is declared in the optional category %r, so every visitor "
            "who refuses it is logged out. Fix: declare it in a required category (e.g. "
            "\"essential\") unless that is what you mean.", owner, name, entry.category)
