"""The ``consentguard`` command, called as ``main([...])``: every subcommand, every exit code."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from support import REGISTRY_TOML, SECRET, make_registry, write_file

from consentguard import ConsentGuard, Registry, cli
from consentguard.cli import main
from consentguard.log import ConsentRecord, SQLiteConsentLog
from consentguard.ocd import COLUMNS

Capsys = pytest.CaptureFixture[str]
# The registry file with its _ga in a category it does not declare.
UNKNOWN_CATEGORY = REGISTRY_TOML.replace('category = "analytics"', 'category = "stats"')


# -- usage ----------------------------------------------------------------------------------


def test_no_command_prints_help_and_exits_2(capsys: Capsys) -> None:
    assert main([]) == 2
    assert "usage: consentguard" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    pytest.param(["--frobnicate"], id="unknown-top-option"),
    pytest.param(["frobnicate"], id="unknown-command"),
    pytest.param(["check"], id="missing-file-argument"),
    pytest.param(["check", "x.toml", "--nope"], id="unknown-option"),
    pytest.param(["policy", "x.toml", "--format", "pdf"], id="bad-choice"),
    pytest.param(["audit"], id="audit-missing-app"),
    pytest.param(["log", "export"], id="log-missing-database"),
])
def test_usage_errors_return_2_without_raising(argv: list[str], capsys: Capsys) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_and_version_exit_0(capsys: Capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("check", "policy", "audit", "import-ocd", "secret", "decode", "log", "demo"):
        assert command in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("consentguard ")
    assert main(["audit", "--help"]) == 0
    assert "--crawl" in capsys.readouterr().out


def test_main_reads_sys_argv_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: Capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["consentguard", "check", write_file(tmp_path, REGISTRY_TOML)])
    assert main() == 0
    assert ": valid" in capsys.readouterr().out


def test_python_dash_m_runs_the_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "consentguard", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "usage: consentguard" in done.stdout
    # `check` imports no web framework (-X importtime lists every import on stderr).
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "consentguard", "check",
         write_file(tmp_path, REGISTRY_TOML)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert not {m for m in imported if m.split(".")[0] in ("flask", "starlette", "fastapi")}


# -- check ----------------------------------------------------------------------------------


def test_check_valid_registry(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["check", write_file(tmp_path, REGISTRY_TOML)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "categories: 2" in out and "warnings" not in out
    assert re.search(r"essential +1 cookie\(s\), +0 storage key\(s\) \(required\)", out)


def test_check_warnings_exit_0_or_1_with_strict(tmp_path: Path, capsys: Capsys) -> None:
    path = write_file(tmp_path, REGISTRY_TOML.replace('"1 year"', '"2 years"'))
    assert main(["check", path]) == 0
    out = capsys.readouterr().out
    assert "warnings (1):" in out and "entry #1 '_ga'" in out and "13 months" in out
    assert main(["check", path, "--strict"]) == 1


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(REGISTRY_TOML + "[[cookies]\n",
                 ["the file is not valid TOML", "Fix: correct the TOML"],
                 id="bad-toml"),
    pytest.param(UNKNOWN_CATEGORY,
                 ["entry #1: '_ga': unknown category 'stats'.",
                  "Fix: use one of: analytics, essential; or declare [categories.stats]."],
                 id="unknown-category"),
    pytest.param(REGISTRY_TOML + '[[cookies]]\nname = "session"\ncategory = "analytics"\n',
                 ["entry #2: 'session': the name is already declared by entry #0 in category "
                  "'essential'.", "Fix: declare each name once"], id="duplicate"),
    pytest.param(REGISTRY_TOML.replace("required = true", ""),
                 ["no category is required.", "Fix: mark the category"], id="no-required"),
])
def test_check_broken_registries_name_the_entry_and_the_fix(
        tmp_path: Path, capsys: Capsys, text: str, expected: list[str]) -> None:
    path = write_file(tmp_path, text)
    assert main(["check", path]) == 1
    out = capsys.readouterr().out
    assert "problem(s)" in out
    for piece in expected:
        assert piece in out


def test_check_json_format(tmp_path: Path, capsys: Capsys) -> None:
    path = write_file(tmp_path, UNKNOWN_CATEGORY)
    assert main(["check", path, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert data["problems"][0]["entry"] == "_ga" and data["problems"][0]["index"] == 1
    assert data["problems"][0]["fix"].startswith("use one of")
    assert data["summary"]["categories"][0]["name"] == "essential"


def test_check_missing_file_is_a_usage_error(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["check", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_check_unsupported_file_type(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["check", write_file(tmp_path, REGISTRY_TOML, "cookies.yaml")]) == 1
    assert "unsupported file type '.yaml'" in capsys.readouterr().out


# -- policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "marker"), [("markdown", "## Analytics"),
                                              ("html", '<th scope="col">Duration</th>'),
                                              ("json", '"last_updated": "2026-04-20"')])
def test_policy_formats(tmp_path: Path, capsys: Capsys, fmt: str, marker: str) -> None:
    assert main(["policy", write_file(tmp_path, REGISTRY_TOML), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert marker in out and "Distinguishes visitors" in out


def test_policy_to_a_file_escapes_html(tmp_path: Path, capsys: Capsys) -> None:
    path = write_file(tmp_path, REGISTRY_TOML.replace("Distinguishes visitors",
                                                      "<script>alert(1)</script>"))
    target = tmp_path / "policy.html"
    assert main(["policy", path, "-f", "html", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    text = target.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_policy_of_a_broken_registry_exits_1(tmp_path: Path, capsys: Capsys) -> None:
    path = write_file(tmp_path, UNKNOWN_CATEGORY)
    assert main(["policy", path]) == 1
    err = capsys.readouterr().err
    assert "unknown category 'stats'" in err and "consentguard check" in err


def test_policy_missing_file_and_unwritable_output_exit_2(tmp_path: Path,
                                                          capsys: Capsys) -> None:
    assert main(["policy", str(tmp_path / "nope.toml")]) == 2
    target = str(tmp_path / "no" / "dir.md")
    assert main(["policy", write_file(tmp_path, REGISTRY_TOML), "-o", target]) == 2
    assert "cannot write" in capsys.readouterr().err


# -- import-ocd -----------------------------------------------------------------------------

OCD_ROWS = [
    ["1", "Google Analytics", "Analytics", "_ga", "", "ID used to identify users", "2 years",
     "Google", "https://policies.google.com", "0"],
    ["2", "Google Analytics", "Analytics", "_ga_", "", "Used to persist session state",
     "2 years", "Google", "", "1"],
    ["3", "PHP", "Functional", "PHPSESSID", "", "Session", "session", "", "", "0"],
    ["4", "Meta", "Marketing", "_fbp", "", "Ads", "3 months", "Meta", "", "0"],
    ["5", "Other", "Marketing", "_fbp", "", "Ads again", "1 year", "", "", "0"],
    ["6", "Weird", "Marketing", "a b", "", "A space", "1 day", "", "", "0"],
]


def ocd_file(tmp_path: Path) -> str:
    lines = [",".join(COLUMNS)] + [",".join(row) for row in OCD_ROWS]
    return write_file(tmp_path, "\n".join(lines) + "\n", "ocd.csv")


def test_import_ocd_to_stdout_with_notes_on_stderr(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["import-ocd", ocd_file(tmp_path)]) == 0
    captured = capsys.readouterr()
    registry = Registry.loads(captured.out, format="toml")
    assert [(c.name, c.category) for c in registry.cookies] == [
        ("_ga", "analytics"), ("_ga_*", "analytics"), ("PHPSESSID", "essential"),
        ("_fbp", "marketing")]
    assert "line 6: duplicate: '_fbp': also on line 5" in captured.err
    assert "line 7: skipped: 'a b': not a valid cookie name" in captured.err
    assert "4 entries (analytics 2, essential 1, marketing 1) from 6 rows" in captured.err


def test_import_ocd_output_file_passes_check(tmp_path: Path, capsys: Capsys) -> None:
    target = tmp_path / "ocd.toml"
    assert main(["import-ocd", ocd_file(tmp_path), "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["check", str(target)]) == 0


def test_import_ocd_only_seen_uses_the_audit_json(tmp_path: Path, capsys: Capsys) -> None:
    audit = {"version": 1, "cookies": [{"name": "_ga_K2"}, {"name": "PHPSESSID"},
                                       {"name": "custom"}]}
    report = write_file(tmp_path, json.dumps(audit), "audit.json")
    assert main(["import-ocd", ocd_file(tmp_path), "--only-seen", report]) == 0
    captured = capsys.readouterr()
    registry = Registry.loads(captured.out, format="toml")
    assert [c.name for c in registry.cookies] == ["_ga_*", "PHPSESSID"]
    assert "unmatched: 'custom'" in captured.err
    assert "from 6 rows matching the 3 cookie(s) the audit saw" in captured.err
    assert "duplicate" not in captured.err.replace("0 duplicate(s)", "")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.csv", "name,category\nx,y\n", "not an Open Cookie Database CSV"),
    ("latin1.csv", None, "is not UTF-8 text"),
])
def test_import_ocd_bad_csv_exits_1(tmp_path: Path, capsys: Capsys, name: str,
                                    content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is None:
        path.write_bytes(",".join(COLUMNS).encode() + b"\n1,P,Marketing,caf\xe9,,,,,,0\n")
    else:
        path.write_text(content, encoding="utf-8")
    assert main(["import-ocd", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_import_ocd_bad_audit_report_and_missing_files(tmp_path: Path, capsys: Capsys) -> None:
    csv_path = ocd_file(tmp_path)
    assert main(["import-ocd", csv_path, "--only-seen", write_file(tmp_path, "{", "a.json")]) == 1
    assert "is not JSON" in capsys.readouterr().err
    assert main(["import-ocd", csv_path, "--only-seen", write_file(tmp_path, "[]", "b.json")]) == 1
    assert "not a consentguard audit report" in capsys.readouterr().err
    assert main(["import-ocd", str(tmp_path / "none.csv")]) == 2
    assert main(["import-ocd", csv_path, "--only-seen", str(tmp_path / "none.json")]) == 2


# -- secret and decode ----------------------------------------------------------------------


def test_secret_prints_a_fresh_url_safe_key(capsys: Capsys) -> None:
    assert main(["secret"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["secret"]) == 0
    second = capsys.readouterr().out.strip()
    assert first != second and len(first) == 43
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert main(["secret", "--bytes", "8"]) == 2


def consent_value(registry: Registry | None = None, **kwargs: object) -> str:
    guard = ConsentGuard(registry or make_registry(version="v1"), secret_key=SECRET)
    return guard.codec.encode(["analytics"], consent_id="abc123", **kwargs)  # type: ignore[arg-type]


def test_decode_shows_the_payload(capsys: Capsys) -> None:
    assert main(["decode", consent_value(), "--secret", SECRET]) == 0
    out = capsys.readouterr().out
    assert "status:   valid" in out and "id:       abc123" in out
    assert "accepted: analytics (revision " in out
    assert "refused:  functional, marketing" in out and "version:  v1" in out


def test_decode_json_with_registry_and_pasted_cookie(tmp_path: Path, capsys: Capsys,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    registry = make_registry(version="v1")
    path = write_file(tmp_path, json.dumps(registry.to_dict()), "cookies.json")
    monkeypatch.setenv(cli.SECRET_ENV, SECRET)
    pasted = f'cg_consent="{consent_value(registry)}"; other=1'
    assert main(["decode", pasted, "--registry", path, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "valid" and data["id"] == "abc123"
    assert list(data["accepted"]) == ["analytics"]
    assert data["registry"] == {"version": "v1", "stale": [], "undecided": []}
    issued = datetime.fromisoformat(data["issued"])
    assert abs(issued.timestamp() - time.time()) < 60
    expires = datetime.fromisoformat(data["expires"])
    assert (expires - issued).days == 180


def test_decode_stale_after_a_registry_change(tmp_path: Path, capsys: Capsys) -> None:
    path = write_file(tmp_path, json.dumps(make_registry(version="v2").to_dict()), "cookies.json")
    assert main(["decode", consent_value(), "-s", SECRET, "-r", path]) == 1
    out = capsys.readouterr().out
    assert "status:   stale" in out and "stale:    analytics" in out


def test_decode_expired_value(capsys: Capsys) -> None:
    old = consent_value(now=time.time() - 200 * 86400)
    assert main(["decode", old, "--secret", SECRET]) == 1
    assert "status:   expired" in capsys.readouterr().out
    assert main(["decode", old, "--secret", SECRET, "--max-age", "400"]) == 0


def test_decode_finds_the_consent_cookie_anywhere_in_a_pasted_header(capsys: Capsys) -> None:
    pasted = f"other=1; cg_consent={consent_value()}; lang=en"
    assert main(["decode", pasted, "--secret", SECRET]) == 0
    assert "id:       abc123" in capsys.readouterr().out


def test_decode_of_a_signed_payload_with_an_absurd_time_says_invalid(capsys: Capsys) -> None:
    from consentguard.consent import SALT

    value = URLSafeSerializer(SECRET, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
                              ).dumps({"i": "x", "t": 10**13, "a": {}, "d": [], "v": None})
    assert main(["decode", value, "--secret", SECRET]) == 1  # not a traceback
    assert capsys.readouterr().out.startswith("invalid:")


@pytest.mark.parametrize("payload", [
    pytest.param({"a": {"analytics": 1}}, id="revision-not-str"),
    pytest.param({"a": {}, "d": [1]}, id="refused-not-str"),
    pytest.param({"v": 2026}, id="version-not-str"),
])
def test_decode_reads_the_payload_as_the_guard_does(payload: dict[str, Any],
                                                    capsys: Capsys) -> None:
    # decode called these valid while the guard saw no consent in them.
    from consentguard.consent import SALT

    full = {"i": "x", "t": int(time.time()), "a": {}, "d": [], "v": None, **payload}
    value = URLSafeSerializer(SECRET, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
                              ).dumps(full)
    assert ConsentGuard(make_registry(), secret_key=SECRET).decode_consent(value) is None
    assert main(["decode", value, "--secret", SECRET]) == 1
    assert capsys.readouterr().out.startswith("invalid: signed with the key, but not a consent")


@pytest.mark.parametrize("value", [
    pytest.param("nonsense", id="garbage"),
    pytest.param(consent_value()[:-3], id="truncated"),
    pytest.param(consent_value().replace(".", ".x", 1), id="tampered"),
])
def test_decode_invalid_values_exit_1(value: str, capsys: Capsys) -> None:
    assert main(["decode", value, "--secret", SECRET]) == 1
    assert capsys.readouterr().out.startswith("invalid:")


def test_decode_with_rotated_keys_and_wrong_key(capsys: Capsys) -> None:
    value = consent_value()
    assert main(["decode", value, "--secret", "wrong-key"]) == 1
    assert main(["decode", value, "--secret", "new-key", "--secret", SECRET]) == 0


def test_decode_without_a_key_or_with_bad_options_exits_2(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capsys) -> None:
    monkeypatch.delenv(cli.SECRET_ENV, raising=False)
    assert main(["decode", "x"]) == 2
    assert "no key" in capsys.readouterr().err
    assert main(["decode", "x", "-s", SECRET, "--max-age", "0"]) == 2
    assert main(["decode", "x", "-s", SECRET, "-r", str(tmp_path / "none.toml")]) == 2
    broken = write_file(tmp_path, "[[", "broken.toml")
    assert main(["decode", consent_value(), "-s", SECRET, "-r", broken]) == 1


# -- log, demo, audit -------------------------------------------------------------------------


def test_log_export_delegates_to_the_log_module(tmp_path: Path, capsys: Capsys) -> None:
    db = tmp_path / "consent.db"
    log = SQLiteConsentLog(db)
    log(ConsentRecord(consent_id="c1", timestamp=datetime(2026, 1, 2, tzinfo=timezone.utc),
                      action="accept_all", accepted=("analytics",), refused=(),
                      registry_version="v1"))
    log.close()
    assert main(["log", "export", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["consent_id"] == "c1"
    assert main(["log", "export", str(tmp_path / "none.db")]) == 2


def test_a_missing_command_module_is_one_clear_line_and_exit_2(
        monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    monkeypatch.setitem(sys.modules, "consentguard.demo", None)
    assert main(["demo"]) == 2
    assert capsys.readouterr().err == (
        "consentguard demo: not available in this installation (consentguard.demo is "
        "missing).\n")


def test_a_command_whose_dependency_is_missing_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Capsys) -> None:
    (tmp_path / "cg_fake_demo.py").write_text("import cg_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli._PLUGINS, "demo", ("cg_fake_demo", "run the demo site", "demo"))
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "needs the package 'cg_no_such_dependency'" in err
    assert "pip install 'consentguard-middleware[demo]'" in err


def test_the_real_demo_without_its_server_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    # The demo module imports no framework (so the command loads cheaply): it finds the
    # missing server itself, and answers as the command does for a missing dependency.
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["demo", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "needs the package 'uvicorn'" in err
    assert "pip install 'consentguard-middleware[demo]'" in err


def test_audit_app_that_cannot_be_imported_exits_2(capsys: Capsys) -> None:
    assert main(["audit", "cg_no_such_module_anywhere:app"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("consentguard audit:") and err.count("\n") == 1
