"""``python -m benchmarks.memory``: what one remembered visitor costs in memory.

A guard serves ``cache_size`` distinct visitors (each a new consent value in the benchmark's
realistic ``Cookie`` header, and the realistic response); ``tracemalloc`` then counts what
the guard still holds, the remembered headers and values included.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import tracemalloc
from collections.abc import Sequence

from consentguard.guard import _COOKIE_LENGTH

from . import fixtures, suite

LONGEST = _COOKIE_LENGTH  # the longest Cookie header a guard remembers


def _largest(cookie: str) -> str:
    """``cookie`` grown to the longest remembered, by a refused cookie: the decision then
    holds the header, a rewritten copy for the app, and the purge headers."""
    return f"{cookie}; _fbp=" + "x" * (LONGEST - len(cookie) - len("; _fbp="))


def held_per_visitor(visitors: int, *, largest: bool = False) -> tuple[float, int]:
    """(bytes the guard holds per visitor, length of a visitor's Cookie header)."""
    guard = fixtures.make_guard()
    guard.cache_size = visitors
    loop = asyncio.new_event_loop()  # (the context wants one; nothing runs on it here)
    try:
        values = suite.Context.build(loop, cold_pool=visitors).cold_values
    finally:
        loop.close()
    headers = [("Set-Cookie", value) for value in fixtures.set_cookies()]
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    length = 0
    for value in values:
        cookie = fixtures.cookie_header(value)  # made here, as a server makes it per request
        if largest:
            cookie = _largest(cookie)
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
                        help="the worst case: each visitor's Cookie header as long as any "
                        "remembered (8 KiB), with a refused cookie in it")
    args = parser.parse_args(argv)
    logging.getLogger("consentguard").setLevel(logging.ERROR)  # the undeclared cookie, once
    per_visitor, length = held_per_visitor(args.visitors, largest=args.largest)
    print(f"{args.visitors:,} visitors ({length}-character Cookie headers): "
          f"{per_visitor / 1024:.1f} KiB each, {per_visitor * args.visitors / 2**20:.1f} MiB "
          "in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
