"""SQLiteConsentLog: the proof-of-consent store for a site on one server."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ._record import DEFAULT_RETENTION, ConsentRecord, utc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    consent_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    action TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_log_timestamp ON consent_log (timestamp);
CREATE INDEX IF NOT EXISTS consent_log_consent_id ON consent_log (consent_id);
"""


class SQLiteConsentLog:
    """Keeps every :class:`ConsentRecord` in a SQLite file; pass it as ``on_consent``.

    Safe for concurrent writers: one connection per thread, WAL journal, and a busy
    timeout so writers from other processes (several server workers) wait their turn
    instead of failing.

    :param path: the database file (created with its table when missing).
    :param retention: how long :meth:`prune` keeps records (default 5 years — keep them
        as long as you rely on the consent, plus the time to answer a complaint).
    :param timeout: seconds a writer waits for the database lock.
    """

    def __init__(self, path: str | Path, *, retention: timedelta = DEFAULT_RETENTION,
                 timeout: float = 30.0) -> None:
        self.path = str(path)
        self.retention = retention
        self.timeout = timeout
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            self._enable_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _enable_wal(self, db: sqlite3.Connection) -> None:
        # Switching the journal mode needs the write lock and SQLite does not busy-wait for
        # it: while another worker writes, retry until the connection's own timeout.
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def __call__(self, record: ConsentRecord) -> None:
        """Store one record (this is what ``on_consent`` calls).

        :raises sqlite3.Error: when the record cannot be stored (disk full, database
            locked past ``timeout``): the endpoint then refuses the choice it cannot prove.
        """
        timestamp = utc(record.timestamp).isoformat()
        self._connect().execute(
            "INSERT INTO consent_log (consent_id, timestamp, action, record) VALUES (?, ?, ?, ?)",
            (record.consent_id, timestamp, record.action, json.dumps(record.to_json())),
        )

    def records(self, *, since: datetime | None = None, until: datetime | None = None,
                consent_id: str | None = None) -> Iterator[ConsentRecord]:
        """The stored records, oldest first.

        :param since: only records from this moment on (a naive datetime is UTC).
        :param until: only records before this moment.
        :param consent_id: only the records of one consent id.
        """
        query = "SELECT record FROM consent_log WHERE 1=1"
        params: list[str] = []
        if since is not None:
            query += " AND timestamp >= ?"
            params.append(utc(since).isoformat())
        if until is not None:
            query += " AND timestamp < ?"
            params.append(utc(until).isoformat())
        if consent_id is not None:
            query += " AND consent_id = ?"
            params.append(consent_id)
        for (text,) in self._connect().execute(query + " ORDER BY timestamp, seq", params):
            yield ConsentRecord.from_json(json.loads(text))

    def prune(self, *, now: datetime | None = None) -> int:
        """Delete records older than ``retention``; the number deleted."""
        cutoff = (utc(now) if now else datetime.now(timezone.utc)) - self.retention
        cursor = self._connect().execute(
            "DELETE FROM consent_log WHERE timestamp < ?", (cutoff.isoformat(),))
        return cursor.rowcount

    def count(self) -> int:
        """How many records are stored."""
        row = self._connect().execute("SELECT COUNT(*) FROM consent_log").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
