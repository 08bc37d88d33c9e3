"""consentguard: make a website's cookie policy true at the HTTP layer.

Declare every cookie and its category once (:class:`Registry`); :class:`ConsentGuard`
then removes every ``Set-Cookie`` of a category the visitor has not accepted, hides
refused cookies from the app and purges them from the browser.
"""

from __future__ import annotations

from .consent import Consent as Consent
from .exceptions import ConsentGuardError as ConsentGuardError
from .exceptions import RegistryError as RegistryError
from .exceptions import UndeclaredCookieError as UndeclaredCookieError
from .guard import ConsentGuard as ConsentGuard
from .guard import Decision as Decision
from .guard import Violation as Violation
from .registry import Category as Category
from .registry import Cookie as Cookie
from .registry import Registry as Registry

__all__ = [
    "Category",
    "Consent",
    "ConsentGuard",
    "ConsentGuardError",
    "Cookie",
    "Decision",
    "Registry",
    "RegistryError",
    "UndeclaredCookieError",
    "Violation",
]

__version__ = "0.1.0"
