"""The in-process groups: each a set of variants timed side by side (see :mod:`.harness`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import apps, fixtures
from .harness import Variant, asgi_runner, asgi_scope, wsgi_environ, wsgi_runner

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from consentguard import ConsentGuard

# Cold requests cycle through more distinct consent values than any cache holds (the
# codec remembers 4,096), so every one of them is verified from scratch. Each cold variant
# has a guard of its own (``cold_guard``): a guard shared with other variants or groups
# would still remember values an earlier one verified, and its "cold" requests would not be.
COLD_POOL = 8192
# Busy requests: the other cookies' values carry the request's number (never repeating
# within a million), the session is one of this many logged-in visitors' valid sessions.
SESSIONS = 256


def cold_guard() -> ConsentGuard:
    """A guard whose caches have seen nothing (the same secret: the values verify)."""
    return fixtures.make_guard()


@dataclass
class Group:
    """Variants compared with each other; ``baseline`` is the label ratios refer to."""

    key: str
    title: str
    variants: list[Variant]
    baseline: str
    note: str = ""

    def get(self, label: str) -> Variant:
        for variant in self.variants:
            if variant.label == label:
                return variant
        raise KeyError(label)


Cookies = Callable[[int], str]  # the i-th request's Cookie header, a new string each call


@dataclass
class Context:
    """What every group shares: the event loop, a warm guard, the consent values and
    the three kinds of request (:meth:`warm`, :meth:`cold`, :meth:`busy`)."""

    loop: asyncio.AbstractEventLoop
    guard: ConsentGuard
    warm_value: str
    cold_values: list[str]
    sessions: list[str]

    @classmethod
    def build(cls, loop: asyncio.AbstractEventLoop, *, cold_pool: int = COLD_POOL) -> Context:
        guard = fixtures.make_guard()
        values = fixtures.consent_values(guard, cold_pool + 1)
        return cls(loop=loop, guard=guard, warm_value=values[0], cold_values=values[1:],
                   sessions=[fixtures.session_cookie_value(uid) for uid in range(SESSIONS)])

    def warm(self, i: int) -> str:
        """The same Cookie header again (equal, not the same object)."""
        return fixtures.cookie_header(self.warm_value)

    def cold(self, i: int) -> str:
        """A new consent value each request, the other cookies as in :meth:`warm`."""
        return fixtures.cookie_header(self.cold_values[i % len(self.cold_values)])

    def busy(self, i: int) -> str:
        """The same consent; every other value new, the session a visitor's own."""
        return fixtures.cookie_header(self.warm_value, variant=i % 1_000_000,
                                      session=self.sessions[i % len(self.sessions)])

    def asgi(self, label: str, app: apps.ASGIApp, cookies: Cookies | None = None) -> Variant:
        make = cookies or self.warm
        return Variant(label, asgi_runner(app, lambda i: asgi_scope(make(i), fixtures.HOST),
                                          self.loop))

    def wsgi(self, label: str, app: WSGIApplication, cookies: Cookies | None = None
             ) -> Variant:
        make = cookies or self.warm
        return Variant(label, wsgi_runner(app, lambda i: wsgi_environ(make(i), fixtures.HOST)))


WARM, COLD, BUSY = "+ consentguard, warm", "+ consentguard, cold", "+ consentguard, busy"
SESSION = "+ Starlette SessionMiddleware"
NOTE = ("warm: the same Cookie header and response again; cold: a new valid consent value "
        f"each request (cycling through {COLD_POOL:,}, more than any cache holds); busy: the "
        "same consent, but every other request cookie and every Set-Cookie value new each "
        "request (what a real site sees); SessionMiddleware: on the busy requests, each "
        "carrying a logged-in visitor's valid signed session, which it decodes (the app "
        "does not modify it, so it is not re-signed). 12 request cookies, 7 Set-Cookie "
        "headers, every request built from new objects")


