"""``python -m benchmarks``: run every group and print a markdown report.

Options: ``--quick`` (fewer, shorter samples: a smoke run, not for quoting),
``--only GROUP[,GROUP]``, ``--no-server``, ``--repetitions N``, ``--sample-ms MS``,
``--output FILE`` (also write the report there).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from . import harness, server, suite
from .harness import Settings, median, quartiles


def _us(ns: float) -> str:
    return f"{ns / 1000:.2f}"


def table(group: suite.Group) -> list[str]:
    base = group.get(group.baseline)
    lines = [f"### {group.title}", ""]
    if group.note:
        lines += [f"_{group.note}_", ""]
    lines += [
        f"| case | µs/request | × {group.baseline} (IQR) | added µs |",
        "|---|---:|---:|---:|",
    ]
    for variant in group.variants:
        ratios = harness.ratios(variant, base)
        low, high = quartiles(ratios)
        added = median(harness.added(variant, base))
        lines.append(
            f"| {variant.label} | {_us(median(variant.samples))} | "
            f"{median(ratios):.3f} ({low:.3f}–{high:.3f}) | "
            f"{'—' if variant is base else _us(added)} |"
        )
    return [*lines, ""]


def _ratio(group: suite.Group, label: str, base: str = "bare") -> float:
    return median(harness.ratios(group.get(label), group.get(base)))


def _added(group: suite.Group, label: str, base: str = "bare") -> float:
    return median(harness.added(group.get(label), group.get(base)))


def _slopes(group: suite.Group, points: Sequence[tuple[int, str, str]]) -> tuple[str, bool]:
    """Added cost per extra item on each segment; linear-or-better if it does not grow."""
    added = [(n, _added(group, label, base)) for n, label, base in points]
    slopes = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(added)]
    text = ", ".join(f"{a[0]}→{b[0]}: {s / 1000:.3f} µs each"
                     for a, b, s in zip(added, added[1:], slopes, strict=False))
    # Noise allowance: a segment may cost up to 25 % (or 0.05 µs) more per item.
    linear = all(s2 <= max(s1 * 1.25, s1 + 50) for s1, s2 in itertools.pairwise(slopes))
    return text, linear


def _added_ratio(group: suite.Group, label: str, reference: str) -> tuple[float, float]:
    """Median added cost (ns, paired per repetition with bare) of ``label`` and of
    ``reference``: the target's ratio is theirs (a ratio per repetition would divide by
    the small, noisy no-op figure)."""
    return _added(group, label), _added(group, reference)


def targets(groups: dict[str, suite.Group],
            served: dict[str, list[server.ServerResult]]) -> list[str]:
    """The issue 13 targets, each with its measured ratio and whether it is met; then
    the scaling checks kept from issue 3."""
    rows: list[tuple[str, str, bool | None]] = []
    checks: list[tuple[str, str, bool | None]] = []

    if "asgi-raw" in groups:
        g = groups["asgi-raw"]
        for which, label, reference, limit, whose in (
                ("busy", suite.BUSY, suite.SESSION, 0.30, "SessionMiddleware's"),
                ("cold", suite.COLD, suite.SESSION, 0.50, "SessionMiddleware's"),
                ("warm", suite.WARM, "+ no-op send wrapper", 3.0, "the no-op wrapper's")):
            ours, theirs = _added_ratio(g, label, reference)
            name = f"{which}: added cost ≤ {limit:.2f}× {whose} (raw ASGI app)"
            if theirs <= 0:  # (a smoke run on a busy machine)
                rows.append((name, f"not measurable: the reference added {_us(theirs)} µs",
                             None))
                continue
            rows.append((name, f"{ours / theirs:.2f}× ({_us(ours)} µs vs {_us(theirs)} µs)",
                         ours <= limit * theirs))
    if "flask" in groups:
        g = groups["flask"]
        ratio = _ratio(g, suite.WARM)
        rows.append(("warm, small Flask app: ≤ 1.03× bare",
                     f"{ratio:.3f}× (no-op wrapper: "
                     f"{_ratio(g, '+ no-op start_response wrapper'):.3f}×; "
                     f"Flask session: {_ratio(g, '+ Flask session'):.2f}×)", ratio <= 1.03))
    for kind in server.SERVERS:
        # The issue sets the bar for uvicorn; gunicorn (WSGI) is held to the same one.
        name = f"{kind.name} + wrk ({'ASGI' if kind is server.UVICORN else 'WSGI'}): " \
               "req/s with consentguard ≥ 0.95× bare"
        if kind.name in served:
            rps, p99 = server.summary(served[kind.name])
            rows.append((name, f"{rps:.3f}× (p99 latency {p99:.2f}×)", rps >= 0.95))
        else:
            rows.append((name, "not run", None))
    if "registry" in groups:
        g = groups["registry"]
        large = "+ consentguard, 2,000 entries (998 patterns)"
        small = "+ consentguard, 10 entries"
        ratio = _ratio(g, large, small)
        added_ratio = _added(g, large) / _added(g, small)
        checks.append(("registry of 2,000 entries ≤ 1.10× the 10-entry one, warm",
                       f"{ratio:.3f}× per request (added cost: {added_ratio:.2f}×)",
                       ratio <= 1.10))
    scaling = (
        ("cookies", "request cookies",
         [(n, f"+ consentguard, {n} request cookies", "bare") for n in (1, 10, 30)]),
        ("set-cookie", "Set-Cookie headers",
         [(n, f"+ consentguard, {n} Set-Cookie", f"bare, {n} Set-Cookie") for n in (1, 7, 20)]),
        ("purge", "refused cookies",
         [(n, f"+ consentguard, {n} refused cookies to purge", "bare") for n in (0, 3, 6)]),
    )
    for key, what, points in scaling:
        if key in groups:
            text, linear = _slopes(groups[key], points)
            checks.append((f"cost linear (or better) in {what}", text, linear))
    lines = ["### Targets (issue 13)", "",
             "_added cost: a variant's time less bare's measured next to it, median over "
             "repetitions; an added-cost target is the ratio of two such medians from the "
             "same run_", "",
             *_verdicts(rows)]
    if checks:
        lines += ["### Scaling checks (issue 3)", "", *_verdicts(checks)]
    return lines


def _verdicts(rows: Sequence[tuple[str, str, bool | None]]) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for name, value, ok in rows:
        lines.append(f"| {name} | {value} | {'—' if ok is None else 'yes' if ok else '**no**'} |")
    return [*lines, ""]


def server_table(kind: server.Server, results: list[server.ServerResult]) -> list[str]:
    bare = results[0]
    lines = [f"### Real server: {kind.title}", "",
             "| case | req/s (median) | × bare (paired) | p99 ms (median) | errors |",
             "|---|---:|---:|---:|---:|"]
    for result in results:
        ratio = median(a / b for a, b in zip(result.rps, bare.rps, strict=True))
        lines.append(f"| {result.label} | {median(result.rps):,.0f} | {ratio:.3f} | "
                     f"{median(result.p99_ms):.2f} | {result.errors} |")
    return [*lines, ""]


def machine() -> list[str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or "unknown"
    versions = []
    distributions = metadata.packages_distributions()  # (ours: consentguard-middleware)
    for package in ("consentguard", "itsdangerous", "werkzeug", "starlette", "fastapi",
                    "flask", "uvicorn", "gunicorn"):
        try:
            name = distributions.get(package, [package])[0]
            versions.append(f"{package} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return [
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- {', '.join(versions)}",
        f"- code: {revision()}",
    ]


def revision() -> str:
    """The commit measured, ``+ changes`` when the tree differs from it (not a git clone:
    said so)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                  "--untracked-files=no"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}{' + uncommitted changes' if changed else ''}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(suite.GROUPS)}")
    parser.add_argument("--no-server", action="store_true",
                        help="skip the real servers (uvicorn and gunicorn under wrk)")
    parser.add_argument("--repetitions", type=int, default=None)
    parser.add_argument("--sample-ms", type=float, default=None)
    parser.add_argument("--server-seconds", type=int, default=3)
    parser.add_argument("--output", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    settings = Settings(repetitions=5, sample_ms=4.0) if args.quick else Settings()
    settings = Settings(
        repetitions=args.repetitions or settings.repetitions,
        sample_ms=args.sample_ms or settings.sample_ms,
    )
    wanted = [k for k in args.only.split(",") if k] or list(suite.GROUPS)
    unknown = [k for k in wanted if k not in suite.GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(suite.GROUPS)}")
    started = time.monotonic()
    loop = asyncio.new_event_loop()
    ctx = suite.Context.build(loop, cold_pool=suite.COLD_POOL)
    groups: dict[str, suite.Group] = {}
    for key in wanted:
        print(f"… {key}", file=sys.stderr, flush=True)
        group = suite.GROUPS[key](ctx)
        harness.measure(group.variants, settings)
        groups[key] = group
    loop.close()
    served: dict[str, list[server.ServerResult]] = {}
    server_notes: list[str] = []
    kinds = () if args.no_server or args.only else server.SERVERS
    for kind in kinds:
        print(f"… {kind.name} + wrk", file=sys.stderr, flush=True)
        try:
            served[kind.name] = server.run(kind, duration=1 if args.quick
                                           else args.server_seconds,
                                           rounds=2 if args.quick else 8)
        except (FileNotFoundError, RuntimeError, subprocess.SubprocessError) as exc:
            # (the in-process tables took minutes: they are still reported)
            server_notes += [f"_Real-server benchmark ({kind.name}) skipped: {exc}._", ""]
            print(f"skipping the {kind.name} benchmark: {exc}", file=sys.stderr)
    lines = [
        "## consentguard benchmarks",
        "",
        f"Medians of {settings.repetitions} interleaved repetitions, ~{settings.sample_ms:g} ms "
        "per sample; ratios are medians of per-repetition ratios against the baseline "
        "measured next to it (IQR in brackets).",
        "",
        *machine(),
        f"- command: `{' '.join(['python -m benchmarks', *(argv or sys.argv[1:])])}` "
        f"({time.monotonic() - started:.0f} s)",
        "",
        *targets(groups, served),
    ]
    for group in groups.values():
        lines += table(group)
    for kind in server.SERVERS:
        if kind.name in served:
            lines += server_table(kind, served[kind.name])
    lines += server_notes
    report = "\n".join(lines)
    print(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
