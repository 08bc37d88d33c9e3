"""Audit an app's cookies in-process, as deployed: leaks, undeclared and mis-declared cookies.

``consentguard audit myproject.web:app --crawl 50`` imports a WSGI or ASGI app, drives it
in-process (no server, no network) over the given paths and the same-site links its HTML
pages lead to, exactly as it is deployed — the audit never adds a guard of its own. It
crawls twice:

1. ``no_consent``: no choice made — what reaches a new visitor's browser.
2. ``all_accepted``: with a consent cookie accepting every category, signed by the app's
   own guard (skipped when the audit cannot find one).

When the app runs consentguard (``guard.wsgi(app)``, ``guard.asgi(app)``, the Flask
extension, ``app.add_middleware(ConsentMiddleware, ...)``), the audit also watches just
inside the guard, so it tells what the app set from what reached the browser. Errors
(exit code 1, so the audit can gate CI): a cookie outside the required categories that
reaches the browser with no consent (a *pre-consent leak*, naming the middleware outside
the guard when it came from there), a cookie the registry does not declare, and a page
that does not answer 2xx/3xx. A declared cookie the guard removes before consent is the
guard working: it is reported, not an error. Warnings: a non-essential cookie without
``Secure`` or ``SameSite``, ``SameSite=None`` without ``Secure``, a lifetime longer than
declared. The report also lists declared cookies the crawl never saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import math
import os
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urljoin, urlsplit

from ._placement import asgi_layers_outside, is_proxy_fixer, layer_name
from .asgi import ConsentMiddleware
from .cookies import is_deletion, parse_cookie_date, set_cookie_name
from .exceptions import ConsentGuardError, RegistryError
from .guard import ConsentGuard
from .registry import Category, Cookie, Registry
from .wsgi import ENVIRON_DECISION, WSGIConsentMiddleware

__all__ = [
    "RUNS",
    "AuditError",
    "AuditReport",
    "CookieReport",
    "Finding",
    "PageResult",
    "RunStats",
    "SetCookieAttributes",
    "add_arguments",
    "audit_app",
    "load_app",
    "run",
]

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
DEFAULT_BASE_URL = "https://localhost"
_MAX_REDIRECTS = 10
_MAX_HTML = 5 * 1024 * 1024  # enough to find the links of any real page
_REQUEST_TIMEOUT = 30.0
_LIFESPAN_TIMEOUT = 60.0
# Declared durations are rounded by people ("1 year", "13 months"): allow 5 % and a
# minute of clock skew (Expires) before calling a lifetime longer than declared.
_LIFETIME_SLACK = 1.05
_LIFETIME_SKEW = 60.0
_WHERE_IT_GOES = "README: \"Where the guard goes\""


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
        """The report as a JSON-ready dict (schema ``"version": 2``, documented in the README).

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


# -- loading an app ----------------------------------------------------------------------------


