"""``python -m benchmarks.compare REV``: this tree's hot path against commit ``REV``'s.

Both versions of the package are imported side by side in one process (``REV``'s is
exported with ``git archive`` and imported under another name), then timed interleaved
on the raw ASGI and WSGI apps — warm, cold, and busy (every other cookie and Set-Cookie
value new each request), every request built from new objects — with the harness of
:mod:`benchmarks.harness`. The ratio is the median of per-repetition ratios, so a change
of a few percent shows through the noise of a shared machine, where two separate full
runs could not show it.

Options: ``--repetitions N`` (default 15), ``--sample-ms MS`` (default 12).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import logging
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import consentguard

from . import apps, fixtures, harness
from .harness import Settings, Variant, asgi_runner, asgi_scope, wsgi_environ, wsgi_runner

ROOT = Path(__file__).resolve().parent.parent
BASE = "consentguard_base"
POOL = 8192  # distinct consent values / cookie variants: more than any cache holds


def import_revision(revision: str, into: Path) -> ModuleType:
    """Import ``src/consentguard`` as of ``revision`` under the name ``consentguard_base``.

    The package imports its own modules relatively, so a renamed copy is self-contained.
    """
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src/consentguard"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4: refuse odd paths
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - our own repository's archive
            tar.extractall(into)
    (into / "src" / "consentguard").rename(into / BASE)
    sys.path.insert(0, str(into))
    return importlib.import_module(BASE)


def variants(package: Any, tag: str, loop: asyncio.AbstractEventLoop) -> list[Variant]:
    """Warm, cold and busy-site variants of one package, on raw ASGI and WSGI apps."""

    def guard() -> Any:  # the fixtures' registry, built from this package's own classes
        categories = [package.Category(c.name, required=c.required, description=c.description)
                      for c in fixtures.CATEGORIES]
        cookies = [package.Cookie(c.name, category=c.category, purpose=c.purpose,
                                  duration=c.duration, provider=c.provider, domain=c.domain)
                   for c in fixtures.BASE_COOKIES]
        return package.ConsentGuard(package.Registry(categories, cookies),
                                    secret_key=fixtures.SECRET)

    shared = guard()
    values = [shared.encode_consent(fixtures.ACCEPTED, consent_id=f"v{i:07d}")
              for i in range(POOL + 1)]

    def warm(i: int) -> str:
        return fixtures.cookie_header(values[0])

    def cold(i: int) -> str:
        return fixtures.cookie_header(values[1 + i % POOL])

    def busy(i: int) -> str:
        return fixtures.cookie_header(values[0], variant=i % 1_000_000)

    def asgi(app: Any, cookies: Callable[[int], str]) -> harness.Runner:
        return asgi_runner(app, lambda i: asgi_scope(cookies(i), fixtures.HOST), loop)

    def wsgi(app: Any, cookies: Callable[[int], str]) -> harness.Runner:
        return wsgi_runner(app, lambda i: wsgi_environ(cookies(i), fixtures.HOST))

    return [
        Variant(f"asgi warm {tag}", asgi(shared.asgi(apps.raw_asgi()), warm)),
        Variant(f"asgi cold {tag}", asgi(guard().asgi(apps.raw_asgi()), cold)),
        Variant(f"asgi busy {tag}", asgi(guard().asgi(apps.raw_asgi(varied=True)), busy)),
        Variant(f"wsgi warm {tag}", wsgi(shared.wsgi(apps.raw_wsgi()), warm)),
        Variant(f"wsgi cold {tag}", wsgi(guard().wsgi(apps.raw_wsgi()), cold)),
        Variant(f"wsgi busy {tag}", wsgi(guard().wsgi(apps.raw_wsgi(varied=True)), busy)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument("revision", help="the commit to compare against (e.g. HEAD~3)")
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--sample-ms", type=float, default=12.0)
    args = parser.parse_args(argv)
    settings = Settings(repetitions=args.repetitions, sample_ms=args.sample_ms)
    logging.getLogger("consentguard").setLevel(logging.ERROR)  # the blocked-cookie warnings
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as scratch:
        base = import_revision(args.revision, Path(scratch))
        ours, theirs = variants(consentguard, "(this tree)", loop), variants(base, "(base)", loop)
        print(f"| case (raw app; µs per whole request) | {args.revision} | "
              "this tree | this tree / base (IQR) |")
        print("|---|---:|---:|---:|")
        for new, old in zip(ours, theirs, strict=True):
            harness.measure([old, new], settings)  # interleaved, order rotated
            ratios = harness.ratios(new, old)
            low, high = harness.quartiles(ratios)
            case = new.label.removesuffix(" (this tree)")
            print(f"| {case} | {harness.median(old.samples) / 1000:.2f} µs | "
                  f"{harness.median(new.samples) / 1000:.2f} µs | "
                  f"{harness.median(ratios):.3f} ({low:.3f}–{high:.3f}) |", flush=True)
    loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
