"""Bounded caches for the hot path: what repeats across requests, never unlimited.

Keys often come from clients (cookie values, names, headers), so every cache is an
``OrderedDict`` capped in size, oldest entries out first — O(1) per eviction, where
evicting from the front of a plain dict degrades to O(n) — and safe when threads of a
threaded server share it: each OrderedDict call is atomic, so racing threads can at worst
evict one entry too many, never raise.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def bounded_put(cache: OrderedDict[K, V], key: K, value: V, size: int) -> None:
    """Insert ``key``, evicting the oldest entries so that at most ``size`` remain."""
    while len(cache) >= size:
        try:
            cache.popitem(last=False)
        except KeyError:  # another thread emptied it meanwhile
            break
    cache[key] = value


def touch(cache: OrderedDict[K, V], key: K) -> None:
    """Mark ``key`` as just used (least-recently-used order), if it is still there."""
    try:  # noqa: SIM105 - contextlib.suppress costs more than the call
        cache.move_to_end(key)
    except KeyError:
        pass  # another thread evicted it meanwhile
