"""The benchmark runner keeps measuring what the performance page's figures quote.

Smoke runs with tiny samples: the numbers mean nothing here, only that each table and
row is produced, and that the real servers compare the bare app with the guarded one.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from benchmarks import apps, breakdown, fixtures, harness, memory, server, suite

ROOT = Path(__file__).resolve().parent.parent

# What wrk 4 prints with --latency (a real run, against a static file server).
WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:8765/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.06ms    1.41ms   9.55ms   62.38%
    Req/Sec   488.64     24.26   555.00     81.82%
  Latency Distribution
     50%    4.34ms
     75%    4.80ms
     90%    5.79ms
     99%    7.39ms
  535 requests in 1.10s, 6.90MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    486.78
Transfer/sec:      6.28MB
"""


def test_the_report_names_each_target_with_its_ratio_and_verdict() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "asgi-raw,flask",
         "--no-server", "--repetitions", "2", "--sample-ms", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()
            if line.startswith("| ")}
    # (the smoke run's ratios are noise: only their form is checked)
    verdict = r"\| (yes|\*\*no\*\*) \|$"
    for target in ("busy: added cost ≤ 0.30× SessionMiddleware's (raw ASGI app)",
                   "cold: added cost ≤ 0.50× SessionMiddleware's (raw ASGI app)",
                   "warm: added cost ≤ 3.00× the no-op wrapper's (raw ASGI app)"):
        assert (re.search(r"\| -?\d+\.\d\d× \(-?[\d.]+ µs vs [\d.]+ µs\) " + verdict,
                          rows[target])
                or "not measurable" in rows[target]), rows[target]
    flask = rows["warm, small Flask app: ≤ 1.03× bare"]
    assert re.search(r"\d\.\d{3}× \(no-op wrapper: -?\d\.\d{3}×; Flask session", flask)
    assert re.search(verdict, flask)
    for label in ("bare", "+ no-op send wrapper", suite.WARM, suite.COLD, suite.BUSY,
                  suite.SESSION, "+ no-op start_response wrapper", "+ Flask session"):
        assert label in rows, label
    # The commit measured is named (this checkout's), with or without local changes.
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    if head:
        assert f"- code: commit {head}" in done.stdout
    # Both real servers have a target row, marked as not run.
    for name in ("uvicorn + wrk (ASGI)", "gunicorn + wrk (WSGI)"):
        row = rows[f"{name}: req/s with consentguard ≥ 0.95× bare"]
        assert "not run" in row


def test_wrk_output_is_read() -> None:
    assert server._parse(WRK_OUTPUT) == (486.78, 7.39, 3)
    with pytest.raises(RuntimeError, match="cannot read wrk's output"):
        server._parse("connection refused")


