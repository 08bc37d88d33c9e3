"""A real server under load on 127.0.0.1, driven by ``wrk`` for a few seconds.

Two server processes (bare app, app + consentguard) run side by side; wrk runs against
one then the other, alternately, so both see the same machine state. On a 2-core machine
the server (one process) and wrk (one thread) each get a core. Two servers are measured:
uvicorn with the small Starlette app (ASGI), and gunicorn with the small Flask app (WSGI).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import fixtures

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    """How to start one kind of server on the bare and the guarded app."""

    name: str
    title: str  # for the report
    module: str  # what ``python -m`` runs
    targets: tuple[str, str]  # the bare and the guarded app, as ``module:attribute``
    options: tuple[str, ...]

    def command(self, target: str, port: int) -> list[str]:
        bind = (["--host", "127.0.0.1", "--port", str(port)] if self.name == "uvicorn"
                else ["--bind", f"127.0.0.1:{port}"])
        return [sys.executable, "-m", self.module, target, *bind, *self.options]

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


UVICORN = Server(
    "uvicorn", "uvicorn (1 process) on 127.0.0.1 under wrk, small Starlette app", "uvicorn",
    ("benchmarks.serve:bare", "benchmarks.serve:guarded"),
    ("--log-level", "warning", "--no-access-log"))
# One worker, as uvicorn has one process; gthread keeps connections alive, as wrk's are
# (a sync worker closes each one, and the TCP set-up would then hide the app's cost).
GUNICORN = Server(
    "gunicorn", "gunicorn (1 worker, gthread, 2 threads) on 127.0.0.1 under wrk, small "
    "Flask app", "gunicorn",
    ("benchmarks.serve:flask_bare", "benchmarks.serve:flask_guarded"),
    ("--workers", "1", "--worker-class", "gthread", "--threads", "2", "--keep-alive", "5",
     "--log-level", "warning"))
SERVERS = (UVICORN, GUNICORN)


@dataclass
class ServerResult:
    label: str
    rps: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    errors: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, process: subprocess.Popen[bytes], name: str,
                timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except urllib.error.HTTPError as exc:  # it answers, wrongly: no use waiting
            raise RuntimeError(f"{name} on port {port} answered {exc.code}") from exc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} on port {port} did not answer within {timeout:.0f} s")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _parse(output: str) -> tuple[float, float, int]:
    rps = re.search(r"Requests/sec:\s*([\d.]+)", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s*(\d+)", r"Socket errors:.*?(\d+)"):
        found = re.search(pattern, output)
        if found:
            errors += int(found.group(1))
    return float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], errors


def run(kind: Server = UVICORN, *, duration: int = 3, rounds: int = 4,
        connections: int = 16) -> list[ServerResult]:
    """Alternate wrk runs against the bare and the guarded server; raw results per run.

    :raises FileNotFoundError: when ``wrk`` or the server is not installed.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    if not kind.available():
        raise FileNotFoundError(f"{kind.name} is not installed "
                                "(pip install -e '.[test]')")
    guard = fixtures.make_guard()
    cookie = fixtures.cookie_header(guard.encode_consent(fixtures.ACCEPTED))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    servers: list[tuple[ServerResult, int, subprocess.Popen[bytes]]] = []
    try:
        for label, target in zip(("bare", "+ consentguard"), kind.targets, strict=True):
            port = _free_port()
            process = subprocess.Popen(kind.command(target, port), cwd=ROOT, env=env)
            servers.append((ServerResult(label), port, process))
        for _, port, process in servers:
            _wait_ready(port, process, kind.name)
        command = [wrk, "-t1", f"-c{connections}", "--latency", "-H", f"Cookie: {cookie}",
                   "-H", f"Host: {fixtures.HOST}"]
        for _, port, _ in servers:  # warm-up: imports, caches, connection set-up
            _wrk([*command, "-d1s", f"http://127.0.0.1:{port}/"], 1)
        for rnd in range(rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for result, port, _ in order:
                output = _wrk([*command, f"-d{duration}s", f"http://127.0.0.1:{port}/"],
                              duration)
                rps, p99, errors = _parse(output)
                result.rps.append(rps)
                result.p99_ms.append(p99)
                result.errors += errors
    finally:
        stop([process for _, _, process in servers])
    return [result for result, _, _ in servers]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop server processes: all asked at once, any still there after 10 s killed."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wrk(command: list[str], duration: int) -> str:
    """wrk's report; :class:`RuntimeError` with what wrk said when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def summary(results: list[ServerResult]) -> tuple[float, float]:
    """(median of the per-round req/s ratios guarded/bare, median p99 ratio)."""
    bare, guarded = results
    rps = statistics.median(g / b for g, b in zip(guarded.rps, bare.rps, strict=True))
    p99 = statistics.median(g / b for g, b in zip(guarded.p99_ms, bare.p99_ms, strict=True))
    return rps, p99
