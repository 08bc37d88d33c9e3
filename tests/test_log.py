"""Proof of consent: the stores' contract, the same on every backend.

Every test taking ``backend`` runs on SQLiteConsentLog, on SQLAlchemyConsentLog over sqlite
and on SQLAlchemyConsentLog over a real PostgreSQL server (tests/logstores.py), so the
three mean the same thing.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apps import asgi_request, starlette_app
from logstores import Backend
from support import ORIGIN, make_guard

from consentguard.log import ConsentRecord, SQLiteConsentLog

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def record(n: int, *, at: datetime = T0, consent_id: str | None = None) -> ConsentRecord:
    return ConsentRecord(
        consent_id=consent_id or f"id-{n}",
        timestamp=at,
        action="custom",
        accepted=("analytics",),
        refused=("marketing",),
        registry_version="2026-01-01",
        revisions={"analytics": "abcd1234"},
        gpc=n % 2 == 0,
    )


def test_records_round_trip_in_order(backend: Backend) -> None:
    log = backend.open()
    stored = [record(1, at=T0 + timedelta(days=2)), record(2, at=T0), record(3, at=T0)]
    for item in stored:
        log(item)
    assert log.count() == 3
    assert list(log.records()) == [stored[1], stored[2], stored[0]]  # oldest first, then seq
    assert list(log.records(since=T0 + timedelta(days=1))) == [stored[0]]
    assert list(log.records(since=datetime(2026, 1, 11))) == [stored[0]]  # naive = UTC
    assert list(log.records(consent_id="id-2")) == [stored[1]]
    log.close()


def test_since_is_inclusive_and_until_exclusive(backend: Backend) -> None:
    log = backend.open()
    for day in range(5):
        log(record(day, at=T0 + timedelta(days=day)))
    window = log.records(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert [r.consent_id for r in window] == ["id-1", "id-2"]
    assert [r.consent_id for r in log.records(until=T0 + timedelta(days=1))] == ["id-0"]
    assert list(log.records(since=T0 + timedelta(days=9))) == []
    log.close()


def test_timestamps_in_other_zones_are_stored_in_utc(backend: Backend) -> None:
    log = backend.open()
    paris = timezone(timedelta(hours=1))
    log(record(1, at=datetime(2026, 1, 10, 13, 30, tzinfo=paris)))  # 12:30 UTC
    assert [r.consent_id for r in log.records(since=T0 + timedelta(minutes=20))] == ["id-1"]
    assert list(log.records(since=T0 + timedelta(minutes=40))) == []
    assert list(log.records(since=datetime(2026, 1, 10, 13, 20, tzinfo=paris))) != []
    log.close()


def test_prune_keeps_the_retention_period(backend: Backend) -> None:
    log = backend.open(retention=timedelta(days=30))
    log(record(1, at=T0 - timedelta(days=31)))
    log(record(2, at=T0 - timedelta(days=29)))
    log(record(3, at=T0))
    assert log.prune(now=T0) == 1
    assert [r.consent_id for r in log.records()] == ["id-2", "id-3"]
    assert log.prune(now=T0) == 0
    log.close()


def test_reopening_keeps_the_records(backend: Backend) -> None:
    first = backend.open()
    first(record(1))
    first.close()
    again = backend.open()
    again(record(2))
    assert [r.consent_id for r in again.records()] == ["id-1", "id-2"]
    again.close()


def _break(backend: Backend) -> None:
    """Drop the table under the store's feet: every later write fails."""
    if backend.name == "sqlite-file":
        with sqlite3.connect(backend.target) as direct:
            direct.execute("DROP TABLE consent_log")
        direct.close()
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(backend.target)
        with engine.begin() as db:
            db.execute(text("DROP TABLE consent_log"))
        engine.dispose()


