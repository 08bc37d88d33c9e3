"""From observations to findings: per-cookie counts, leaks and their causes, attribute warnings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..guard import ConsentGuard
from ..registry import Cookie, Registry
from ._crawl import _Observation
from ._report import RUNS, CookieReport, Finding, RunStats

# Declared durations are rounded by people ("1 year", "13 months"): allow 5 % and a
# minute of clock skew (Expires) before calling a lifetime longer than declared.
_LIFETIME_SLACK = 1.05
_LIFETIME_SKEW = 60.0

_WHERE_IT_GOES = "docs/howto/deployment.md: \"Where the guard goes\""


@dataclass(frozen=True)
class _Context:
    """What the findings need to say why a cookie leaked."""

    guard: ConsentGuard | None
    watching: bool
    outside: tuple[str, ...]


def _cookie_reports(registry: Registry, consent_cookie: str,
                    observations: Sequence[_Observation], context: _Context
                    ) -> tuple[CookieReport, ...]:
    by_name: dict[str, list[_Observation]] = {}
    for observation in observations:
        by_name.setdefault(observation.name, []).append(observation)
    reports = []
    for name in sorted(by_name):
        seen = by_name[name]
        entry = registry.match(name)
        required_names = sorted(registry.required)
        if entry is not None:
            declared_as: str | None = entry.name
            category: str | None = entry.category
        elif name == consent_cookie:  # the guard's own cookie, always allowed
            declared_as, category = "(consent cookie)", required_names[0]
        else:
            declared_as = category = None
        required = category is not None and category in registry.required
        runs: dict[str, RunStats] = {}
        for run in RUNS:
            mine = [o for o in seen if o.run == run]
            stored = [o for o in mine if not o.deletion]
            runs[run] = RunStats(
                set=len(stored),
                passed=sum(o.passed for o in stored),
                removed=sum(not o.passed for o in stored),
                deleted=len(mine) - len(stored),
                outside=sum(o.origin == "outside" for o in stored),
            )
        stored = [o for o in seen if not o.deletion]
        lifetimes = [o.attributes.lifetime(o.now) for o in stored]
        persistent = [lt for lt in lifetimes if lt is not None]
        longest = max(persistent) if persistent else None
        samesites = {o.attributes.samesite for o in stored}
        report = CookieReport(
            name=name, declared_as=declared_as, category=category, required=required,
            declared_duration=entry.duration if entry is not None else None,
            runs=runs, pages=tuple(sorted({o.page for o in seen})),
            secure=bool(stored) and all(o.attributes.secure for o in stored),
            httponly=bool(stored) and all(o.attributes.httponly for o in stored),
            samesite=None if None in samesites or not stored else sorted(
                s for s in samesites if s is not None)[0],
            lifetime=longest,
        )
        findings = _findings(report, entry, stored, context)
        reports.append(_with_findings(report, findings))
    return tuple(reports)


def _with_findings(report: CookieReport, findings: list[Finding]) -> CookieReport:
    return replace(report, findings=tuple(sorted(findings, key=lambda f: f.code)))


def _leak_cause(leaked: Sequence[_Observation], report: CookieReport, context: _Context) -> str:
    """Why a cookie reached the browser with no consent, and the fix."""
    guard = context.guard
    if any(o.origin == "outside" for o in leaked):
        names = ", ".join(context.outside) or "a layer the audit could not name"
        return (f"A middleware outside consentguard sets it ({names}), so the guard never "
                f"sees it. Fix: make consentguard the outermost middleware ({_WHERE_IT_GOES}).")
    if guard is None:
        return ("No consentguard was found in front of the app. Fix: install the middleware "
                f"as the outermost layer ({_WHERE_IT_GOES}), or set the cookie only once the "
                "visitor has accepted its category.")
    if guard.report_only:
        return ("The app's consentguard runs in report-only mode, which changes nothing. "
                "Fix: mode=\"enforce\" once the reports are clean.")
    if report.category is None and guard.unknown == "allow":
        return ("The app's consentguard lets undeclared cookies through (unknown=\"allow\"). "
                "Fix: declare it, or unknown=\"block\".")
    return ("The app's consentguard let it through. Fix: check that the registry the guard "
            "uses declares the cookie in the same category as the one audited.")


def _findings(report: CookieReport, entry: Cookie | None, stored: Sequence[_Observation],
              context: _Context) -> list[Finding]:
    name = report.name
    out: list[Finding] = []
    if report.declared_as is None and stored:
        out.append(Finding("error", "undeclared", name, (
            f"the app sets it, but the registry does not declare it (consentguard blocks "
            f"undeclared cookies for everyone). Fix: add a [[cookies]] entry (name = \"{name}\", "
            "with its category and purpose), or stop setting it.")))
    leaked = [o for o in stored if o.run == "no_consent" and o.passed]
    if leaked and not report.required:
        first = min(o.page for o in leaked)
        why = (f"category {report.category!r} needs consent" if report.category is not None
               else "it is not declared")
        out.append(Finding("error", "pre-consent-leak", name, (
            f"it reaches the browser before any consent (first on {first}); {why}. "
            + _leak_cause(leaked, report, context))))
    if stored and not report.required:
        if not all(o.attributes.secure for o in stored):
            out.append(Finding("warning", "missing-secure", name, (
                "set without Secure, so it also travels over plain HTTP. Fix: add the "
                "Secure attribute.")))
        if any(o.attributes.samesite is None for o in stored):
            out.append(Finding("warning", "missing-samesite", name, (
                "set without SameSite, so its cross-site behaviour is left to each browser. "
                "Fix: add SameSite=Lax (or SameSite=None; Secure if it must be sent "
                "cross-site).")))
    if any(o.attributes.samesite == "None" and not o.attributes.secure for o in stored):
        out.append(Finding("warning", "samesite-none-without-secure", name, (
            "SameSite=None without Secure: browsers reject the cookie. Fix: add Secure.")))
    declared = entry.lifetime if entry is not None else None
    if entry is not None and declared is not None and not math.isinf(declared):
        actual = report.lifetime
        if actual is not None and actual > declared * _LIFETIME_SLACK + _LIFETIME_SKEW:
            out.append(Finding("warning", "lifetime-exceeds-declared", name, (
                f"it lives {_human(actual)} but the registry declares {entry.duration!r}. "
                "Fix: shorten its Max-Age/Expires, or declare the real duration "
                "(the policy must tell visitors the truth).")))
    return out


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} hours"
    days = seconds / 86400
    if days < 365:
        return f"{days:.0f} days"
    return f"{days:.0f} days (about {days / 365:.1f} years)"
