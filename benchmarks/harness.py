"""Timing: variants measured side by side, interleaved, repeated; medians and paired ratios.

Each *sample* runs one variant for many requests and records nanoseconds per request
(``time.perf_counter_ns`` around the whole loop). Samples are interleaved — every
repetition runs each variant once, the order rotated each time so no variant always
runs first — and a ratio is taken per repetition against the baseline measured right
next to it. The reported numbers are medians over repetitions: one slow sample (a
context switch on a 2-core machine) moves a median little and a ratio of neighbours less.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from .apps import ASGIApp, Message

Runner = Callable[[int], int]  # run n requests, return the elapsed nanoseconds


@dataclass
class Variant:
    """One thing to time: ``run(n)`` serves ``n`` requests and returns nanoseconds."""

    label: str
    run: Runner
    iterations: int = 0
    samples: list[float] = field(default_factory=list)  # ns per request, one per repetition


@dataclass(frozen=True)
class Settings:
    """How hard to measure: repetitions per group and the length of each sample."""

    repetitions: int = 21
    sample_ms: float = 12.0


def measure(variants: Sequence[Variant], settings: Settings) -> None:
    """Fill each variant's ``samples``: calibrate, then interleave repetitions."""
    for variant in variants:
        variant.run(200)  # warm up: caches, lazy imports, specialised bytecode
        elapsed = max(variant.run(200), 1)
        per_request = elapsed / 200
        variant.iterations = max(100, int(settings.sample_ms * 1e6 / per_request))
    for rep in range(settings.repetitions):
        shift = rep % len(variants)
        for variant in (*variants[shift:], *variants[:shift]):
            gc.collect()
            variant.samples.append(variant.run(variant.iterations) / variant.iterations)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def ratios(variant: Variant, baseline: Variant) -> list[float]:
    """Per-repetition ratios variant/baseline (paired: measured next to each other)."""
    return [a / b for a, b in zip(variant.samples, baseline.samples, strict=True)]


def added(variant: Variant, baseline: Variant) -> list[float]:
    """Per-repetition differences variant - baseline, in nanoseconds."""
    return [a - b for a, b in zip(variant.samples, baseline.samples, strict=True)]


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


# -- drivers ------------------------------------------------------------------------------

_REQUEST: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _REQUEST


async def _send(message: Message) -> None:
    return None


def asgi_runner(app: ASGIApp, scopes: Sequence[Mapping[str, Any]],
                loop: asyncio.AbstractEventLoop) -> Runner:
    """Call ``app`` directly, in one event loop, cycling through prebuilt ``scopes``.

    Each request gets a fresh shallow copy of its scope with an empty ``state`` dict,
    as uvicorn gives one; receive and send are trivial coroutines.
    """
    count = len(scopes)
    position = [0]  # where the last sample stopped: cold requests never repeat early

    async def drive(n: int) -> int:
        receive, send = _receive, _send
        first = position[0]
        start = time.perf_counter_ns()
        for i in range(first, first + n):
            scope: MutableMapping[str, Any] = {**scopes[i % count], "state": {}}
            await app(scope, receive, send)
        elapsed = time.perf_counter_ns() - start
        position[0] = (first + n) % count
        return elapsed

    def run(n: int) -> int:
        return loop.run_until_complete(drive(n))

    return run


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def wsgi_runner(app: WSGIApplication, environs: Sequence[WSGIEnvironment]) -> Runner:
    """Call ``app(environ, start_response)`` directly, consuming and closing the body."""
    count = len(environs)
    start_response: Any = _start_response
    position = [0]

    def run(n: int) -> int:
        first = position[0]
        start = time.perf_counter_ns()
        for i in range(first, first + n):
            body = app(dict(environs[i % count]), start_response)
            for _ in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter_ns() - start
        position[0] = (first + n) % count
        return elapsed

    return run


def asgi_scope(cookie: str | None, host: str) -> dict[str, Any]:
    """A browser's GET / as an ASGI HTTP scope."""
    headers = [
        (b"host", host.encode()),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"accept-language", b"en-GB,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"connection", b"keep-alive"),
        (b"upgrade-insecure-requests", b"1"),
        (b"sec-fetch-dest", b"document"),
        (b"sec-fetch-mode", b"navigate"),
    ]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.7", 51234),
        "server": ("127.0.0.1", 8000),
    }


def wsgi_environ(cookie: str | None, host: str) -> WSGIEnvironment:
    """The same request as a WSGI environ."""
    from werkzeug.test import EnvironBuilder

    scope = asgi_scope(cookie, host)
    headers = [(k.decode(), v.decode("latin-1")) for k, v in scope["headers"]]
    builder = EnvironBuilder(path="/", method="GET", headers=headers,
                             base_url=f"https://{host}/")
    try:
        environ: WSGIEnvironment = builder.get_environ()
    finally:
        builder.close()
    return environ