@pytest.mark.parametrize("kind", server.SERVERS, ids=lambda kind: kind.name)
def test_each_real_server_compares_the_bare_app_with_the_guarded_one(
        kind: server.Server) -> None:
    guard = fixtures.make_guard()
    cookie = fixtures.cookie_header(guard.encode_consent(fixtures.ACCEPTED))
    answers = []
    if not kind.available():
        pytest.skip(f"{kind.name} is not installed (pip install -e '.[test]')")
    for target in kind.targets:
        port = server._free_port()
        process = subprocess.Popen(kind.command(target, port), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server._wait_ready(port, process, kind.name)
            request = urllib.request.Request(f"http://127.0.0.1:{port}/",
                                             headers={"Cookie": cookie, "Host": fixtures.HOST})
            with urllib.request.urlopen(request, timeout=10) as response:
                answers.append([value.split("=", 1)[0]
                                for value in response.headers.get_all("Set-Cookie") or []])
        finally:
            server.stop([process])
    bare, guarded = answers
    # The fixture's response: the marketing cookie and the undeclared one are refused.
    assert "_fbp" in bare and "tracker_xyz" in bare
    assert "_fbp" not in guarded and "tracker_xyz" not in guarded
    assert "_ga" in guarded and "session" in guarded


def test_the_memory_figure_counts_what_the_guard_keeps() -> None:
    per_visitor, length = memory.held_per_visitor(64)
    # The verified consent value and what it decodes to: no Cookie header is kept.
    assert 200 < per_visitor < 4 * 1024, per_visitor
    # Nor is any of the costliest 8 KiB headers a client can send.
    for shape in memory.SHAPES:
        largest, length = memory.held_per_visitor(64, shape=shape)
        assert memory.LONGEST - 300 < length <= memory.LONGEST, shape
        assert largest < length / 2, shape


def test_the_breakdown_times_every_step_and_its_cold_steps_stay_cold(
        verified: list[str]) -> None:
    loop = asyncio.new_event_loop()
    try:
        measured = breakdown.variants(loop, pool=64)  # (far fewer values than a cache holds)
        by_label = {variant.label: variant for variant in measured}
        for label in ("cold: decode the consent value",
                      "cold: decide (decode, then the Cookie header)"):
            verified.clear()
            by_label[label].run(200)
            assert len(verified) == 200, label  # each value found forgotten: a miss
        harness.measure(measured, harness.Settings(repetitions=2, sample_ms=1))
    finally:
        loop.close()
    lines = breakdown.report(measured)
    steps = [line.split("|")[1].strip() for line in lines if line.startswith("| ")][1:]
    assert steps == [variant.label for variant in measured] and len(steps) == 17
    assert all(variant.samples for variant in measured)
    for kind in ("Warm", "Busy", "Cold"):
        assert any(line.startswith(f"{kind} request:") for line in lines), kind


class _Recorder:
    """An ASGI app keeping every request's Cookie header and every response's
    Set-Cookie values it passes on (kept: an object freed could lend its id)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: list[bytes] = []
        self.set_cookies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.cookies += [v for k, v in scope["headers"] if k == b"cookie"]

        async def recording(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.set_cookies += [v for k, v in message["headers"] if k == b"set-cookie"]
            await send(message)

        await self.app(scope, receive, recording)


def _distinct_objects(values: list[Any]) -> bool:
    return len({id(v) for v in values}) == len(values)


@pytest.mark.parametrize("kind", ["warm", "cold", "busy"])
def test_every_request_and_response_is_made_of_new_objects(kind: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        ctx = suite.Context.build(loop, cold_pool=64)
        recorder = _Recorder(apps.raw_asgi(varied=kind == "busy"))
        run = harness.asgi_runner(recorder, lambda i: harness.asgi_scope(
            getattr(ctx, kind)(i), fixtures.HOST), loop)
        run(100)
        run(100)  # (a second sample carries on: its requests are new too)
    finally:
        loop.close()
    cookies, set_cookies = recorder.cookies, recorder.set_cookies
    assert len(cookies) == 200 and len(set_cookies) == 200 * 7
    # Equal or not, no request reuses an object a server would have made afresh.
    assert _distinct_objects(cookies) and _distinct_objects(set_cookies)
    if kind == "warm":
        assert len(set(cookies)) == 1 and len(set(set_cookies)) == 7
    else:  # cold: a new consent value each request; busy: all other values new
        assert len(set(cookies)) == 64 if kind == "cold" else 200
    if kind == "busy":
        assert len(set(set_cookies)) == 200 * 7
        consent = {c.split(b"cg_consent=")[1] for c in cookies}
        assert consent == {ctx.warm_value.encode()}


def test_wsgi_requests_and_responses_are_new_objects_too() -> None:
    seen: list[Any] = []
    raw = apps.raw_wsgi(varied=True)

    def recorder(environ: Any, start_response: Any) -> Any:
        def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.extend(v for k, v in headers if k == "Set-Cookie")
            return start_response(status, headers)

        seen.append(environ["HTTP_COOKIE"])
        return raw(environ, recording)

    loop = asyncio.new_event_loop()
    try:
        ctx = suite.Context.build(loop, cold_pool=64)
    finally:
        loop.close()
    harness.wsgi_runner(recorder, lambda i: harness.wsgi_environ(ctx.busy(i), fixtures.HOST))(150)
    assert len(seen) == 150 * 8 and len(set(seen)) == len(seen)
    assert _distinct_objects(seen)


def test_the_session_reference_decodes_a_valid_session_on_every_request() -> None:
    loaded: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        loaded.append(dict(scope["session"]))
        await apps.raw_asgi()(scope, receive, send)

    loop = asyncio.new_event_loop()
    try:
        ctx = suite.Context.build(loop, cold_pool=64)
        harness.asgi_runner(apps.with_session(app), lambda i: harness.asgi_scope(
            ctx.busy(i), fixtures.HOST), loop)(suite.SESSIONS + 10)
    finally:
        loop.close()
    assert all(session["cart"] == [1, 2, 3] for session in loaded)
    assert {session["uid"] for session in loaded} == set(range(suite.SESSIONS))
