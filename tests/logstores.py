"""Consent-log test support: a throwaway PostgreSQL cluster, the stores to test, and a
realistic fixture log.

The cluster: Debian's server binaries (``/usr/lib/postgresql/NN/bin``, or ``CG_PG_BIN``;
``bash scripts/install-postgres.sh`` installs them), ``initdb`` in a fresh temporary
directory, ``pg_ctl start`` listening only on a unix socket in that directory. As root,
both run as the ``postgres`` user (PostgreSQL refuses to run as root). The cluster is
stopped and its directory removed at the end of the session, failed tests or not. Each
test gets a database of its own. Without a server the PostgreSQL tests skip, saying why;
with ``CG_REQUIRE_POSTGRES=1`` (CI) a missing server is a failure.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn

import pytest

from consentguard.log import ConsentRecord, ConsentStore, SQLiteConsentLog

INSTALL_HINT = "run `bash scripts/install-postgres.sh` (apt-get install postgresql)"
#: Set CG_REQUIRE_POSTGRES=1 (CI does) to fail, not skip, when PostgreSQL is missing.
REQUIRED = os.environ.get("CG_REQUIRE_POSTGRES") == "1"


def _unavailable(reason: str) -> NoReturn:
    if REQUIRED:
        pytest.fail(f"{reason} (CG_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (initdb, pg_ctl)."""
    if os.environ.get("CG_PG_BIN"):
        candidates = [Path(os.environ["CG_PG_BIN"])]
    else:
        found = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit()
                            else 0, reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


