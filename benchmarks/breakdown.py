"""``python -m benchmarks.breakdown``: where a guarded request's time goes, step by step.

Each step of the guard's work is timed on its own, interleaved with whole requests on
the raw ASGI app (the rows of ``python -m benchmarks``' raw ASGI group: bare, a no-op send
wrapper, warm, cold, busy, SessionMiddleware), with the harness of
:mod:`benchmarks.harness`. Every step's input is built fresh for each call, as the
whole requests' are. What the steps do not cover is the adapter's own work: reading the
request headers, the state dict, the ``send`` wrapper, copying the start message.

Beside our steps, the floors they are judged against: a plain split of the same Cookie
header into a dict, a plain split of each Set-Cookie at ``=`` with a lookup of its name,
and Starlette's own session work (parse the Cookie header, verify and read the session).

Options: ``--repetitions N`` (default 15), ``--sample-ms MS`` (default 12).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from consentguard import ConsentGuard

from . import fixtures, harness, suite
from .harness import Settings, Variant

POOL = 8192  # distinct consent values: more than any cache holds
HOST = fixtures.HOST


def _step(label: str, call: Callable[[Any], object], make: harness.Requests) -> Variant:
    """A variant calling ``call`` on new inputs ``make(i)``, built before the clock."""
    counter = itertools.count()

    def run(n: int) -> int:
        elapsed = 0
        for chunk in harness.chunks(make, n, counter):
            start = time.perf_counter_ns()
            for item in chunk:
                call(item)
            elapsed += time.perf_counter_ns() - start
        return elapsed

    return Variant(label, run)


def cold_guard(pool: int) -> ConsentGuard:
    """A fresh guard remembering fewer values than ``pool``: cycling through ``pool``
    values, every request finds its value forgotten."""
    return fixtures.make_guard(cache_size=min(4096, max(pool // 2, 1)))


def _response(count: int = 7, *, varied: bool) -> Callable[[int], list[tuple[bytes, bytes]]]:
    """The i-th response's raw headers, new objects; (``varied``) its values new too."""
    parts = [(a.encode(), b.encode()) for a, b in fixtures.set_cookie_parts(count)]

    def make(i: int) -> list[tuple[bytes, bytes]]:
        number = b"%06d" % (i % 1_000_000 if varied else 0)
        return [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13"),
                *((b"set-cookie", name + number + rest) for name, rest in parts)]

    return make


def _plain_cookie_split(cookie: str) -> dict[str, str]:
    return {name: value for name, _, value in
            (pair.partition("=") for pair in cookie.split("; "))}


