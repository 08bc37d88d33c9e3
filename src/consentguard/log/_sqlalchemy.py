"""SQLAlchemyConsentLog: one proof-of-consent store shared by every server of a site.

SQLAlchemy Core (no ORM), so any database it reaches works: PostgreSQL through psycopg in
production, MySQL, SQLite. Imported only when used: the core never loads SQLAlchemy.
"""

from __future__ import annotations

import json
import logging
import os
import time
import weakref
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    insert,
    make_url,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from ..exceptions import ConsentLogError
from ._record import DEFAULT_RETENTION, ConsentRecord, utc

logger = logging.getLogger("consentguard")

#: The layout this code writes; a store records it in ``consent_log_meta`` so that a later
#: version can migrate an older table instead of guessing.
SCHEMA_VERSION = 1

_metadata = MetaData()
_log = Table(
    "consent_log", _metadata,
    # SQLite autoincrements only an INTEGER PRIMARY KEY.
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("consent_id", String(255), nullable=False),
    # UTC, naive: the same on every backend; MySQL keeps whole seconds unless told.
    Column("timestamp", DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
           nullable=False),
    Column("action", String(16), nullable=False),
    Column("record", Text, nullable=False),  # the whole ConsentRecord as JSON
    Index("consent_log_timestamp", "timestamp"),
    Index("consent_log_consent_id", "consent_id"),
)
_meta = Table(
    "consent_log_meta", _metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)
# Serialises table creation between servers starting at once (PostgreSQL only; elsewhere a
# lost race is retried).
_PG_LOCK = 0x63675F6C6F67  # "cg_log"


class SQLAlchemyConsentLog:
    """Keeps every :class:`ConsentRecord` in any database SQLAlchemy reaches; pass it as
    ``on_consent``. Give every server of a site the same URL::

        on_consent=SQLAlchemyConsentLog(os.environ["CONSENT_LOG_URL"])
        # e.g. postgresql+psycopg://consent:secret@db.internal/consent

    Creates its tables and indexes when missing and records the schema version. Writes are
    one short transaction each, safe from many threads and processes. A connection lost in
    the middle of a write is retried once on a fresh connection; any other failure, or a
    second one, is raised, so that the endpoint refuses an acceptance it cannot prove.

    :param url: a SQLAlchemy database URL, or an :class:`~sqlalchemy.engine.Engine` to share.
    :param retention: how long :meth:`prune` keeps records (default 5 years — keep them
        as long as you rely on the consent, plus the time to answer a complaint).
    :param engine_options: keyword arguments for :func:`sqlalchemy.create_engine`
        (pool size, ``connect_args``, …); ignored when ``url`` is an engine.
    :raises ConsentLogError: the tables were written by a newer consentguard.
    """

    def __init__(self, url: str | URL | Engine, *,
                 retention: timedelta = DEFAULT_RETENTION,
                 engine_options: Mapping[str, Any] | None = None) -> None:
        self.retention = retention
        owned = not isinstance(url, Engine)
        if isinstance(url, Engine):
            self.engine = url
        else:
            options: dict[str, Any] = {"pool_pre_ping": True, **(engine_options or {})}
            if make_url(url).get_backend_name() == "sqlite":
                # Other processes' writers hold the lock briefly: wait rather than fail.
                options.setdefault("connect_args", {"timeout": 30})
            self.engine = create_engine(url, **options)
            _forget_pool_after_fork(self.engine)
        try:
            self._create()
        except BaseException:
            if owned:  # nobody else can close its connections
                self.engine.dispose()
            raise

    def _create(self) -> None:
        for attempt in range(3):
            try:
                with self.engine.begin() as db:
                    if db.dialect.name == "postgresql":
                        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                    _metadata.create_all(db)
                    self._check_version(db)
                return
            except DBAPIError:
                # Another server created the same table between our check and our CREATE.
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _check_version(self, db: Connection) -> None:
        found = db.execute(select(_meta.c.value).where(_meta.c.key == "schema_version")
                           ).scalar_one_or_none()
        if found is None:
            db.execute(insert(_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif not found.isdigit() or int(found) > SCHEMA_VERSION:
            raise ConsentLogError(
                f"the consent log at {self.engine.url!r} has schema version {found}, newer "
                f"than this consentguard understands ({SCHEMA_VERSION}). Fix: upgrade "
                "consentguard on this server.")
        # Version 1 is the first layout: nothing to migrate yet.

    def __call__(self, record: ConsentRecord) -> None:
        """Store one record (this is what ``on_consent`` calls).

        :raises sqlalchemy.exc.DBAPIError: when the record cannot be stored (after one retry
            on a fresh connection if the connection was lost).
        """
        row = {
            "consent_id": record.consent_id,
            "timestamp": _naive_utc(record.timestamp),
            "action": record.action,
            "record": json.dumps(record.to_json()),
        }
        try:
            self._insert(row)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            logger.warning("consent log: the database connection was lost while writing a "
                           "record; retrying once on a new connection")
            self._insert(row)

    def _insert(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as db:
            db.execute(insert(_log), row)

    def records(self, *, since: datetime | None = None, until: datetime | None = None,
                consent_id: str | None = None) -> Iterator[ConsentRecord]:
        """The stored records, oldest first, streamed.

        :param since: only records from this moment on (a naive datetime is UTC).
        :param until: only records before this moment.
        :param consent_id: only the records of one consent id.
        """
        query = select(_log.c.record).order_by(_log.c.timestamp, _log.c.seq)
        if since is not None:
            query = query.where(_log.c.timestamp >= _naive_utc(since))
        if until is not None:
            query = query.where(_log.c.timestamp < _naive_utc(until))
        if consent_id is not None:
            query = query.where(_log.c.consent_id == consent_id)
        with self.engine.connect() as db:
            for (data,) in db.execution_options(yield_per=1000).execute(query):
                yield ConsentRecord.from_json(json.loads(data))

    def prune(self, *, now: datetime | None = None) -> int:
        """Delete records older than ``retention``; the number deleted."""
        cutoff = (utc(now) if now else datetime.now(timezone.utc)) - self.retention
        with self.engine.begin() as db:
            deleted = db.execute(delete(_log).where(_log.c.timestamp < _naive_utc(cutoff)))
        return int(deleted.rowcount)

    def count(self) -> int:
        """How many records are stored."""
        with self.engine.connect() as db:
            return int(db.execute(select(func.count()).select_from(_log)).scalar_one())

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.engine.connect() as db:
            found = db.execute(select(_meta.c.value).where(_meta.c.key == "schema_version")
                               ).scalar_one()
        return int(found)

    def close(self) -> None:
        """Close the pooled connections (the store opens new ones if used again)."""
        self.engine.dispose()


def _naive_utc(moment: datetime) -> datetime:
    return utc(moment).replace(tzinfo=None)


def _forget_pool_after_fork(engine: Engine) -> None:
    # A store made before a server forks its workers (gunicorn --preload) must not share
    # the parent's sockets: each child starts with an empty pool.
    ref = weakref.ref(engine)

    def forget() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=forget)