def test_a_store_that_cannot_record_raises(backend: Backend) -> None:
    # What on_consent must do so that the endpoint refuses an acceptance it cannot prove.
    log = backend.open()
    log(record(1))
    _break(backend)
    with pytest.raises(Exception, match="consent_log"):
        log(record(2))
    log.close()


def test_sqlite_disk_full_raises(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "consent.db")
    log(record(0))
    log._connect().execute("PRAGMA max_page_count = 1")  # the disk is full
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for n in range(200):
            log(record(n, consent_id=f"filler-{n}-" + "x" * 200))
    log.close()


def test_wal_journal(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    SQLiteConsentLog(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_opening_waits_while_another_worker_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another worker is creating the database
    timer = threading.Timer(0.2, holder.execute, args=("COMMIT",))  # ...done 0.2 s later
    timer.start()
    try:
        log = SQLiteConsentLog(path, timeout=5)
        log(record(1))
        assert log.count() == 1
        log.close()
    finally:
        timer.join()
        holder.close()


def test_threads_lose_no_record(backend: Backend) -> None:
    log = backend.open()
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(thread: int) -> None:
        try:
            start.wait()
            for n in range(100):
                log(record(n, consent_id=f"t{thread}-{n}"))
        except BaseException as exc:  # collected: an error in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert log.count() == 600
    assert len({r.consent_id for r in log.records()}) == 600
    log.close()


# A writer process (a server worker): opens the store, which creates the tables at the same
# moment as the others, when the go file appears; then writes its records.
_CHILD = """
import sys, time
from datetime import datetime, timezone
from pathlib import Path
from consentguard.log import ConsentRecord, open_log
target, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
Path(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.002)
log = open_log(target)
for n in range(count):
    log(ConsentRecord(consent_id=f"{name}-{n}", timestamp=datetime.now(timezone.utc),
                      action="accept_all", accepted=("analytics",), refused=(),
                      registry_version=None))
print(log.count())
log.close()
"""


def test_four_processes_lose_no_record(backend: Backend, tmp_path: Path) -> None:
    go, processes, per_process = tmp_path / "go", 4, 250
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, backend.target, f"p{i}",
                          str(per_process), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(processes)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-p{i}").exists() for i in range(processes)):
            assert time.monotonic() < deadline, "writer processes did not start"
            time.sleep(0.01)
        go.touch()
        outputs = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert int(out) >= per_process  # what that process counted when it was done
    log = backend.open()
    ids = [r.consent_id for r in log.records()]
    assert len(ids) == processes * per_process == 1000
    assert set(ids) == {f"p{p}-{n}" for p in range(processes) for n in range(per_process)}
    log.close()


def test_the_endpoint_writes_to_the_log(backend: Backend) -> None:
    log = backend.open()
    guard = make_guard(on_consent=log)
    app = starlette_app(guard)
    reply = asgi_request(app, "POST", "/_consent", data={"accept": "*"},
                         headers={"Origin": ORIGIN})
    value = reply.headers.get_list("set-cookie")[0].split(";")[0].partition("=")[2]
    consent = guard.decode_consent(value)
    assert consent is not None
    (stored,) = log.records()
    assert (stored.consent_id, stored.action) == (consent.id, "accept_all")
    log.close()


def test_the_endpoint_refuses_an_acceptance_the_store_cannot_record(backend: Backend) -> None:
    log = backend.open()
    app = starlette_app(make_guard(on_consent=log))
    _break(backend)
    accepting = asgi_request(app, "POST", "/_consent", json={"accept": ["analytics"]},
                             headers={"Origin": ORIGIN})
    assert accepting.status_code == 503
    assert accepting.headers.get_list("set-cookie") == []
    refusing = asgi_request(app, "POST", "/_consent", json={"accept": []},
                            headers={"Origin": ORIGIN})
    assert refusing.status_code == 200  # refusing never needs proof
    assert any(v.startswith("cg_consent=") for v in refusing.headers.get_list("set-cookie"))
    log.close()