def asgi_raw(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    return Group("asgi-raw", "In-process ASGI, raw app", [
        ctx.asgi("bare", raw),
        ctx.asgi("+ no-op send wrapper", apps.NoopASGIWrapper(raw)),
        ctx.asgi(WARM, apps.with_guard(raw, ctx.guard)),
        ctx.asgi(COLD, apps.with_guard(raw, cold_guard()), ctx.cold),
        ctx.asgi(BUSY, apps.with_guard(apps.raw_asgi(varied=True), cold_guard()), ctx.busy),
        ctx.asgi(SESSION, apps.with_session(apps.raw_asgi(varied=True)), ctx.busy),
    ], "bare", note=NOTE)


def _framework(ctx: Context, key: str, title: str,
               make: Callable[[str, ConsentGuard | None], apps.ASGIApp]) -> Group:
    return Group(key, title, [
        ctx.asgi("bare", make("", None)),
        ctx.asgi("+ no-op send wrapper", make("noop", None)),
        ctx.asgi(WARM, make("guard", ctx.guard)),
        ctx.asgi(COLD, make("guard", cold_guard()), ctx.cold),
        ctx.asgi(SESSION, make("session", None)),
    ], "bare")


def starlette(ctx: Context) -> Group:
    return _framework(ctx, "starlette", "In-process ASGI, small Starlette app",
                      apps.starlette_app)


def fastapi(ctx: Context) -> Group:
    return _framework(ctx, "fastapi", "In-process ASGI, small FastAPI app", apps.fastapi_app)


def wsgi_raw(ctx: Context) -> Group:
    raw = apps.raw_wsgi()
    return Group("wsgi-raw", "In-process WSGI, raw app", [
        ctx.wsgi("bare", raw),
        ctx.wsgi("+ no-op start_response wrapper", apps.NoopWSGIWrapper(raw)),
        ctx.wsgi(WARM, ctx.guard.wsgi(raw)),
        ctx.wsgi(COLD, cold_guard().wsgi(raw), ctx.cold),
        ctx.wsgi(BUSY, cold_guard().wsgi(apps.raw_wsgi(varied=True)), ctx.busy),
    ], "bare", note="as for the raw ASGI app")


def flask(ctx: Context) -> Group:
    session = apps.flask_session_value()

    def warm(i: int) -> str:
        return fixtures.cookie_header(ctx.warm_value, session=session)

    def cold(i: int) -> str:
        value = ctx.cold_values[i % len(ctx.cold_values)]
        return fixtures.cookie_header(value, session=session)

    return Group("flask", "In-process WSGI, small Flask app", [
        ctx.wsgi("bare", apps.flask_app(""), warm),
        ctx.wsgi("+ no-op start_response wrapper", apps.flask_app("noop"), warm),
        ctx.wsgi(WARM, apps.flask_app("guard", ctx.guard), warm),
        ctx.wsgi(COLD, apps.flask_app("guard", cold_guard()), cold),
        ctx.wsgi("+ Flask session", apps.flask_app("session"), warm),
    ], "bare")


def registry_size(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    large = fixtures.make_guard(fixtures.large_registry(2000))
    value = large.encode_consent(fixtures.ACCEPTED)
    return Group("registry", "Scaling: registry size (raw ASGI app, warm)", [
        ctx.asgi("bare", raw),
        ctx.asgi("+ consentguard, 10 entries", apps.with_guard(raw, ctx.guard)),
        ctx.asgi("+ consentguard, 2,000 entries (998 patterns)", apps.with_guard(raw, large),
                 lambda i: fixtures.cookie_header(value)),
    ], "bare")


def _cookies(value: str, i: int, *, allowed: int = 11, refused: int = 0) -> str:
    return fixtures.cookie_header(value, allowed=allowed, refused=refused)


def request_cookies(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    guarded = apps.with_guard(raw, ctx.guard)
    value = ctx.warm_value
    variants = [ctx.asgi("bare", raw)]
    for count in (1, 10, 30):
        variants.append(ctx.asgi(f"+ consentguard, {count} request cookies", guarded,
                                 functools.partial(_cookies, value, allowed=count - 1)))
    return Group("cookies", "Scaling: request cookies (raw ASGI app, warm)", variants, "bare",
                 note="consent cookie + allowed declared cookies")


def set_cookie_headers(ctx: Context) -> Group:
    variants = []
    for count in (1, 7, 20):
        raw = apps.raw_asgi(count)
        variants.append(ctx.asgi(f"bare, {count} Set-Cookie", raw))
        variants.append(ctx.asgi(f"+ consentguard, {count} Set-Cookie",
                                 apps.with_guard(raw, ctx.guard)))
    return Group("set-cookie", "Scaling: Set-Cookie headers (raw ASGI app, warm)", variants,
                 "bare, 1 Set-Cookie",
                 note="1 = the session cookie; 7 = the realistic mix (2 removed); "
                      "20 = that mix + 13 allowed analytics cookies")


def refused_cookies(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    guarded = apps.with_guard(raw, ctx.guard)
    value = ctx.warm_value
    variants = [ctx.asgi("bare", raw)]
    for count in (0, 3, 6):
        variants.append(ctx.asgi(f"+ consentguard, {count} refused cookies to purge", guarded,
                                 functools.partial(_cookies, value, refused=count)))
    return Group("purge", "Scaling: refused request cookies to purge (raw ASGI app, warm)",
                 variants, "bare",
                 note="each refused cookie is hidden from the app and deleted on up to 5 "
                      "domains")


GROUPS: dict[str, Callable[[Context], Group]] = {
    "asgi-raw": asgi_raw,
    "starlette": starlette,
    "fastapi": fastapi,
    "wsgi-raw": wsgi_raw,
    "flask": flask,
    "registry": registry_size,
    "cookies": request_cookies,
    "set-cookie": set_cookie_headers,
    "purge": refused_cookies,
}
