"""Proof of consent: the record of each choice, and stores that keep them.

Every choice recorded through the consent endpoint calls ``on_consent(record)`` with a
:class:`ConsentRecord`. Any callable will do (send it to your database, a queue, a log
line); two are ready: :class:`SQLiteConsentLog` (one file, one server) and
:class:`SQLAlchemyConsentLog` (any database SQLAlchemy reaches, for sites on several
servers; ``pip install "consentguard-middleware[postgres]"``). A store raises when it cannot
record, so that the endpoint can refuse an acceptance it has no proof of. Records hold no
IP address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._open import ConsentStore as ConsentStore
from ._open import open_log as open_log
from ._record import ConsentRecord as ConsentRecord
from ._sqlite import SQLiteConsentLog as SQLiteConsentLog

if TYPE_CHECKING:
    from ._sqlalchemy import SQLAlchemyConsentLog as SQLAlchemyConsentLog

__all__ = ["ConsentRecord", "ConsentStore", "SQLAlchemyConsentLog", "SQLiteConsentLog", "open_log"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the core (the endpoint imports ConsentRecord) never loads
    # SQLAlchemy.
    if name == "SQLAlchemyConsentLog":
        from ._sqlalchemy import SQLAlchemyConsentLog

        return SQLAlchemyConsentLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
