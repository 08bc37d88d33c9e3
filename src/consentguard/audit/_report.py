"""The audit's report: findings, per-run counts, cookies, pages, and their text and JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..cookies import parse_cookie_date
from ..exceptions import ConsentGuardError
from ..registry import Cookie

Run = Literal["no_consent", "all_accepted"]
RUNS: tuple[Run, ...] = ("no_consent", "all_accepted")
_RUN_LABELS: dict[Run, str] = {
    "no_consent": "no consent",
    "all_accepted": "all accepted",
}
Level = Literal["error", "warning"]
Interface = Literal["wsgi", "asgi"]
#: Where a ``Set-Cookie`` header came from: the app inside the guard, a middleware outside
#: it, or an app with no guard the audit could find.
Origin = Literal["app", "outside", "unguarded"]

SCHEMA_VERSION = 2


class AuditError(ConsentGuardError):
    """The audit cannot run: the app cannot be imported or started, or an argument is bad."""


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem with one cookie.

    :param level: ``"error"`` (fails the audit) or ``"warning"``.
    :param code: a stable identifier: ``undeclared``, ``pre-consent-leak``,
        ``missing-secure``, ``missing-samesite``, ``samesite-none-without-secure``,
        ``lifetime-exceeds-declared``.
    :param cookie: the cookie name.
    :param message: what is wrong and how to fix it.
    """

    level: Level
    code: str
    cookie: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict."""
        return {"level": self.level, "code": self.code, "cookie": self.cookie,
                "message": self.message}


@dataclass(frozen=True)
class RunStats:
    """What happened to one cookie's ``Set-Cookie`` headers during one run.

    :param set: headers that store the cookie (deletions not counted).
    :param passed: of those, how many reached the browser.
    :param removed: of those, how many the app's consentguard removed.
    :param deleted: headers that only delete the cookie (they always pass).
    :param outside: of the stored ones, how many a middleware outside the guard set (the
        guard never saw them).
    """

    set: int = 0
    passed: int = 0
    removed: int = 0
    deleted: int = 0
    outside: int = 0

    @property
    def action(self) -> str | None:
        """``"passed"``, ``"removed"``, ``"mixed"``, or ``None`` when the app never set it."""
        if not self.set:
            return None
        if self.passed == self.set:
            return "passed"
        if self.removed == self.set:
            return "removed"
        return "mixed"

    def to_json(self) -> dict[str, Any]:
        """The counts and the action as a JSON-ready dict."""
        return {"set": self.set, "passed": self.passed, "removed": self.removed,
                "deleted": self.deleted, "outside": self.outside, "action": self.action}


@dataclass(frozen=True)
class SetCookieAttributes:
    """The attributes of one ``Set-Cookie`` header that the audit cares about.

    The last valid occurrence of an attribute wins, as in browsers (RFC 6265bis §5.7).
    """

    secure: bool = False
    httponly: bool = False
    samesite: str | None = None
    domain: str | None = None
    path: str | None = None
    max_age: int | None = None
    expires: float | None = None

    @classmethod
    def parse(cls, value: str) -> SetCookieAttributes:
        """Read the attributes of a ``Set-Cookie`` header value."""
        secure = httponly = False
        samesite = domain = path = None
        max_age: int | None = None
        expires: float | None = None
        for av in value.split(";")[1:]:
            key, _, raw = av.partition("=")
            key, raw = key.strip(" \t").lower(), raw.strip(" \t")
            if key == "secure":
                secure = True
            elif key == "httponly":
                httponly = True
            elif key == "samesite":
                samesite = raw.capitalize() if raw.lower() in ("lax", "strict", "none") else None
            elif key == "domain" and raw:
                domain = raw
            elif key == "path" and raw.startswith("/"):
                path = raw
            elif key == "max-age":
                digits = raw[1:] if raw.startswith("-") else raw
                if digits.isdigit() and digits.isascii():
                    max_age = int(raw)
            elif key == "expires":
                date = parse_cookie_date(raw)
                if date is not None:
                    expires = date
        return cls(secure=secure, httponly=httponly, samesite=samesite, domain=domain,
                   path=path, max_age=max_age, expires=expires)

    def lifetime(self, now: float) -> float | None:
        """Seconds the browser keeps the cookie from ``now``; ``None`` for a session cookie."""
        if self.max_age is not None:  # Max-Age takes precedence over Expires
            return float(max(self.max_age, 0))
        if self.expires is not None:
            return max(self.expires - now, 0.0)
        return None


@dataclass(frozen=True)
class CookieReport:
    """Everything the audit saw of one cookie name.

    :param name: the cookie name.
    :param declared_as: the registry entry that governs it (its name or pattern), or
        ``None`` when undeclared.
    :param category: the declared category, or ``None``.
    :param required: whether that category is required (always accepted).
    :param declared_duration: the declared duration text, or ``None``.
    :param runs: per run (:data:`RUNS`), what happened to its ``Set-Cookie`` headers.
    :param pages: the paths whose responses set or deleted it, sorted.
    :param secure: whether every header that set it had ``Secure``.
    :param httponly: whether every header that set it had ``HttpOnly``.
    :param samesite: the ``SameSite`` value, ``None`` when some header had none.
    :param lifetime: the longest lifetime seen in seconds; ``None`` for a session cookie
        (or when it was only ever deleted).
    :param findings: the problems found with it.
    """

    name: str
    declared_as: str | None
    category: str | None
    required: bool
    declared_duration: str | None
    runs: Mapping[str, RunStats]
    pages: tuple[str, ...]
    secure: bool
    httponly: bool
    samesite: str | None
    lifetime: float | None
    findings: tuple[Finding, ...] = ()

    @property
    def undeclared(self) -> bool:
        """Whether the app stores it while no registry entry covers it (deleting is fine)."""
        return any(f.code == "undeclared" for f in self.findings)

    @property
    def leaked(self) -> bool:
        """Whether it reached the browser with no consent while its category is not required."""
        return any(f.code == "pre-consent-leak" for f in self.findings)

    @property
    def removed_before_consent(self) -> bool:
        """Whether the app's guard removed it before consent: the guard working."""
        return self.declared_as is not None and not self.required and bool(
            self.runs["no_consent"].removed)

    def to_json(self) -> dict[str, Any]:
        """The cookie as a JSON-ready dict."""
        return {
            "name": self.name,
            "declared_as": self.declared_as,
            "category": self.category,
            "required": self.required,
            "declared_duration": self.declared_duration,
            "runs": {run: self.runs[run].to_json() for run in RUNS},
            "pages": list(self.pages),
            "attributes": {
                "secure": self.secure,
                "httponly": self.httponly,
                "samesite": self.samesite,
                "lifetime": None if self.lifetime is None else round(self.lifetime),
            },
            "findings": sorted(f.code for f in self.findings),
        }


