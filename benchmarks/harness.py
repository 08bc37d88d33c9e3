"""Timing: variants measured side by side, interleaved, repeated; medians and paired ratios.

Each *sample* runs one variant for many requests and records nanoseconds per request
(``time.perf_counter_ns`` around each chunk of requests, built before it starts).
Samples are interleaved — every repetition runs each variant once, the order rotated
each time so no variant always runs first — and a ratio is taken per repetition
against the baseline measured right next to it. The reported numbers are medians over
repetitions: one slow sample (a context switch on a 2-core machine) moves a median
little and a ratio of neighbours less.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
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
#
# Every request is built from fresh objects, as a server builds them from the bytes it
# read: a reused ``bytes``/``str`` carries its cached hash and would flatter any memo.
# Requests are built in chunks before the clock starts for each chunk, so building them
# costs no variant anything; the app builds its response inside the clock, as apps do.

CHUNK = 128  # requests built, then timed, at a time
Requests = Callable[[int], Any]  # the i-th request (i counts up, never repeats)

_REQUEST: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _REQUEST


async def _send(message: Message) -> None:
    return None


def chunks(requests: Requests, n: int, counter: Iterator[int]) -> Iterator[list[Any]]:
    while n > 0:
        chunk = [requests(next(counter)) for _ in range(min(n, CHUNK))]
        n -= len(chunk)
        yield chunk


def asgi_runner(app: ASGIApp, requests: Requests, loop: asyncio.AbstractEventLoop) -> Runner:
    """Call ``app`` directly, in one event loop, on scopes ``requests`` builds.

    Receive and send are trivial coroutines. The request count carries on from sample
    to sample: a cold or busy variant never meets its own early requests again.
    """
    counter = itertools.count()

    async def drive(n: int) -> int:
        receive, send = _receive, _send
        elapsed = 0
        for scopes in chunks(requests, n, counter):
            start = time.perf_counter_ns()
            for scope in scopes:
                await app(scope, receive, send)
            elapsed += time.perf_counter_ns() - start
        return elapsed

    def run(n: int) -> int:
        return loop.run_until_complete(drive(n))

    return run


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def wsgi_runner(app: WSGIApplication, requests: Requests) -> Runner:
    """Call ``app(environ, start_response)`` on environs ``requests`` builds, consuming
    and closing the body."""
    start_response: Any = _start_response
    counter = itertools.count()

    def run(n: int) -> int:
        elapsed = 0
        for environs in chunks(requests, n, counter):
            start = time.perf_counter_ns()
            for environ in environs:
                body = app(environ, start_response)
                for _ in body:
                    pass
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            elapsed += time.perf_counter_ns() - start
        return elapsed

    return run


_BROWSER_HEADERS = (
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("connection", "keep-alive"),
    ("upgrade-insecure-requests", "1"),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
)


def _header_list(cookie: str | None, host: str) -> list[tuple[str, str]]:
    headers = [("host", host), *_BROWSER_HEADERS]
    if cookie is not None:
        headers.append(("cookie", cookie))
    return headers


def asgi_scope(cookie: str | None, host: str) -> dict[str, Any]:
    """A browser's GET / as an ASGI HTTP scope; every header a new ``bytes`` object
    (``encode`` makes one, as a server's parser does; one-byte values are CPython's
    shared singletons, for a server too)."""
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
        "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in _header_list(cookie, host)],
        "client": ("203.0.113.7", 51234),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def _fresh(text: str) -> str:
    """A new ``str`` equal to ``text`` (``text + ""`` or ``text[:]`` would be ``text``)."""
    return text.encode("latin-1").decode("latin-1")


@functools.cache
def _environ_template(host: str) -> tuple[tuple[str, Any], ...]:
    from werkzeug.test import EnvironBuilder

    headers = [(k, v) for k, v in _header_list(None, host) if k != "host"]
    builder = EnvironBuilder(path="/", method="GET", headers=headers,
                             base_url=f"https://{host}/")
    try:
        return tuple(builder.get_environ().items())
    finally:
        builder.close()


def wsgi_environ(cookie: str | None, host: str) -> WSGIEnvironment:
    """The same request as a WSGI environ, its ``HTTP_*`` keys and every text value new
    objects (a server builds ``"HTTP_" + name`` per request)."""
    environ: dict[str, Any] = {
        (_fresh(k) if k.startswith("HTTP_") else k): (_fresh(v) if isinstance(v, str) else v)
        for k, v in _environ_template(host)}
    if cookie is not None:
        environ[_fresh("HTTP_COOKIE")] = _fresh(cookie)
    return environ
