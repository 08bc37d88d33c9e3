"""Proof of consent: SQLiteConsentLog (concurrent writers included) and its export."""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apps import ORIGIN, asgi_request, make_guard, starlette_app

from consentguard.log import ConsentRecord, SQLiteConsentLog, add_arguments, run

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


def test_records_round_trip_in_order(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "consent.db")
    stored = [record(1, at=T0 + timedelta(days=2)), record(2, at=T0), record(3, at=T0)]
    for item in stored:
        log(item)
    assert log.count() == 3
    assert list(log.records()) == [stored[1], stored[2], stored[0]]  # oldest first, then seq
    assert list(log.records(since=T0 + timedelta(days=1))) == [stored[0]]
    assert list(log.records(since=datetime(2026, 1, 11))) == [stored[0]]  # naive = UTC
    assert list(log.records(consent_id="id-2")) == [stored[1]]
    log.close()


def test_timestamps_in_other_zones_are_stored_in_utc(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "consent.db")
    paris = timezone(timedelta(hours=1))
    log(record(1, at=datetime(2026, 1, 10, 13, 30, tzinfo=paris)))  # 12:30 UTC
    assert [r.consent_id for r in log.records(since=T0 + timedelta(minutes=20))] == ["id-1"]
    assert list(log.records(since=T0 + timedelta(minutes=40))) == []
    log.close()


def test_wal_journal(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    SQLiteConsentLog(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_prune_keeps_the_retention_period(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "consent.db", retention=timedelta(days=30))
    log(record(1, at=T0 - timedelta(days=31)))
    log(record(2, at=T0 - timedelta(days=29)))
    log(record(3, at=T0))
    assert log.prune(now=T0) == 1
    assert [r.consent_id for r in log.records()] == ["id-2", "id-3"]
    assert log.prune(now=T0) == 0
    log.close()


def test_threads_lose_no_record(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    log = SQLiteConsentLog(path, timeout=30)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(thread: int) -> None:
        try:
            start.wait()
            for n in range(100):
                log(record(n, consent_id=f"t{thread}-{n}"))
        except BaseException as exc:  # collected: an error in a thread must fail the test
            errors.append(exc)
        finally:
            log.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert log.count() == 600
    assert len({r.consent_id for r in log.records()}) == 600
    log.close()


# A writer process: waits for the go file so both processes (and the parent's threads)
# hit a fresh database at the same moment, creating it and switching it to WAL together.
_CHILD = """
import sys, time
from datetime import datetime, timezone
from pathlib import Path
from consentguard.log import ConsentRecord, SQLiteConsentLog
path, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
Path(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.002)
log = SQLiteConsentLog(path)
for n in range(count):
    log(ConsentRecord(consent_id=f"{name}-{n}", timestamp=datetime.now(timezone.utc),
                      action="accept_all", accepted=("analytics",), refused=(),
                      registry_version=None))
print(log.count())
"""


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


def test_two_processes_and_threads_lose_no_record(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    go = tmp_path / "go"
    per_writer = 150
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, str(path), f"p{i}", str(per_writer),
                          str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    deadline = time.monotonic() + 20
    while not all((tmp_path / f"ready-p{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "writer processes did not start"
        time.sleep(0.005)
    errors: list[BaseException] = []

    def writer(thread: int) -> None:
        try:
            log = SQLiteConsentLog(path)
            for n in range(per_writer):
                log(record(n, consent_id=f"t{thread}-{n}"))
            log.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    go.touch()
    for thread in threads:
        thread.start()
    outputs = [child.communicate(timeout=30) for child in children]
    for thread in threads:
        thread.join()
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert "locked" not in err
        assert int(out) >= per_writer  # what that process counted when it was done
    assert errors == []
    log = SQLiteConsentLog(path)
    assert log.count() == 4 * per_writer
    ids = {r.consent_id for r in log.records()}
    assert {f"p{p}-{n}" for p in range(2) for n in range(per_writer)} <= ids
    assert len(ids) == 4 * per_writer
    log.close()


def test_the_endpoint_writes_to_the_log(tmp_path: Path) -> None:
    log = SQLiteConsentLog(tmp_path / "consent.db")
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


# -- `consentguard log export` ----------------------------------------------------------------


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="consentguard log")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def test_export_prints_json_lines_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    path = tmp_path / "consent.db"
    log = SQLiteConsentLog(path)
    log(record(1, at=T0 - timedelta(days=3)))
    log(record(2, at=T0))
    log(record(3, at=T0 + timedelta(days=1)))
    log.close()
    assert cli("export", str(path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["id-1", "id-2", "id-3"]
    assert json.loads(lines[1]) == record(2).to_json()
    assert cli("export", str(path), "--since", "2026-01-10") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["id-2", "id-3"]
    assert cli("export", str(path), "--consent-id", "id-3") == 0
    assert [json.loads(x)["consent_id"] for x in capsys.readouterr().out.splitlines()] == [
        "id-3"]


def test_export_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("export", str(tmp_path / "missing.db")) == 2
    assert "no such database" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()
    path = tmp_path / "consent.db"
    SQLiteConsentLog(path).close()
    assert cli("export", str(path), "--since", "last tuesday") == 2
    assert "ISO date" in capsys.readouterr().err


def test_prune_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "consent.db"
    log = SQLiteConsentLog(path)
    log(record(1, at=datetime.now(timezone.utc) - timedelta(days=400)))
    log(record(2, at=datetime.now(timezone.utc)))
    log.close()
    assert cli("prune", str(path), "--days", "365") == 0
    assert "deleted 1 record" in capsys.readouterr().out
    log = SQLiteConsentLog(path)
    assert [r.consent_id for r in log.records()] == ["id-2"]
    log.close()