def load_app(target: str, *, factory: bool = False) -> Any:
    """Import the app named ``module:attribute`` (the current directory is importable).

    :param target: ``"package.module:app"``; the attribute may be dotted (``"web:api.app"``).
    :param factory: call the attribute with no arguments to get the app.
    :raises AuditError: when it cannot be imported, with a one-line reason and the fix.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise AuditError(f"{target!r} is not module:attribute. Fix: name the app like "
                         "uvicorn does, for example myproject.web:app.")
    cwd = os.getcwd()
    if cwd not in sys.path:  # like uvicorn: the project you run it from is importable
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AuditError(
                f"cannot import {target!r}: no module named {exc.name!r} (looked in {cwd} and "
                "sys.path). Fix: run from the project directory, or install the project."
            ) from exc
        raise AuditError(f"cannot import {target!r}: importing {module_name!r} raised "
                         f"{_describe(exc)}") from exc
    except (Exception, SystemExit) as exc:
        raise AuditError(f"cannot import {target!r}: importing {module_name!r} raised "
                         f"{_describe(exc)}") from exc
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AuditError(f"cannot import {target!r}: {module_name!r} has no attribute "
                             f"{part!r}. Fix: name the variable that holds the app.") from None
    if factory:
        try:
            obj = obj()
        except Exception as exc:
            raise AuditError(f"cannot build the app: {target}() raised {_describe(exc)}") from exc
    return obj


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def detect_interface(app: Any) -> Interface:
    """``"asgi"`` for an async callable of three arguments, ``"wsgi"`` for one of two.

    :raises AuditError: for anything else.
    """
    if not callable(app):
        raise AuditError(f"{type(app).__name__} object is not a WSGI or ASGI application.")
    call = getattr(app, "__call__", None)  # noqa: B004 - instances with an async __call__
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        return "asgi"
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        raise AuditError(f"cannot tell whether {app!r} is a WSGI or an ASGI app.") from None
    required = [p for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    if len(required) == 2:
        return "wsgi"
    if len(required) == 3:
        return "asgi"
    raise AuditError(f"{app!r} takes {len(required)} argument(s): neither a WSGI app "
                     "(environ, start_response) nor an ASGI app (scope, receive, send).")

# -- finding the app's guard -------------------------------------------------------------------


@dataclass
class _Located:
    """The app's guard, the middleware instance to watch just inside, and what wraps it."""

    guard: ConsentGuard | None = None
    layer: Any = None  # the WSGIConsentMiddleware / ConsentMiddleware that runs the guard
    outside: tuple[str, ...] = ()  # the middleware outside it, outermost first
    built: Any = None  # a Starlette app whose middleware stack the audit built
    inner: str = "app"  # the layer's attribute that holds what it wraps


def _locate(app: Any) -> _Located:
    """Find the guard in ``app`` as deployed: wrappers' ``app`` attributes, Flask's
    ``wsgi_app``, Starlette's middleware list. Nothing is changed."""
    outside: list[Any] = []
    layer = app
    for _ in range(32):  # wrappers nest a few levels at most; never loop forever
        if isinstance(layer, (WSGIConsentMiddleware, ConsentMiddleware)):
            return _Located(layer.guard, layer, _names(outside))
        if isinstance(getattr(layer, "user_middleware", None), list) and hasattr(
                layer, "build_middleware_stack"):
            return _locate_starlette(layer, _names(outside))
        if getattr(layer, "_middleware_chain", None) is not None:  # Django's WSGI/ASGI handler
            return _locate_django(layer._middleware_chain, _names(outside))
        inner = getattr(layer, "app", None)
        if inner is not None and inner is not layer:
            outside.append(layer)
            layer = inner
            continue
        inner = getattr(layer, "wsgi_app", None)  # the Flask extension wraps app.wsgi_app
        if inner is not None and inner is not layer:
            layer = inner  # the Flask app object is the app, not a layer around it
            continue
        break
    return _Located()


def _names(layers: Iterable[Any]) -> tuple[str, ...]:
    return tuple(layer_name(x) for x in layers if not is_proxy_fixer(x))


def _locate_starlette(app: Any, outside: tuple[str, ...]) -> _Located:
    found: list[ConsentGuard] = []

    def is_guard(cls: type, options: dict[str, Any]) -> bool:
        candidate = options.get("guard")
        if issubclass(cls, ConsentMiddleware) and isinstance(candidate, ConsentGuard):
            found.append(candidate)
            return True
        return False

    inside = asgi_layers_outside(app, is_guard)
    if not found or inside is None:
        return _Located()
    guard = found[0]
    built = None
    if app.middleware_stack is None:  # what Starlette does on its first call
        app.middleware_stack = app.build_middleware_stack()
        built = app
    layer = app.middleware_stack
    for _ in range(64):
        if isinstance(layer, ConsentMiddleware) and layer.guard is guard:
            return _Located(guard, layer, (*outside, *inside), built)
        layer = getattr(layer, "app", None)
        if layer is None:
            break
    return _Located(guard, None, (*outside, *inside), built)


_DJANGO_MIDDLEWARE = "consentguard.django.middleware.ConsentMiddleware"


