"""``python -m benchmarks.breakdown``: where a guarded request's time goes, step by step.

Each step of the guard's work is timed on its own, interleaved with whole requests on
the raw ASGI app (bare, behind a no-op send wrapper, and guarded), with the harness of
:mod:`benchmarks.harness`. What the steps do not cover is the adapter's own work:
reading the request headers, the state dict, the ``send`` wrapper, copying the start
message. Inputs are those of the main benchmark: a returning visitor (warm), a new
consent value each request (cold), or the same consent with every other cookie and
Set-Cookie value new (busy site).

Options: ``--repetitions N`` (default 15), ``--sample-ms MS`` (default 12).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from consentguard import ConsentGuard

from . import apps, fixtures, harness, suite
from .harness import Settings, Variant, asgi_runner

POOL = 8192  # distinct consent values / cookie variants: more than any cache holds


def _step(label: str, call: Callable[[Any], object], inputs: Iterable[Any]) -> Variant:
    """A variant calling ``call`` on ``inputs`` in turn (cycled), ``n`` times per sample."""
    cycle = itertools.cycle(inputs) if isinstance(inputs, Sequence) else iter(inputs)

    def run(n: int) -> int:
        chunk = list(itertools.islice(cycle, n))  # (made before the clock starts)
        start = time.perf_counter_ns()
        for item in chunk:
            call(item)
        return time.perf_counter_ns() - start

    return Variant(label, run)


def cold_guard(pool: int) -> ConsentGuard:
    """A fresh guard remembering fewer values than ``pool``: cycling through ``pool``
    values, every request finds its value forgotten (least recently used goes first)."""
    guard = fixtures.make_guard()
    guard.cache_size = min(guard.cache_size, max(pool // 2, 1))
    return guard


def _never_seen_responses() -> Iterable[list[tuple[bytes, bytes]]]:
    """Response header lists that never repeat (a cycle would be remembered when it
    came round again, which a busy site's per-visitor values never are)."""
    for i in itertools.count():
        yield fixtures.response_headers(variant=i % 1_000_000)


def variants(loop: asyncio.AbstractEventLoop, pool: int = POOL) -> list[Variant]:
    ctx = suite.Context.build(loop, cold_pool=pool)
    host = fixtures.HOST
    raw = apps.raw_asgi()
    # A guard per step: one step's values must not be left in another's caches.
    warm_guard, busy_guard = fixtures.make_guard(), fixtures.make_guard()
    verify_guard, decode_guard, decide_guard = (cold_guard(pool) for _ in range(3))
    headers = fixtures.response_headers()
    warm = warm_guard.decide(ctx.warm_cookie, host=host, path="/")
    warm.filter_raw_headers(headers)
    warm.filter_raw_headers(headers)  # (a header list is remembered when it comes again)
    busy = busy_guard.decide(ctx.warm_cookie, host=host, path="/")
    return [
        Variant("request: bare", asgi_runner(raw, ctx.scopes(), loop)),
        Variant("request: + no-op send wrapper",
                asgi_runner(apps.NoopASGIWrapper(raw), ctx.scopes(), loop)),
        Variant("request: + consentguard, warm",
                asgi_runner(apps.with_guard(raw, fixtures.make_guard()), ctx.scopes(), loop)),
        Variant("request: + consentguard, cold",
                asgi_runner(apps.with_guard(raw, cold_guard(pool)), ctx.cold_scopes(), loop)),
        _step("warm: decide (remembered)",
              lambda c: warm_guard.decide(c, host=host, path="/"), [ctx.warm_cookie]),
        _step("warm: filter the response (remembered)", warm.filter_raw_headers, [headers]),
        _step("cold: verify the signature and read the payload", verify_guard.codec.verify,
              ctx.cold_values),
        _step("cold: decode the consent (verify, Consent, cache)",
              decode_guard.codec.decode_window, ctx.cold_values),
        _step("cold: decide (the above, then the Cookie header)",
              lambda c: decide_guard.decide(c, host=host, path="/"), ctx.cold_cookies),
        _step("busy: decide (consent known, other cookies new)",
              lambda c: busy_guard.decide(c, host=host, path="/"), ctx.varied_cookies),
        _step("busy: filter a response never seen", busy.filter_raw_headers,
              _never_seen_responses()),
    ]


def report(measured: Sequence[Variant]) -> list[str]:
    by_label = {v.label: harness.median(v.samples) for v in measured}
    lines = ["| step | µs |", "|---|---:|"]
    lines += [f"| {label} | {ns / 1000:.2f} |" for label, ns in by_label.items()]
    bare, noop = by_label["request: bare"], by_label["request: + no-op send wrapper"]
    warm = by_label["request: + consentguard, warm"] - bare
    steps = (by_label["warm: decide (remembered)"]
             + by_label["warm: filter the response (remembered)"])
    lines += [
        "",
        f"Warm request: {warm / 1000:.2f} µs added = no-op wrapper {(noop - bare) / 1000:.2f} + "
        f"decide and filter {steps / 1000:.2f} + the adapter's own work "
        f"{(warm - (noop - bare) - steps) / 1000:.2f}.",
    ]
    cold = by_label["request: + consentguard, cold"] - bare
    decode = by_label["cold: decode the consent (verify, Consent, cache)"]
    lines.append(
        f"Cold request: {cold / 1000:.2f} µs added, of which decoding the consent value "
        f"{decode / 1000:.2f} ({decode / cold:.0%}); without it, {(cold - decode) / 1000:.2f}.")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.breakdown",
                                     description=__doc__)
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--sample-ms", type=float, default=12.0)
    args = parser.parse_args(argv)
    logging.getLogger("consentguard").setLevel(logging.ERROR)  # the undeclared cookie, once
    loop = asyncio.new_event_loop()
    try:
        measured = variants(loop)
        harness.measure(measured, Settings(repetitions=args.repetitions,
                                           sample_ms=args.sample_ms))
    finally:
        loop.close()
    print("\n".join(report(measured)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