def _plain_set_cookie_lookup(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    known = _DECLARED
    return [(k, v) for k, v in headers
            if k != b"set-cookie" or v.split(b"=", 1)[0].decode("latin-1") in known]


_DECLARED = {c.name for c in fixtures.BASE_COOKIES}


def _session_work() -> Callable[[str], object]:
    """What SessionMiddleware does with a request: parse the Cookie header, verify the
    signed session (with its age), read its JSON."""
    from itsdangerous import TimestampSigner
    from starlette.requests import cookie_parser

    signer = TimestampSigner(fixtures.SESSION_SECRET)

    def work(cookie: str) -> object:
        data = cookie_parser(cookie)["session"].encode("utf-8")
        return json.loads(base64.b64decode(signer.unsign(data, max_age=14 * 24 * 3600)))

    return work


def _verify_floor() -> Callable[[str], object]:
    """The C calls reading a consent value cannot do without, and nothing else: its
    HMAC-SHA256 (the key's two SHA-256 states precomputed, RFC 2104), base64 of payload
    and signature, the JSON scanner. No checks, no ``Consent``, no memo."""
    from consentguard.consent import SALT

    key = hashlib.sha256(f"{SALT}signer{fixtures.SECRET}".encode()).digest().ljust(64, b"\0")
    inner_state = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer_state = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    urlsafe = bytes.maketrans(b"-_", b"+/")
    scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

    def work(value: str) -> object:
        payload, _, signature = value.encode("ascii").rpartition(b".")
        inner, outer = inner_state.copy(), outer_state.copy()
        inner.update(payload)
        outer.update(inner.digest())
        hmac.compare_digest(outer.digest(),
                            binascii.a2b_base64(signature.translate(urlsafe) + b"="))
        text = binascii.a2b_base64(payload.translate(urlsafe) + b"=" * (-len(payload) % 4))
        return scan(text.decode(), 0)

    return work


def variants(loop: asyncio.AbstractEventLoop, pool: int = POOL) -> list[Variant]:
    ctx = suite.Context.build(loop, cold_pool=pool)
    requests = suite.asgi_raw(ctx).variants
    for request in requests:
        request.label = f"request: {request.label}"
    warm_guard, busy_guard = fixtures.make_guard(), fixtures.make_guard()
    decode_guard, decide_guard = cold_guard(pool), cold_guard(pool)
    same, never_seen = _response(varied=False), _response(varied=True)
    warm = warm_guard.decide(ctx.warm(0), host=HOST, path="/")

    def new_value(i: int) -> str:
        value = ctx.cold_values[i % len(ctx.cold_values)]
        return fixtures.cookie_header(value, allowed=0).partition("=")[2]  # a new str

    busy = busy_guard.decide(ctx.warm(0), host=HOST, path="/")
    return [
        *requests,
        _step("warm: decide (same Cookie header)",
              lambda c: warm_guard.decide(c, host=HOST, path="/"), ctx.warm),
        _step("warm: filter the response (same headers)", warm.filter_raw_headers, same),
        _step("cold: decode the consent value", decode_guard.decode_consent, new_value),
        _step("floor: HMAC-SHA256, base64 and JSON of a consent value", _verify_floor(),
              new_value),
        _step("cold: decide (decode, then the Cookie header)",
              lambda c: decide_guard.decide(c, host=HOST, path="/"), ctx.cold),
        _step("busy: decode a remembered consent value", busy_guard.decode_consent,
              lambda i: fixtures.cookie_header(ctx.warm_value, allowed=0).partition("=")[2]),
        _step("busy: decide (consent known, other cookies new)",
              lambda c: busy_guard.decide(c, host=HOST, path="/"), ctx.busy),
        _step("busy: filter a response never seen", busy.filter_raw_headers, never_seen),
        _step("floor: plain split of the Cookie header into a dict", _plain_cookie_split,
              ctx.busy),
        _step("floor: plain split of each Set-Cookie and a name lookup",
              _plain_set_cookie_lookup, never_seen),
        _step("SessionMiddleware's work: parse the Cookie header, verify and read the session",
              _session_work(), ctx.busy),
    ]


def report(measured: Sequence[Variant]) -> list[str]:
    by_label = {v.label: harness.median(v.samples) for v in measured}
    lines = ["| step | µs |", "|---|---:|"]
    lines += [f"| {label} | {ns / 1000:.2f} |" for label, ns in by_label.items()]

    def us(ns: float) -> str:
        return f"{ns / 1000:.2f}"

    bare = by_label["request: bare"]
    noop = by_label["request: + no-op send wrapper"] - bare
    session = by_label[f"request: {suite.SESSION}"] - bare
    warm = by_label[f"request: {suite.WARM}"] - bare
    warm_steps = (by_label["warm: decide (same Cookie header)"]
                  + by_label["warm: filter the response (same headers)"])
    cold = by_label[f"request: {suite.COLD}"] - bare
    decode = by_label["cold: decode the consent value"]
    cold_decide = by_label["cold: decide (decode, then the Cookie header)"]
    verify_floor = by_label["floor: HMAC-SHA256, base64 and JSON of a consent value"]
    busy = by_label[f"request: {suite.BUSY}"] - bare
    busy_decide = by_label["busy: decide (consent known, other cookies new)"]
    remembered = by_label["busy: decode a remembered consent value"]
    busy_filter = by_label["busy: filter a response never seen"]
    floor = (by_label["floor: plain split of the Cookie header into a dict"]
             + by_label["floor: plain split of each Set-Cookie and a name lookup"])
    lines += [
        "",
        f"Warm request: {us(warm)} µs added ({warm / noop:.2f}× the no-op wrapper's "
        f"{us(noop)}; target ≤ 3×) = the no-op wrapper {us(noop)} + decide and filter "
        f"{us(warm_steps)} + the adapter's own work {us(warm - noop - warm_steps)}.",
        f"Busy request: {us(busy)} µs added ({busy / session:.2f}× SessionMiddleware's "
        f"{us(session)}; target ≤ 0.30×, i.e. {us(0.3 * session)}) = decide "
        f"{us(busy_decide)} + filter {us(busy_filter)} + the adapter's own work "
        f"{us(busy - busy_decide - busy_filter)}; a plain split of the Cookie header and "
        f"of each Set-Cookie costs {us(floor)}, the no-op wrapper {us(noop)}.",
        f"Cold request: {us(cold)} µs added ({cold / session:.2f}× SessionMiddleware's; "
        f"target ≤ 0.50×, i.e. {us(0.5 * session)}), of which decoding the consent value "
        f"{us(decode)} ({decode / cold:.0%}; its HMAC, base64 and JSON alone "
        f"{us(verify_floor)}) and deciding in all {us(cold_decide)}. The codec's memo "
        f"makes a remembered value cost {us(remembered)} to decode.",
    ]
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
