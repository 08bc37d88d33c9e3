"""``consentguard log export|prune|stats`` on a SQLite file and on database URLs."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from logstores import Backend, fill, sample_records

from consentguard.cli import main
from consentguard.log import ConsentRecord

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
Capsys = pytest.CaptureFixture[str]


def record(n: int, at: datetime) -> ConsentRecord:
    return ConsentRecord(consent_id=f"id-{n}", timestamp=at, action="reject_all",
                         accepted=(), refused=("analytics",), registry_version="v1",
                         gpc=True)


def test_export_prints_json_lines_in_a_period(backend: Backend, capsys: Capsys) -> None:
    log = backend.open()
    fill(log, [record(1, T0 - timedelta(days=3)), record(2, T0), record(3, T0 + timedelta(1))])
    log.close()
    assert main(["log", "export", backend.target]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["id-1", "id-2", "id-3"]
    assert json.loads(lines[1]) == record(2, T0).to_json()
    assert main(["log", "export", backend.target, "--since", "2026-01-10",
                 "--until", "2026-01-11"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["consent_id"] for line in lines] == ["id-2"]
    assert main(["log", "export", backend.target, "--consent-id", "id-3"]) == 0
    assert [json.loads(x)["consent_id"] for x in capsys.readouterr().out.splitlines()] == [
        "id-3"]


def test_prune(backend: Backend, capsys: Capsys) -> None:
    now = datetime.now(timezone.utc)
    log = backend.open()
    fill(log, [record(1, now - timedelta(days=400)), record(2, now)])
    log.close()
    assert main(["log", "prune", backend.target, "--days", "365"]) == 0
    assert "deleted 1 record(s) older than 365 days" in capsys.readouterr().out
    log = backend.open()
    assert [r.consent_id for r in log.records()] == ["id-2"]
    log.close()


def test_stats_table_and_html(backend: Backend, capsys: Capsys, tmp_path: Path) -> None:
    log = backend.open()
    fill(log, sample_records(days=3))
    log.close()
    page = tmp_path / "stats.html"
    assert main(["log", "stats", backend.target, "--since", "2026-03-03",
                 "--html", str(page), "--title", "example.com"]) == 0
    out = capsys.readouterr().out
    assert "Consent choices 2026-03-03 to 2026-03-04" in out
    assert "2026-03-02" not in out
    assert "<h1>example.com</h1>" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize(("argv", "message"), [
    pytest.param(["export", "{tmp}/missing.db"], "no such file", id="missing-file"),
    pytest.param(["stats", "{tmp}/consent.db", "--since", "last tuesday"], "ISO date",
                 id="bad-date"),
    pytest.param(["prune", "{tmp}/consent.db", "--days", "0"], "1 or more", id="bad-days"),
    pytest.param(["export", "nosuchdb://x/y"], "cannot open the consent log", id="bad-url"),
    pytest.param(["stats"], "usage:", id="no-target"),
])
def test_usage_errors(argv: list[str], message: str, tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "consent.db").touch()
    assert main(["log", *(a.replace("{tmp}", str(tmp_path)) for a in argv)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()  # a typo does not create a database


def test_a_url_without_sqlalchemy_says_which_extra(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: Capsys) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.delitem(sys.modules, "consentguard.log._sqlalchemy", raising=False)
    assert main(["log", "export", "postgresql+psycopg://db/consent"]) == 2
    err = capsys.readouterr().err
    assert "'sqlalchemy'" in err and "consentguard-middleware[postgres]" in err