def _locate_django(chain: Any, outside: tuple[str, ...]) -> _Located:
    """Django's middleware chain: each middleware wrapped by Django's exception handler
    (``__wrapped__``), each holding the next in ``get_response``."""
    passed: list[Any] = []
    for _ in range(64):
        layer = getattr(chain, "__wrapped__", chain)
        cls = type(layer)
        if f"{cls.__module__}.{cls.__qualname__}" == _DJANGO_MIDDLEWARE:
            from .django.conf import get_guard  # Django is installed: its handler runs

            return _Located(get_guard(), layer, (*outside, *_names(passed)), inner="get_response")
        passed.append(layer)
        chain = getattr(layer, "get_response", None)
        if chain is None:
            break
    return _Located()


@contextlib.contextmanager
def _watching(located: _Located, tap: _Tap) -> Iterator[bool]:
    """Watch just inside the app's guard for the audit's duration; yield whether it can."""
    layer = located.layer
    if layer is None:
        yield False
        return
    original = getattr(layer, located.inner)
    if located.inner == "get_response":
        watcher = _django_tap(original, tap, is_async=bool(getattr(layer, "is_async", False)))
    elif isinstance(layer, ConsentMiddleware):
        watcher = _asgi_tap(original, tap)
    else:
        watcher = _wsgi_tap(original, tap)
    setattr(layer, located.inner, watcher)
    try:
        yield True
    finally:
        setattr(layer, located.inner, original)
        if located.built is not None:  # as it was: Starlette builds it on its first call
            located.built.middleware_stack = None


# -- driving the app in-process ----------------------------------------------------------------


@dataclass
class _Response:
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes = b""
    error: str | None = None
    guarded: bool = False  # a consentguard decided this request somewhere inside

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class _Tap:
    """What the app inside the guard answered on the last request, before the guard."""

    set_cookies: list[str] = field(default_factory=list)
    reached: bool = False


_Fetch = Callable[[str, "str | None"], _Response]
_DEFAULT_HEADERS = (("User-Agent", "consentguard-audit"),
                    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"))


def _request_headers(cookie: str | None, extra: Sequence[tuple[str, str]]
                     ) -> list[tuple[str, str]]:
    given = {name.lower() for name, _ in extra}
    headers = [(k, v) for k, v in _DEFAULT_HEADERS if k.lower() not in given]
    headers += extra
    if cookie:
        headers.append(("Cookie", cookie))
    return headers


def _wsgi_tap(app: Any, tap: _Tap) -> Any:
    def tapped(environ: dict[str, Any], start_response: Any) -> Any:
        tap.reached = True

        def tapped_start_response(status: str, headers: list[tuple[str, str]],
                                  exc_info: Any = None) -> Any:
            tap.set_cookies = [v for k, v in headers if k.lower() == "set-cookie"]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return app(environ, tapped_start_response)

    return tapped


def _wsgi_fetch(app: Any, base_url: str, extra: Sequence[tuple[str, str]]) -> _Fetch:
    from werkzeug.test import EnvironBuilder

    def fetch(target: str, cookie: str | None) -> _Response:
        builder = EnvironBuilder(path=target, base_url=base_url,
                                 headers=_request_headers(cookie, extra))
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        response = _Response(None, [])
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], object]:
            response.status = int(status.split(None, 1)[0])
            response.headers = list(headers)
            return chunks.append

        try:
            result = app(environ, start_response)
            try:
                size = 0
                for chunk in result:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= _MAX_HTML:  # enough for the links; never follow an endless stream
                        break
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            response.error = _describe(exc)
        response.body = b"".join(chunks)
        response.guarded = environ.get(ENVIRON_DECISION) is not None
        return response

    return fetch


