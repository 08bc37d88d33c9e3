"""Open a store by what names it: a database URL or a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from ._record import DEFAULT_RETENTION, ConsentRecord


class ConsentStore(Protocol):
    """What both stores offer besides being called with a record."""

    def __call__(self, record: ConsentRecord) -> None: ...

    def records(self, *, since: datetime | None = None, until: datetime | None = None,
                consent_id: str | None = None) -> Iterator[ConsentRecord]: ...

    def prune(self, *, now: datetime | None = None) -> int: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def open_log(target: str | Path, *, retention: timedelta = DEFAULT_RETENTION) -> ConsentStore:
    """The store ``target`` names: a SQLAlchemy URL (it contains ``://``) or a SQLite file.

    :param target: e.g. ``postgresql+psycopg://consent@db/consent`` or ``consent.db``.
    :param retention: how long ``prune()`` keeps records.
    :raises ModuleNotFoundError: a URL, and SQLAlchemy (or the URL's driver) is not
        installed: ``pip install "consentguard-middleware[postgres]"``.
    """
    if "://" in str(target):
        from ._sqlalchemy import SQLAlchemyConsentLog

        return SQLAlchemyConsentLog(str(target), retention=retention)
    from ._sqlite import SQLiteConsentLog

    return SQLiteConsentLog(target, retention=retention)
