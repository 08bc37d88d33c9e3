"""``python -m benchmarks.memory``: what one remembered visitor costs in memory.

A guard serves ``cache_size`` distinct visitors (each a new consent value in the benchmark's
realistic ``Cookie`` header, and the realistic response); ``tracemalloc`` then counts what
the guard still holds: the verified consent values and the names it remembers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import tracemalloc
from collections.abc import Callable, Iterator, Sequence

from . import fixtures, suite

LONGEST = 8192  # the longest Cookie header common servers accept (8 KiB)


def _pad(cookie: str, pairs: Iterator[str]) -> str:
    """``cookie`` grown with ``pairs`` to :data:`LONGEST`."""
    room = LONGEST - len(cookie)
    extra: list[str] = []
    for pair in pairs:
        if len(pair) + 2 > room:
            break
        extra.append(pair)
        room -= len(pair) + 2
    return "; ".join([cookie, *extra])


# The costliest Cookie headers a client can send, each 8 KiB long.
SHAPES: dict[str, Callable[[str], str]] = {
    # One big refused cookie: a rewritten copy of the rest is kept for the app.
    "refused-value": lambda c: f"{c}; _fbp=" + "x" * (LONGEST - len(c) - len("; _fbp=")),
    # ~1,300 tiny undeclared pairs: hidden, each judged (the review's 205 KiB a visitor).
    "tiny-undeclared": lambda c: _pad(c, (f"x{n}=" for n in itertools.count())),
    # Refused names as long as they come: the most purge headers the guard writes.
    "refused-names": lambda c: _pad(c, (f"_gcl_{n:0>240}=1" for n in itertools.count())),
}


def held_per_visitor(visitors: int, *, shape: str | None = None) -> tuple[float, int]:
    """(bytes the guard holds per visitor, length of a visitor's Cookie header)."""
    guard = fixtures.make_guard(cache_size=visitors)
    loop = asyncio.new_event_loop()  # (the context wants one; nothing runs on it here)
    try:
        values = suite.Context.build(loop, cold_pool=visitors).cold_values
    finally:
        loop.close()
    headers = [("Set-Cookie", value) for value in fixtures.set_cookies()]
    grow = SHAPES[shape] if shape else None
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    length = 0
    for value in values:
        cookie = fixtures.cookie_header(value)  # made here, as a server makes it per request
        if grow is not None:
            cookie = grow(cookie)
        length = len(cookie)
        guard.decide(cookie, host=fixtures.HOST, path="/").filter_headers(headers)
        del cookie
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return held / visitors, length


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--visitors", type=int, default=4096)
    parser.add_argument("--largest", action="store_true",
                        help="the worst cases: each visitor's Cookie header 8 KiB long, in "
                        "each of the costliest shapes a client can send")
    args = parser.parse_args(argv)
    logging.getLogger("consentguard").setLevel(logging.ERROR)  # the undeclared cookie, once
    for shape in SHAPES if args.largest else [None]:
        per_visitor, length = held_per_visitor(args.visitors, shape=shape)
        print(f"{args.visitors:,} visitors ({length}-character Cookie headers"
              f"{f', {shape}' if shape else ''}): {per_visitor / 1024:.1f} KiB each, "
              f"{per_visitor * args.visitors / 2**20:.1f} MiB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
