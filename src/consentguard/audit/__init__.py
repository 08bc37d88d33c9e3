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

The package: ``_report`` (the report and its renderings), ``_loading`` (importing the app,
finding its guard), ``_drivers`` (WSGI and ASGI in-process, the watch inside the guard),
``_crawl`` (links, redirects, the cookie jar), ``_findings``; this module runs them. The
command line (``consentguard audit``) lives in :mod:`consentguard.cli`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from ..registry import Category, Registry
from ._crawl import _crawl, _Jar, _Observation, _same_site_target
from ._drivers import _AsgiDriver, _Tap, _watching, _wsgi_fetch
from ._findings import _WHERE_IT_GOES, _Context, _cookie_reports
from ._loading import _locate, detect_interface, load_app
from ._report import (
    RUNS,
    AuditError,
    AuditReport,
    CookieReport,
    Finding,
    PageResult,
    Run,
    RunStats,
    SetCookieAttributes,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .._types import ASGIApp

__all__ = [
    "DEFAULT_BASE_URL",
    "RUNS",
    "AuditError",
    "AuditReport",
    "CookieReport",
    "Finding",
    "PageResult",
    "RunStats",
    "SetCookieAttributes",
    "audit_app",
    "check_cookie",
    "check_header",
    "detect_interface",
    "load_app",
]

DEFAULT_BASE_URL = "https://localhost"


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110 §5.6.2)


def check_cookie(name: str, value: str) -> None:
    """Check a cookie the audit is to send (``--cookie NAME=VALUE``).

    :raises AuditError: when the name is not an HTTP token or the value holds ``;`` or a
        line break.
    """
    if not _TOKEN.fullmatch(name) or any(c in value for c in ";\r\n"):
        raise AuditError(f"{name}={value} is not a cookie to send: NAME=VALUE, a name made of "
                         "letters, digits and !#$%&'*+.^_`|~- and a value without ';'.")


def check_header(name: str, value: str) -> None:
    """Check a header the audit is to send (``--header "Name: value"``).

    :raises AuditError: when the name is not an HTTP token, the value spans lines, or it
        is ``Cookie`` or ``Host`` (the crawl's jar and ``base_url`` set those).
    """
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


def audit_app(
    app: WSGIApplication | ASGIApp,
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
    :param registry: the declared cookies (a :class:`~consentguard.Registry` or a file
        path). Without one (and no guard in the app), every cookie counts as undeclared.
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
        check_cookie(cookie_name, value)
    extra = [(k.strip(), v.strip()) for k, v in headers]
    for header_name, value in extra:
        check_header(header_name, value)
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
        # detect_interface told them apart
        driver = (_AsgiDriver(cast("ASGIApp", app), base_url, extra) if interface == "asgi"
                  else None)
        try:
            if driver is not None:
                driver.start()
            fetch = (driver.fetcher() if driver is not None
                     else _wsgi_fetch(cast("WSGIApplication", app), base_url, extra))
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