def _django_tap(get_response: Any, tap: _Tap, *, is_async: bool) -> Any:
    """Record a Django response's Set-Cookie lines as its WSGI and ASGI handlers emit them."""
    def record(response: Any) -> Any:
        tap.reached = True
        tap.set_cookies = [v for k, v in response.items() if k.lower() == "set-cookie"]
        tap.set_cookies += [c.output(header="") for c in response.cookies.values()]
        return response

    if is_async:
        async def tapped_async(request: Any) -> Any:
            return record(await get_response(request))

        return tapped_async

    def tapped(request: Any) -> Any:
        return record(get_response(request))

    return tapped


def _asgi_tap(app: Any, tap: _Tap) -> Any:
    async def tapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            tap.reached = True

        async def tapped_send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                tap.set_cookies = [v.decode("latin-1") for k, v in message.get("headers", ())
                                   if k.lower() == b"set-cookie"]
            await send(message)

        await app(scope, receive, tapped_send)

    return tapped


class _AsgiDriver:
    """Runs an ASGI app on a private event loop: lifespan once, then one request at a time."""

    def __init__(self, app: Any, base_url: str, extra: Sequence[tuple[str, str]] = ()) -> None:
        self.app = app
        self.base = urlsplit(base_url)
        self.extra = list(extra)
        self.loop = asyncio.new_event_loop()
        self.state: dict[str, Any] = {}
        self._lifespan: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] | None = None

    def start(self) -> None:
        self.loop.run_until_complete(self._startup())

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._shutdown())
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    async def _startup(self) -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        started: asyncio.Future[str | None] = self.loop.create_future()

        async def send(message: Mapping[str, Any]) -> None:
            kind = message["type"]
            if kind.startswith("lifespan.startup.") and not started.done():
                started.set_result(None if kind.endswith("complete")
                                   else str(message.get("message", "")))

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        task = self.loop.create_task(self.app(scope, inbox.get, send))
        await inbox.put({"type": "lifespan.startup"})
        await asyncio.wait({task, started}, timeout=_LIFESPAN_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        if started.done():
            failure = started.result()
            if failure is not None:
                raise AuditError(f"the app's startup failed: {failure or 'no message'}")
            self._lifespan, self._inbox = task, inbox
        elif task.done():
            # The app does not speak lifespan (it raised or returned): the ASGI spec says
            # to carry on without it.
            if not task.cancelled():
                task.exception()
        else:
            task.cancel()
            raise AuditError(f"the app's startup did not finish within {_LIFESPAN_TIMEOUT:g} s")

    async def _shutdown(self) -> None:
        if self._lifespan is None or self._inbox is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self._lifespan, _LIFESPAN_TIMEOUT)

    def fetcher(self) -> _Fetch:
        def fetch(target: str, cookie: str | None) -> _Response:
            return self.loop.run_until_complete(self._request(self.app, target, cookie))

        return fetch

    async def _request(self, app: Any, target: str, cookie: str | None) -> _Response:
        split = urlsplit(target)
        state = dict(self.state)
        base = self.base
        default_port = 443 if base.scheme == "https" else 80
        headers = [(b"host", base.netloc.encode("latin-1"))]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in _request_headers(cookie, self.extra)]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": base.scheme,
            "path": unquote(split.path),
            "raw_path": split.path.encode("latin-1"),
            "query_string": split.query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": (base.hostname or "localhost", base.port or default_port),
            "state": state,
        }
        response = _Response(None, [])
        chunks: list[bytes] = []
        done = asyncio.Event()
        request_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # a client that stays until the response is complete
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status = int(message["status"])
                response.headers = [(k.decode("latin-1"), v.decode("latin-1"))
                                    for k, v in message.get("headers", ())]
            elif message["type"] == "http.response.body":
                if sum(map(len, chunks)) < _MAX_HTML:
                    chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    done.set()

        try:
            await asyncio.wait_for(app(scope, receive, send), _REQUEST_TIMEOUT)
        except asyncio.TimeoutError:
            response.error = f"TimeoutError: no complete response within {_REQUEST_TIMEOUT:g} s"
        except Exception as exc:
            response.error = _describe(exc)
        finally:
            done.set()
        response.body = b"".join(chunks)
        response.guarded = "consent_decision" in state
        return response


