"""The benchmark runner keeps measuring what README's figures quote.

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

from benchmarks import breakdown, fixtures, harness, memory, server, suite
from consentguard.consent import ConsentCodec
from consentguard.guard import Decision

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


def test_the_report_shows_each_framework_floor_next_to_its_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "flask", "--no-server",
         "--repetitions", "2", "--sample-ms", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()
            if line.startswith("| ")}
    # (the smoke run's ratios are noise: only their form is checked)
    floor = rows["warm, small Flask app: ≤ 1.03× bare"]
    assert re.search(r"no-op wrapper: \d\.\d{3}×", floor)
    for label in ("bare", "+ no-op start_response wrapper", "+ consentguard, warm",
                  "+ consentguard, cold", "+ Flask session"):
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
    # At least each remembered Cookie header itself; far from the benchmark's 8 KiB bound.
    assert length < per_visitor < 8 * 1024
    # Each worst case holds the longest remembered header, and never more than a small
    # multiple of it (the review's tiny undeclared pairs cost 25 times it).
    for shape in memory.SHAPES:
        largest, length = memory.held_per_visitor(64, shape=shape)
        assert memory.LONGEST - 300 < length <= memory.LONGEST, shape
        assert length < largest < 4 * memory.LONGEST, shape


def test_the_breakdown_times_every_step_and_its_cold_steps_stay_cold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    verify = ConsentCodec.verify

    def counting(codec: ConsentCodec, value: str) -> Any:
        verified.append(value)
        return verify(codec, value)

    monkeypatch.setattr(ConsentCodec, "verify", counting)
    loop = asyncio.new_event_loop()
    try:
        measured = breakdown.variants(loop, pool=64)  # (far fewer values than a cache holds)
        by_label = {variant.label: variant for variant in measured}
        for label in ("cold: decode the consent (verify, Consent, cache)",
                      "cold: decide (the above, then the Cookie header)"):
            verified.clear()
            by_label[label].run(200)
            assert len(verified) == 200, label  # each value found forgotten: a miss
        harness.measure(measured, harness.Settings(repetitions=2, sample_ms=1))
    finally:
        loop.close()
    lines = breakdown.report(measured)
    steps = [line.split("|")[1].strip() for line in lines if line.startswith("| ")][1:]
    assert steps == [variant.label for variant in measured] and len(steps) == 11
    assert all(variant.samples for variant in measured)
    assert any(line.startswith("Warm request:") for line in lines)
    assert any(line.startswith("Cold request:") for line in lines)




@pytest.mark.parametrize("group", [suite.asgi_raw, suite.wsgi_raw], ids=["asgi", "wsgi"])
def test_the_busy_site_rows_never_meet_a_response_again(
        group: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    worked_out = [0]
    filter_headers = Decision._filter_headers

    def counting(self: Decision, *args: Any) -> Any:
        worked_out[0] += 1
        return filter_headers(self, *args)

    monkeypatch.setattr(Decision, "_filter_headers", counting)
    loop = asyncio.new_event_loop()
    try:
        variants = group(suite.Context.build(loop)).variants
        bare = next(v for v in variants if v.label == "bare, other cookies new each request")
        busy = next(v for v in variants if v.label == suite.VARIED)
        for _ in range(3):  # the bare rows run thousands of requests a sample meanwhile
            busy.run(100)
            bare.run(suite.COLD_POOL - 100)
        worked_out[0] = 0
        busy.run(100)
    finally:
        loop.close()
    assert worked_out[0] == 100  # each response worked out afresh: none remembered
