"""``python -m benchmarks.compare`` keeps working: it is how hot-path changes are timed.

A smoke run against this very commit, with tiny pools and samples: the numbers mean
nothing here, only that both versions import side by side and every case runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs a git checkout of the project")
def test_compare_runs_against_a_commit() -> None:
    script = ("import benchmarks.compare as c; c.POOL = 32; "
              "raise SystemExit(c.main(['HEAD', '--repetitions', '2', '--sample-ms', '1']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| case")]
    assert [row.split("|")[1].strip() for row in rows] == [
        "asgi warm", "asgi cold", "asgi busy", "wsgi warm", "wsgi cold", "wsgi busy"]