@dataclass
class Cluster:
    """A running throwaway cluster: ``database()`` makes a fresh database, its URL."""

    socket_dir: Path
    admin: Any  # a SQLAlchemy engine on the ``postgres`` database, autocommit
    names: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://cg@/{database}?host={self.socket_dir}"

    def database(self) -> str:
        name = f"cg_test_{next(self.names)}"
        from sqlalchemy import text

        with self.admin.connect() as db:
            db.execute(text(f"CREATE DATABASE {name}"))
        return name

    def drop(self, name: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as db:
            db.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One PostgreSQL cluster for the test session, in a temporary directory."""
    for module in ("sqlalchemy", "psycopg"):
        if importlib.util.find_spec(module) is None:
            _unavailable(f"PostgreSQL tests need {module}: pip install -e '.[test]'")
    binaries = server_binaries()
    if binaries is None:
        _unavailable(f"PostgreSQL tests need the PostgreSQL server (initdb, pg_ctl): "
                     f"{INSTALL_HINT}")
    run_as: list[str] = []
    _reap_orphans(binaries)
    base = Path(tempfile.mkdtemp(prefix=_PREFIX))  # short: a socket path has ~100 bytes
    (base / "owner.pid").write_text(str(os.getpid()))
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            _unavailable(f"running as root and there is no 'postgres' user: {INSTALL_HINT}")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, logfile = base / "data", base / "server.log"

    def run(*argv: str) -> None:
        done = subprocess.run([*run_as, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = logfile.read_text(errors="replace") if logfile.exists() else ""
            pytest.fail(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}{server_log}",
                        pytrace=False)

    started = False
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", "cg", "--auth=trust",
            "-E", "UTF8", "--no-sync", "--no-instructions")
        run(str(binaries / "pg_ctl"), "start", "-D", str(data), "-l", str(logfile), "-w",
            "-t", "60", "-o",
            f"-c listen_addresses='' -k {base} -c fsync=off -c max_connections=200")
        started = True
        from sqlalchemy import create_engine

        admin = create_engine(f"postgresql+psycopg://cg@/postgres?host={base}",
                              isolation_level="AUTOCOMMIT", poolclass=_null_pool())
        yield Cluster(base, admin, itertools.count(1))
        admin.dispose()
    finally:
        if started:
            subprocess.run([*run_as, str(binaries / "pg_ctl"), "stop", "-D", str(data),
                            "-m", "immediate", "-w"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


_PREFIX = "cg-pg-"


def _reap_orphans(binaries: Path) -> None:
    """Stop the clusters of test sessions that were killed before they could (a timeout's
    SIGTERM skips every ``finally``); a live session's cluster is left alone."""
    for owner_file in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*/owner.pid"):
        try:
            os.kill(int(owner_file.read_text()), 0)
            continue  # that session is still running
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue
        base = owner_file.parent
        if (base / "data" / "postmaster.pid").exists():
            owner = base.stat().st_uid
            run_as = ["runuser", "-u", pwd.getpwuid(owner).pw_name, "--"] if (
                os.geteuid() == 0 and owner != 0) else []
            subprocess.run([*run_as, str(binaries / "pg_ctl"), "stop", "-D",
                            str(base / "data"), "-m", "immediate", "-w"],
                           capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's cluster."""
    name = postgres_cluster.database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop(name)


@dataclass
class Backend:
    """One way to keep consent records, as the tests see it.

    :param name: ``sqlite-file``, ``sqlalchemy-sqlite`` or ``postgresql``.
    :param target: what ``consentguard log`` takes: a file or a URL.
    """

    name: str
    target: str

    def open(self, **options: Any) -> ConsentStore:
        if self.name == "sqlite-file":
            return SQLiteConsentLog(self.target, **options)
        from consentguard.log import SQLAlchemyConsentLog

        return SQLAlchemyConsentLog(self.target, **options)


BACKENDS = ["sqlite-file", "sqlalchemy-sqlite", "postgresql"]


def make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    if name == "sqlite-file":
        return Backend(name, str(tmp_path / "consent.db"))
    if name == "sqlalchemy-sqlite":
        return Backend(name, f"sqlite:///{tmp_path / 'consent.db'}")
    url: str = request.getfixturevalue("postgres_url")
    return Backend(name, url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each store in turn: SQLiteConsentLog, SQLAlchemy on sqlite, SQLAlchemy on PostgreSQL."""
    return make_backend(request.param, tmp_path, request)


@pytest.fixture(params=BACKENDS[1:])
def sqlalchemy_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """SQLAlchemyConsentLog on sqlite and on PostgreSQL."""
    return make_backend(request.param, tmp_path, request)


# -- a fixture log that looks like a real site's fortnight --------------------------------

START = datetime(2026, 3, 2, tzinfo=timezone.utc)
CATEGORIES = ("functional", "analytics", "marketing")


def sample_records(days: int = 14, *, seed: int = 15) -> list[ConsentRecord]:
    """A site's choices over ``days`` days: weekday traffic, a registry update on day 9
    (``2026-03-11``), a share of GPC browsers that mostly refuse, a few withdrawals."""
    rng = random.Random(seed)
    records: list[ConsentRecord] = []
    for day in range(days):
        when = START + timedelta(days=day)
        weekend = when.weekday() >= 5
        count = rng.randint(90, 140) if weekend else rng.randint(170, 260)
        version = "2026-02-15" if day < 9 else "2026-03-11"
        for n in range(count):
            gpc = rng.random() < 0.14
            roll = min(rng.random() + (0.2 if gpc else 0.0), 0.99)  # GPC browsers refuse more
            accepted: tuple[str, ...]
            if rng.random() < 0.02:
                action, accepted = "withdraw", ()
            elif roll < 0.5 - day * 0.004:
                action, accepted = "accept_all", CATEGORIES
            elif roll < 0.8:
                action, accepted = "reject_all", ()
            else:
                action = "custom"
                accepted = tuple(c for c, p in zip(CATEGORIES, (0.8, 0.5, 0.15), strict=True)
                                 if rng.random() < p)
            moment = when + timedelta(seconds=rng.randint(6 * 3600, 23 * 3600))
            records.append(ConsentRecord(
                consent_id=f"d{day}-{n}-{rng.getrandbits(32):08x}", timestamp=moment,
                action=action,  # type: ignore[arg-type]
                accepted=accepted, refused=tuple(c for c in CATEGORIES if c not in accepted),
                registry_version=version, gpc=gpc))
    records.sort(key=lambda r: r.timestamp)
    return records


def fill(store: Callable[[ConsentRecord], None], records: list[ConsentRecord]) -> None:
    for record in records:
        store(record)
