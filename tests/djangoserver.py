"""Run the test Django project (tests/djangoproject) under a real server in a subprocess."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

DJANGO_PROJECT = Path(__file__).resolve().parent / "djangoproject"

COMMANDS = {
    "gunicorn": ["-m", "gunicorn", "cgsite.wsgi:application", "--chdir", str(DJANGO_PROJECT),
                 "--workers", "1", "--log-level", "warning", "--bind"],
    "uvicorn": ["-m", "uvicorn", "cgsite.asgi:application", "--app-dir", str(DJANGO_PROJECT),
                "--log-level", "warning", "--host", "127.0.0.1", "--port"],
}


def project_env(database: Path) -> dict[str, str]:
    """The environment for the project, its SQLite database at ``database`` (migrated)."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["CGSITE_DB"] = str(database)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=DJANGO_PROJECT,
                   env=env, check=True, timeout=120)
    return env


@contextlib.contextmanager
def serve(name: str, env: dict[str, str], log: Path, *options: str) -> Iterator[int]:
    """Run the project under ``name`` (gunicorn or uvicorn, with ``options``) on a free
    port (yielded); :exc:`RuntimeError` with the server's output when it does not start."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    address = f"127.0.0.1:{port}" if name == "gunicorn" else str(port)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, *COMMANDS[name], address, *options], env=env,
                                   cwd=DJANGO_PROJECT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n"
                                       f"{log.read_text(errors='replace')}") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
