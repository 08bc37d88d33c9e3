"""SQLAlchemyConsentLog beyond the common contract: schema, lost connections, imports.

Runs on sqlite and on a real PostgreSQL server (tests/logstores.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from logstores import Backend

pytest.importorskip("sqlalchemy", reason="needs SQLAlchemy: pip install -e '.[test]'")

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from consentguard.exceptions import ConsentLogError
from consentguard.log import ConsentRecord, SQLAlchemyConsentLog

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def record(n: int) -> ConsentRecord:
    return ConsentRecord(consent_id=f"id-{n}", timestamp=T0, action="accept_all",
                         accepted=("analytics", "marketing"), refused=(),
                         registry_version="v1")


@pytest.fixture
def store(sqlalchemy_backend: Backend) -> Iterator[SQLAlchemyConsentLog]:
    log = SQLAlchemyConsentLog(sqlalchemy_backend.target)
    yield log
    log.close()


def test_creates_tables_indexes_and_records_the_schema_version(
        store: SQLAlchemyConsentLog) -> None:
    schema = inspect(store.engine)
    assert {"consent_log", "consent_log_meta"} <= set(schema.get_table_names())
    indexes = {index["name"]: index["column_names"] for index in schema.get_indexes("consent_log")}
    assert indexes["consent_log_timestamp"] == ["timestamp"]
    assert indexes["consent_log_consent_id"] == ["consent_id"]
    assert store.schema_version() == 1
    with store.engine.connect() as db:
        assert db.execute(text("SELECT value FROM consent_log_meta WHERE key = 'schema_version'")
                          ).scalar_one() == "1"


def test_a_newer_schema_is_refused_with_a_clear_error(sqlalchemy_backend: Backend) -> None:
    SQLAlchemyConsentLog(sqlalchemy_backend.target).close()
    engine = create_engine(sqlalchemy_backend.target)
    with engine.begin() as db:
        db.execute(text("UPDATE consent_log_meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(ConsentLogError, match=r"schema version 99.*upgrade consentguard"):
        SQLAlchemyConsentLog(sqlalchemy_backend.target)


def test_an_existing_engine_can_be_shared(sqlalchemy_backend: Backend) -> None:
    engine = create_engine(sqlalchemy_backend.target)
    log = SQLAlchemyConsentLog(engine)
    log(record(1))
    assert log.engine is engine
    assert [r.consent_id for r in log.records()] == ["id-1"]
    engine.dispose()


def _lose_connection(store: SQLAlchemyConsentLog, times: int) -> list[int]:
    """Cut the store's database connection in the middle of its next ``times`` INSERTs,
    as a server restart or a network failure would; the list counts the INSERTs tried."""
    tried: list[int] = []
    backend = store.engine.dialect.name
    killer = (create_engine(store.engine.url, poolclass=NullPool)  # no connection left open
              if backend == "postgresql" else None)

    @event.listens_for(store.engine, "before_cursor_execute")
    def cut(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("INSERT INTO consent_log "):
            return
        tried.append(1)
        if len(tried) > times:
            return
        dbapi = conn.connection.dbapi_connection
        if killer is not None:  # the server ends the session, as on a restart
            with killer.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"),
                              {"pid": dbapi.info.backend_pid})
        else:
            dbapi.close()

    return tried


def test_a_connection_lost_mid_write_is_retried_once(
        store: SQLAlchemyConsentLog, caplog: pytest.LogCaptureFixture) -> None:
    store(record(0))  # the pool holds a live connection: the next write reuses it
    tried = _lose_connection(store, times=1)
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        store(record(1))
    assert len(tried) == 2
    assert [r.consent_id for r in store.records()] == ["id-0", "id-1"]
    assert "retrying once" in caplog.text


def test_a_second_lost_connection_is_raised(store: SQLAlchemyConsentLog) -> None:
    store(record(0))
    tried = _lose_connection(store, times=2)
    with pytest.raises(DBAPIError) as raised:
        store(record(1))
    assert raised.value.connection_invalidated
    assert len(tried) == 2  # one retry, not a loop
    assert [r.consent_id for r in store.records()] == ["id-0"]
    store(record(2))  # the pool recovers for the next request
    assert [r.consent_id for r in store.records()] == ["id-0", "id-2"]


def test_an_error_that_is_not_a_lost_connection_is_not_retried(
        store: SQLAlchemyConsentLog) -> None:
    tried: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: tried.append(statement))
    with pytest.raises(DBAPIError):
        store(ConsentRecord(consent_id="x" * 300, timestamp=T0, action="accept_all",
                            accepted=(), refused=(), registry_version=None)
              if store.engine.dialect.name == "postgresql" else _unstorable(store))
    assert sum(s.startswith("INSERT") for s in tried) == 1


def _unstorable(store: SQLAlchemyConsentLog) -> ConsentRecord:
    # sqlite ignores VARCHAR lengths: make the next write fail another way.
    with store.engine.begin() as db:
        db.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON consent_log "
                        "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    return record(9)


def test_the_core_never_imports_sqlalchemy() -> None:
    code = ("import sys, consentguard, consentguard.asgi, consentguard.wsgi, consentguard.log\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'psycopg'))\n"
            "print(loaded)\n"
            "consentguard.log.SQLAlchemyConsentLog\n"
            "print('sqlalchemy' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]  # loaded only when asked for


def test_a_forked_worker_opens_its_own_connections(postgres_url: str) -> None:
    # gunicorn --preload: the store is made in the parent, the workers are forked from it.
    # Two processes on one socket would interleave their messages.
    store = SQLAlchemyConsentLog(postgres_url)

    def backend_pid() -> int:
        with store.engine.connect() as db:
            return int(db.execute(text("SELECT pg_backend_pid()")).scalar_one())

    parent = backend_pid()  # now pooled, ready for reuse
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports through the pipe and never returns
        try:
            store(record(1))
            os.write(write, str(backend_pid()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_pid = int(pipe.read() or 0)
    os.waitpid(child, 0)
    assert child_pid not in (0, parent)
    assert backend_pid() == parent  # the parent's connection is intact
    store(record(2))
    assert [r.consent_id for r in store.records()] == ["id-1", "id-2"]
    store.close()


def test_mysql_keeps_microseconds() -> None:
    # MySQL's DATETIME drops fractions of a second unless asked: --since/--until and the
    # order of a burst of choices need them (no MySQL server here: the DDL is checked).
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    from consentguard.log._sqlalchemy import _log

    assert "timestamp DATETIME(6) NOT NULL" in str(CreateTable(_log).compile(
        dialect=mysql.dialect()))
