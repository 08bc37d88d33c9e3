"""Proof of consent: the record of each choice, and a SQLite store for them.

Every choice recorded through the consent endpoint calls ``on_consent(record)`` with a
:class:`ConsentRecord`. Any callable will do (send it to your database, a queue, a log
line); :class:`SQLiteConsentLog` is a ready one. Records hold no IP address.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

__all__ = ["ConsentRecord", "SQLiteConsentLog"]

Action = Literal["accept_all", "reject_all", "custom", "withdraw"]


@dataclass(frozen=True)
class ConsentRecord:
    """One recorded choice: what a site keeps to prove consent (GDPR Art. 7(1)).

    :param consent_id: the id carried in the visitor's consent cookie.
    :param timestamp: when the choice was made (UTC).
    :param action: ``"accept_all"``, ``"reject_all"``, ``"custom"`` or ``"withdraw"``.
    :param accepted: optional categories accepted.
    :param refused: optional categories refused.
    :param registry_version: the registry ``version`` the visitor saw.
    :param revisions: category → revision of the declarations the visitor accepted.
    :param gpc: whether the request carried ``Sec-GPC: 1``.
    """

    consent_id: str
    timestamp: datetime
    action: Action
    accepted: tuple[str, ...]
    refused: tuple[str, ...]
    registry_version: str | None
    revisions: Mapping[str, str] = field(default_factory=dict, hash=False)
    gpc: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps in ISO 8601)."""
        return {
            "consent_id": self.consent_id,
            "timestamp": self.timestamp.isoformat(),
            "action": self.action,
            "accepted": list(self.accepted),
            "refused": list(self.refused),
            "registry_version": self.registry_version,
            "revisions": dict(self.revisions),
            "gpc": self.gpc,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsentRecord:
        """The inverse of :meth:`to_json`."""
        return cls(
            consent_id=data["consent_id"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            action=data["action"],
            accepted=tuple(data["accepted"]),
            refused=tuple(data["refused"]),
            registry_version=data.get("registry_version"),
            revisions=dict(data.get("revisions") or {}),
            gpc=bool(data.get("gpc")),
        )


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

    def __init__(self, path: str | Path, *, retention: timedelta = timedelta(days=5 * 365),
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
        """Store one record (this is what ``on_consent`` calls)."""
        timestamp = record.timestamp.astimezone(timezone.utc).isoformat()
        self._connect().execute(
            "INSERT INTO consent_log (consent_id, timestamp, action, record) VALUES (?, ?, ?, ?)",
            (record.consent_id, timestamp, record.action, json.dumps(record.to_json())),
        )

    def records(self, *, since: datetime | None = None,
                consent_id: str | None = None) -> Iterator[ConsentRecord]:
        """The stored records, oldest first, optionally since a time or for one consent id."""
        query = "SELECT record FROM consent_log WHERE 1=1"
        params: list[str] = []
        if since is not None:
            query += " AND timestamp >= ?"
            params.append(_utc(since).isoformat())
        if consent_id is not None:
            query += " AND consent_id = ?"
            params.append(consent_id)
        for (text,) in self._connect().execute(query + " ORDER BY timestamp, seq", params):
            yield ConsentRecord.from_json(json.loads(text))

    def prune(self, *, now: datetime | None = None) -> int:
        """Delete records older than ``retention``; the number deleted."""
        cutoff = (_utc(now) if now else datetime.now(timezone.utc)) - self.retention
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


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


# -- `consentguard log` ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``consentguard log export DB [--since DATE]`` and ``consentguard log prune DB``."""
    sub = parser.add_subparsers(dest="log_command", required=True)
    export = sub.add_parser("export", help="print stored consent records as JSON lines")
    export.add_argument("database", help="the SQLite file given to SQLiteConsentLog")
    export.add_argument("--since", help="only records from this date/time on (ISO 8601)")
    export.add_argument("--consent-id", help="only the records of one consent id")
    prune = sub.add_parser("prune", help="delete records older than the retention period")
    prune.add_argument("database")
    prune.add_argument("--days", type=int, default=5 * 365, help="retention in days")


def run(args: argparse.Namespace) -> int:
    """Run ``consentguard log ...``; the exit code."""
    if not Path(args.database).is_file():
        print(f"consentguard log: no such database: {args.database}", file=sys.stderr)
        return 2
    if args.log_command == "prune":
        log = SQLiteConsentLog(args.database, retention=timedelta(days=args.days))
        print(f"deleted {log.prune()} record(s) older than {args.days} days")
        return 0
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            print(f"consentguard log: --since must be an ISO date such as 2026-01-31, "
                  f"not {args.since!r}", file=sys.stderr)
            return 2
    log = SQLiteConsentLog(args.database)
    for record in log.records(since=since, consent_id=args.consent_id):
        print(json.dumps(record.to_json(), sort_keys=True))
    return 0