@dataclass(frozen=True)
class PageResult:
    """One response the crawl received.

    :param run: the run (:data:`RUNS`).
    :param path: the path and query requested.
    :param status: the HTTP status, or ``None`` when the app failed before answering.
    :param error: the exception the app raised, as ``"Type: message"``, or ``None``.
    :param cookies: the names the app (or a middleware outside the guard) set or deleted
        on it, before the guard filtered them.
    """

    run: Run
    path: str
    status: int | None
    error: str | None = None
    cookies: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether it raised or answered something other than 2xx/3xx."""
        return self.error is not None or self.status is None or not 200 <= self.status < 400

    def problem(self) -> str:
        """What went wrong, for a message: the error, or the status."""
        return self.error or f"answered {self.status}"

    def to_json(self) -> dict[str, Any]:
        """The page as a JSON-ready dict."""
        return {"path": self.path, "status": self.status, "error": self.error,
                "cookies": sorted(set(self.cookies))}


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`audit_app`; :meth:`to_json` and :meth:`to_text` render it.

    :param app: what was audited (``module:attribute`` or the app's repr).
    :param interface: ``"wsgi"`` or ``"asgi"``.
    :param registry: where the registry came from, or ``None`` when none was given.
    :param base_url: the origin the requests were made on.
    :param paths: the start paths.
    :param crawl: the crawl budget (pages found through links).
    :param pages: every response received, per run, in crawl order.
    :param cookies: one :class:`CookieReport` per cookie name seen, sorted by name.
    :param declared_not_seen: declared cookie entries no response set.
    :param warnings: things that make the audit less trustworthy.
    :param guard: how the app's consentguard runs (``"enforce"``, ``"report-only"``), or
        ``None`` when the audit found none.
    :param outside_guard: the middleware found outside the app's guard, outermost first.
    :param runs: the runs made (``all_accepted`` needs the app's guard to sign a consent).
    """

    app: str
    interface: Interface
    registry: str | None
    base_url: str
    paths: tuple[str, ...]
    crawl: int
    pages: tuple[PageResult, ...]
    cookies: tuple[CookieReport, ...]
    declared_not_seen: tuple[Cookie, ...]
    warnings: tuple[str, ...] = ()
    guard: str | None = None
    outside_guard: tuple[str, ...] = ()
    runs: tuple[Run, ...] = RUNS

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, sorted by cookie name and code."""
        return tuple(sorted((f for c in self.cookies for f in c.findings),
                            key=lambda f: (f.cookie, f.code)))

    @property
    def undeclared(self) -> tuple[str, ...]:
        """Names of cookies no registry entry covers."""
        return tuple(c.name for c in self.cookies if c.undeclared)

    @property
    def leaks(self) -> tuple[str, ...]:
        """Names of non-required cookies that reached the browser with no consent."""
        return tuple(c.name for c in self.cookies if c.leaked)

    @property
    def removed_before_consent(self) -> tuple[str, ...]:
        """Names of declared cookies the app's guard removed before consent (not errors)."""
        return tuple(c.name for c in self.cookies if c.removed_before_consent)

    @property
    def failed_pages(self) -> tuple[PageResult, ...]:
        """The responses that raised or did not answer 2xx/3xx (each fails the audit)."""
        return tuple(p for p in self.pages if p.failed)

    @property
    def exit_code(self) -> int:
        """``1`` when an error was found (leak, undeclared cookie, failed page), else ``0``."""
        errors = any(f.level == "error" for f in self.findings)
        return 1 if errors or self.failed_pages else 0

    def cookie(self, name: str) -> CookieReport:
        """The report of the cookie ``name``; :class:`KeyError` if it was not seen."""
        for report in self.cookies:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (schema ``"version": 2``, documented in
        docs/reference/audit-json.md).

        Lists are sorted, so two audits of the same app give the same JSON; dump it
        with ``sort_keys=True`` for a byte-stable file.
        """
        findings = self.findings
        pages_by_run = {run: sorted((p for p in self.pages if p.run == run),
                                    key=lambda p: p.path) for run in RUNS}
        failed = sorted(self.failed_pages, key=lambda p: (p.run, p.path))
        return {
            "version": SCHEMA_VERSION,
            "app": self.app,
            "interface": self.interface,
            "registry": self.registry,
            "base_url": self.base_url,
            "paths": sorted(self.paths),
            "crawl": self.crawl,
            "guard": {"mode": self.guard, "outside": list(self.outside_guard)},
            "runs": {run: {"skipped": run not in self.runs, "pages": [p.to_json() for p in pages]}
                     for run, pages in pages_by_run.items()},
            "cookies": [c.to_json() for c in self.cookies],
            "undeclared": sorted(self.undeclared),
            "pre_consent_leaks": sorted(self.leaks),
            "removed_before_consent": sorted(self.removed_before_consent),
            "failed_pages": [{"run": p.run, **p.to_json()} for p in failed],
            "declared_not_seen": sorted(
                ({"name": c.name, "category": c.category, "duration": c.duration}
                 for c in self.declared_not_seen), key=lambda d: d["name"]),
            "findings": [f.to_json() for f in findings],
            "warnings": sorted(self.warnings),
            "summary": {
                "pages": len(self.pages),
                "failed_pages": len(failed),
                "cookies": len(self.cookies),
                "undeclared": len(self.undeclared),
                "pre_consent_leaks": len(self.leaks),
                "errors": sum(f.level == "error" for f in findings) + len(failed),
                "warnings": sum(f.level == "warning" for f in findings),
            },
            "exit_code": self.exit_code,
        }

    def to_text(self) -> str:
        """The report for people: a table per cookie, then problems, warnings and gaps."""
        if self.guard is None:
            guard = "none found"
        else:
            guard = f"consentguard ({self.guard})"
            if self.outside_guard:
                guard += ", outside it: " + ", ".join(self.outside_guard)
        lines = [
            f"consentguard audit of {self.app} ({self.interface.upper()}), registry: "
            f"{self.registry or 'none'}",
            f"guard: {guard}",
            "pages: " + ", ".join(
                f"{sum(p.run == run for p in self.pages)} {_RUN_LABELS[run]}"
                if run in self.runs else f"{_RUN_LABELS[run]} skipped" for run in RUNS),
        ]
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        lines.append("")
        if not self.cookies:
            lines.append("No Set-Cookie seen.")
        else:
            header = ("cookie", "declared as", "category", *(_RUN_LABELS[r] for r in RUNS))
            rows = [header]
            for c in self.cookies:
                rows.append((
                    c.name or '""', c.declared_as or "-",
                    c.category or ("UNDECLARED" if c.undeclared else "-"),
                    *(_cell(c.runs[run]) if run in self.runs else "skipped" for run in RUNS),
                ))
            widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
            for row in rows:
                lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
                             .rstrip())
        findings = self.findings
        failed = self.failed_pages
        errors = [f for f in findings if f.level == "error"]
        warnings = [f for f in findings if f.level == "warning"]
        removed = self.removed_before_consent
        if removed:
            lines += ["", f"Removed before consent ({len(removed)}): set by the app, removed by "
                      "consentguard until the visitor accepts (the guard working): "
                      + ", ".join(removed)]
        if self.leaks:
            lines += ["", f"Pre-consent leaks ({len(self.leaks)}): reached the browser before "
                      "any consent: " + ", ".join(self.leaks)]
        if errors or failed:
            lines += ["", f"Errors ({len(errors) + len(failed)}):"]
            lines += [f"  x {p.path} [{_RUN_LABELS[p.run]}]: {p.problem()}. Fix: make it answer "
                      "2xx/3xx (pages behind a login: --cookie, --header)" for p in failed]
            lines += [f"  x {f.cookie or chr(34) * 2} [{f.code}]: {f.message}" for f in errors]
        if warnings:
            lines += ["", f"Warnings ({len(warnings)}):"]
            lines += [f"  ! {f.cookie or chr(34) * 2} [{f.code}]: {f.message}" for f in warnings]
        if self.declared_not_seen:
            lines += ["", f"Declared but never seen ({len(self.declared_not_seen)}; set by "
                      "JavaScript, on pages not crawled, or no longer used):"]
            lines += [f"  - {c.name} ({c.category})"
                      for c in sorted(self.declared_not_seen, key=lambda c: c.name)]
        lines += ["", f"Result: {'FAIL' if self.exit_code else 'OK'} — "
                  f"{len(errors) + len(failed)} error(s), {len(warnings)} warning(s), "
                  f"{len(self.cookies)} cookie(s)."]
        return "\n".join(lines) + "\n"


def _cell(stats: RunStats) -> str:
    if stats.set:
        action = str(stats.action)
        return f"{action} (outside the guard)" if stats.outside else action
    return "deleted" if stats.deleted else "-"