# -- crawling ----------------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area", "base"):
            href = dict(attrs).get("href")
            if href is None:
                return
            if tag == "base":
                self.base = self.base or href.strip()
            else:
                self.links.append(href.strip())


def _links(body: bytes, content_type: str) -> tuple[list[str], str | None]:
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        text = body.decode(charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    parser = _LinkParser()
    with contextlib.suppress(Exception):  # a broken page yields the links read so far
        parser.feed(text)
        parser.close()
    return parser.links, parser.base


def _same_site_target(href: str, page_url: str, base_url: str) -> str | None:
    """``href`` as a path?query on the audited origin, or ``None`` if it leaves it."""
    url = urlsplit(urljoin(page_url, href))
    base = urlsplit(base_url)
    if url.scheme not in ("http", "https") or url.hostname != base.hostname:
        return None
    default = {"http": 80, "https": 443}
    try:
        port = url.port or default[url.scheme]
    except ValueError:
        return None
    if port != (base.port or default[base.scheme]) and url.scheme == base.scheme:
        return None
    path = quote(url.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(url.query, safe="/%:@!$&'()*+,;=-._~?")
    return f"{path}?{query}" if query else path


class _Jar:
    """The cookies a browser would send back: what reached it, less what was deleted."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self.pairs = {name: f"{name}={value}" for name, value in (initial or {}).items()}

    def header(self) -> str | None:
        return "; ".join(self.pairs.values()) or None

    def update(self, set_cookies: Iterable[str], now: float) -> None:
        for value in set_cookies:
            name = set_cookie_name(value)
            if name is None:
                continue
            if is_deletion(value, now):
                self.pairs.pop(name, None)
            else:
                self.pairs[name] = value.split(";", 1)[0].strip(" \t")



@dataclass(frozen=True)
class _Observation:
    run: Run
    page: str
    name: str
    header: str
    deletion: bool
    passed: bool
    origin: Origin
    attributes: SetCookieAttributes
    now: float


def _sources(delivered: Sequence[str], tap: _Tap, watching: bool, now: float
             ) -> list[tuple[str, Origin, bool]]:
    """Each ``Set-Cookie`` of one response: (header, where it came from, reached the browser)."""
    if not watching:
        return [(value, "unguarded", True) for value in delivered]
    left = Counter(delivered)
    found: list[tuple[str, Origin, bool]] = []
    for value in tap.set_cookies if tap.reached else ():
        passed = left[value] > 0
        if passed:
            left[value] -= 1
        found.append((value, "app", passed))
    for value in delivered:
        if left[value] > 0:
            left[value] -= 1
            if not is_deletion(value, now):  # deletions here are the guard's own purge
                found.append((value, "outside", True))
    return found


def _crawl(
    run: Run,
    fetch: _Fetch,
    tap: _Tap,
    *,
    watching: bool,
    paths: Sequence[str],
    crawl: int,
    jar: _Jar,
    base_url: str,
    skip: Callable[[str], bool],
    progress: Callable[[str], object] | None,
) -> tuple[list[PageResult], list[_Observation], bool]:
    pages: list[PageResult] = []
    observations: list[_Observation] = []
    guarded = False
    queue: deque[str] = deque(paths)
    seen: set[str] = set(paths)
    budget = crawl
    while queue:
        target: str | None = queue.popleft()
        hops = 0
        while target is not None:
            # Reset here too: the consent endpoint answers without reaching the app.
            tap.set_cookies, tap.reached = [], False
            response = fetch(target, jar.header())
            now = time.time()
            guarded = guarded or response.guarded
            names: list[str] = []
            for value, origin, passed in _sources(response.set_cookies, tap, watching, now):
                name = set_cookie_name(value)
                if name is None:  # a browser ignores it; so does the audit
                    continue
                names.append(name)
                observations.append(_Observation(
                    run, target, name, value, is_deletion(value, now), passed, origin,
                    SetCookieAttributes.parse(value), now))
            jar.update(response.set_cookies, now)
            pages.append(PageResult(run, target, response.status, response.error, tuple(names)))
            if progress is not None:
                status = response.status if response.error is None else response.error
                sets = f"  sets {', '.join(dict.fromkeys(names))}" if names else ""
                progress(f"audit [{_RUN_LABELS[run]}] {len(pages)}: {status} {target}{sets}")
            page_url = base_url + target
            next_target = None
            status_code = response.status or 0
            location = response.header("location")
            if 300 <= status_code < 400 and location and hops < _MAX_REDIRECTS:
                found = _same_site_target(location, page_url, base_url)
                if found is not None and found not in seen and not skip(found):
                    seen.add(found)
                    next_target = found
                    hops += 1
            content_type = (response.header("content-type") or "").lower()
            if budget > 0 and 200 <= status_code < 300 and content_type.startswith(
                    ("text/html", "application/xhtml+xml")):
                links, base_href = _links(response.body, content_type)
                page_base = urljoin(page_url, base_href) if base_href else page_url
                for href in links:
                    found = _same_site_target(href, page_base, base_url)
                    if found is None or found in seen or skip(found):
                        continue
                    seen.add(found)
                    queue.append(found)
                    budget -= 1
                    if budget == 0:
                        break
            target = next_target
    return pages, observations, guarded


# -- the audit ---------------------------------------------------------------------------------


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110 §5.6.2)


def _check_cookie(name: str, value: str) -> None:
    if not _TOKEN.fullmatch(name) or any(c in value for c in ";\r\n"):
        raise AuditError(f"{name}={value} is not a cookie to send: NAME=VALUE, a name made of "
                         "letters, digits and !#$%&'*+.^_`|~- and a value without ';'.")


def _check_header(name: str, value: str) -> None:
    if not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
        raise AuditError(f"{name!r} is not a header to send: 'Name: value', a name made of "
                         "letters, digits and !#$%&'*+.^_`|~- and a value on one line.")
    if name.lower() == "cookie":
        raise AuditError("send cookies with --cookie NAME=VALUE (audit_app(cookies=...)), "
                         "not as a Cookie header: the crawl keeps its own cookie jar.")
    if name.lower() == "host":
        raise AuditError("set the host with --base-url (audit_app(base_url=...)), "
                         "not as a Host header.")


def _no_registry() -> Registry:
    return Registry([Category("essential", required=True, description="Needed for the site")],
                    source=None)


@dataclass(frozen=True)
class _Context:
    """What the findings need to say why a cookie leaked."""

    guard: ConsentGuard | None
    watching: bool
    outside: tuple[str, ...]


def audit_app(
    app: Any,
    *,
    registry: Registry | str | Path | None = None,
    paths: Sequence[str] = ("/",),
    crawl: int = 0,
    progress: Callable[[str], object] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    name: str | None = None,
    cookies: Mapping[str, str] | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> AuditReport:
    """Drive ``app`` in-process, exactly as deployed, and report every cookie it sets.

    :param app: a WSGI app (Flask's app object included) or an ASGI app (Starlette,
        FastAPI, Django's ASGI handler), with its consentguard where it is deployed: the
        audit never adds one. When it finds the app's guard it watches just inside it
        (to tell what the guard removed), signs the all-accepted run's consent with it,
        and uses its registry when ``registry`` is None.
    :param registry: the declared cookies (a :class:`Registry` or a file path). Without
        one (and no guard in the app), every cookie counts as undeclared.
    :param paths: the paths to start from (each starts with ``/``; a query is allowed).
    :param crawl: how many more pages to visit by following same-site ``<a href>`` links
        of HTML pages, breadth first (``0``: only ``paths``). Redirects are followed as a
        browser would, and do not count.
    :param progress: called with one line per response (for a progress display).
    :param base_url: the scheme and host the requests claim to be for.
    :param name: how to name the app in the report (default: its repr).
    :param cookies: cookies every request sends from the start (a login session), on top
        of those the crawl collects.
    :param headers: ``(name, value)`` headers every request sends (``Authorization``).
    :raises AuditError: when the app is neither WSGI nor ASGI, its startup fails, or a
        cookie or header to send is malformed.
    :raises RegistryError: when the registry file is invalid.

    Call it from synchronous code: an ASGI app runs on a private event loop.
    """
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise AuditError(f"the start path {path!r} must start with '/'.")
    if crawl < 0:
        raise AuditError("crawl must be 0 or more.")
    base = urlsplit(base_url)
    if base.scheme not in ("http", "https") or not base.hostname or base.path not in ("", "/"):
        raise AuditError(f"base_url {base_url!r} must be an origin such as https://localhost.")
    base_url = f"{base.scheme}://{base.netloc}"
    sent = dict(cookies or {})
    for cookie_name, value in sent.items():
        _check_cookie(cookie_name, value)
    extra = [(k.strip(), v.strip()) for k, v in headers]
    for header_name, value in extra:
        _check_header(header_name, value)
    if isinstance(registry, (str, Path)):
        registry = Registry.load(registry)
    interface = detect_interface(app)
    located = _locate(app)
    guard = located.guard
    warnings: list[str] = []
    if registry is not None:
        registry_label = registry.source or "(given in code)"
    elif guard is not None:
        registry = guard.registry
        registry_label = registry.source or "(from the app's ConsentGuard)"
    else:
        registry = _no_registry()
        registry_label = None
        warnings.append("no registry given: every cookie counts as undeclared. "
                        "Fix: pass --registry cookies.toml.")
    endpoint = guard.endpoint if guard is not None else "/_consent"
    consent_cookie = guard.cookie_name if guard is not None else "cg_consent"
    start = list(dict.fromkeys(_same_site_target(p, base_url + "/", base_url) or p
                               for p in paths))

    def skip(target: str) -> bool:
        path = urlsplit(target).path
        return endpoint is not None and (path == endpoint or path.startswith(endpoint + "/"))

    runs: tuple[Run, ...] = RUNS if guard is not None else ("no_consent",)
    jars: dict[Run, _Jar] = {"no_consent": _Jar(sent)}
    if guard is not None:
        jars["all_accepted"] = _Jar({**sent, consent_cookie: guard.encode_consent(["*"])})
    pages: list[PageResult] = []
    observations: list[_Observation] = []
    guarded = False
    tap = _Tap()
    with _watching(located, tap) as watching:
        driver = _AsgiDriver(app, base_url, extra) if interface == "asgi" else None
        try:
            if driver is not None:
                driver.start()
            fetch = driver.fetcher() if driver is not None else _wsgi_fetch(app, base_url, extra)
            for run_name in runs:
                run_pages, run_observations, run_guarded = _crawl(
                    run_name, fetch, tap, watching=watching, paths=start, crawl=crawl,
                    jar=jars[run_name], base_url=base_url, skip=skip, progress=progress)
                pages += run_pages
                observations += run_observations
                guarded = guarded or run_guarded
        finally:
            if driver is not None:
                driver.close()
    if guard is None and guarded:
        warnings.append(
            "a ConsentGuard runs inside a layer the audit cannot see through, so it cannot "
            "tell what the guard removed, nor sign a consent for the all-accepted run. Fix: "
            "make consentguard the outermost layer (guard.wsgi(app) / guard.asgi(app) last).")
    elif guard is None:
        warnings.append(
            "no consentguard found in the app: nothing stops a cookie before consent, and "
            "the all-accepted run was skipped. Fix: install the middleware as the outermost "
            f"layer ({_WHERE_IT_GOES}).")
    elif not watching:
        warnings.append(
            "the audit found the app's ConsentMiddleware but not the instance that runs, so "
            "it cannot tell what the guard removed from what the app never set.")
    context = _Context(guard, watching, located.outside)
    cookie_reports = _cookie_reports(registry, consent_cookie, observations, context)
    seen_entries = {id(registry.match(c.name)) for c in cookie_reports}
    never_seen = tuple(c for c in registry.cookies
                       if c.storage == "cookie" and id(c) not in seen_entries)
    return AuditReport(
        app=name or repr(app), interface=interface, registry=registry_label,
        base_url=base_url, paths=tuple(paths), crawl=crawl, pages=tuple(pages),
        cookies=cookie_reports, declared_not_seen=never_seen, warnings=tuple(warnings),
        guard=guard.mode if guard is not None else None, outside_guard=located.outside,
        runs=runs,
    )


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


# -- command line ------------------------------------------------------------------------------


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _cookie_option(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise AuditError(f"{text!r} is not NAME=VALUE")
        _check_cookie(name.strip(), value.strip())
    except AuditError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name.strip(), value.strip()


def _header_option(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    try:
        if not sep:
            raise AuditError(f"{text!r} is not 'Name: value'")
        _check_header(name.strip(), value.strip())
    except AuditError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``audit`` command's arguments on ``parser``."""
    parser.add_argument("app", metavar="APP",
                        help="the WSGI or ASGI app as module:attribute (like uvicorn), "
                        "for example myproject.web:app; the current directory is importable")
    parser.add_argument("--registry", "-r", metavar="FILE",
                        help="the cookie registry (.toml or .json); default: the registry of "
                        "the app's own ConsentGuard, else none (every cookie undeclared)")
    parser.add_argument("--path", dest="paths", action="append", metavar="PATH",
                        help="a path to start from; repeat for several (default: /)")
    parser.add_argument("--crawl", type=_non_negative, default=0, metavar="N",
                        help="follow same-site links of HTML pages to at most N more pages "
                        "(default: 0)")
    parser.add_argument("--cookie", dest="cookies", action="append", type=_cookie_option,
                        metavar="NAME=VALUE",
                        help="send this cookie with every request (a login session); repeat "
                        "for several")
    parser.add_argument("--header", dest="headers", action="append", type=_header_option,
                        metavar="'NAME: VALUE'",
                        help="send this header with every request (Authorization); repeat "
                        "for several")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="report format (default: text)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the report to FILE instead of standard output")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL",
                        help=f"scheme and host the requests are made for "
                        f"(default: {DEFAULT_BASE_URL})")
    parser.add_argument("--factory", action="store_true",
                        help="APP is a function that returns the app")
    parser.add_argument("--progress", action="store_true",
                        help="print a line per page on standard error (default: only when "
                        "standard error is a terminal)")


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet_guard_logs() -> Iterator[None]:
    # The app's guard logs every blocked cookie; the report already says it all.
    logger = logging.getLogger("consentguard")
    dropper = _DropAll()
    logger.addFilter(dropper)
    try:
        yield
    finally:
        logger.removeFilter(dropper)


def run(args: argparse.Namespace) -> int:
    """Run ``consentguard audit``: 0 clean, 1 errors found, 2 the audit could not run."""
    stderr = sys.stderr
    show = args.progress or stderr.isatty()

    def progress(line: str) -> None:
        print(line, file=stderr, flush=True)

    try:
        registry = Registry.load(args.registry) if args.registry else None
        # The app's own prints must not end up in a JSON report on stdout.
        with _quiet_guard_logs(), contextlib.redirect_stdout(stderr):
            app = load_app(args.app, factory=args.factory)
            report = audit_app(app, registry=registry, paths=args.paths or ("/",),
                               crawl=args.crawl, progress=progress if show else None,
                               base_url=args.base_url, name=args.app,
                               cookies=dict(args.cookies or ()), headers=args.headers or ())
    except RegistryError as exc:
        print(f"consentguard audit: cannot use the registry: {_describe_line(exc)}", file=stderr)
        return 2
    except AuditError as exc:
        print(f"consentguard audit: {_describe_line(exc)}", file=stderr)
        return 2
    if args.format == "json":
        text = json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    else:
        text = report.to_text()
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"consentguard audit: cannot write {args.output}: {exc.strerror}", file=stderr)
            return 2
    else:
        sys.stdout.write(text)
    return report.exit_code


def _describe_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
