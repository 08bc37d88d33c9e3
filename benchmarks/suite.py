"""The in-process groups: each a set of variants timed side by side (see :mod:`.harness`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import apps, fixtures
from .harness import Variant, asgi_runner, asgi_scope, wsgi_environ, wsgi_runner

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from consentguard import ConsentGuard

# Cold requests cycle through more distinct consent values than any cache holds (the
# codec remembers 4,096), so every one of them is verified from scratch. Each cold variant
# has a guard of its own (``cold_guard``): a guard shared with other variants or groups
# would still remember values an earlier one verified, and its "cold" requests would not be.
COLD_POOL = 8192


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


@dataclass
class Context:
    loop: asyncio.AbstractEventLoop
    guard: ConsentGuard
    warm_value: str
    warm_cookie: str
    cold_cookies: list[str]
    cold_values: list[str]
    varied_cookies: list[str]

    @classmethod
    def build(cls, loop: asyncio.AbstractEventLoop, *, cold_pool: int = COLD_POOL) -> Context:
        guard = fixtures.make_guard()
        values = fixtures.consent_values(guard, cold_pool + 1)
        return cls(
            loop=loop,
            guard=guard,
            warm_value=values[0],
            warm_cookie=fixtures.cookie_header(values[0]),
            cold_cookies=[fixtures.cookie_header(v) for v in values[1:]],
            cold_values=values[1:],
            varied_cookies=[fixtures.cookie_header(values[0], variant=i)
                            for i in range(cold_pool)],
        )

    def scopes(self, cookie: str | None = None) -> list[dict[str, Any]]:
        return [asgi_scope(self.warm_cookie if cookie is None else cookie, fixtures.HOST)]

    def cold_scopes(self) -> list[dict[str, Any]]:
        return [asgi_scope(c, fixtures.HOST) for c in self.cold_cookies]

    def asgi(self, label: str, app: apps.ASGIApp, cold: bool = False,
             cookie: str | None = None, varied: bool = False) -> Variant:
        if varied:
            scopes = [asgi_scope(c, fixtures.HOST) for c in self.varied_cookies]
        else:
            scopes = self.cold_scopes() if cold else self.scopes(cookie)
        return Variant(label, asgi_runner(app, scopes, self.loop))


VARIED = "+ consentguard, warm consent, other cookies new each request"
VARIED_NOTE = (f"warm: the same request again; cold: a new valid consent value each request "
               f"(cycling through {COLD_POOL:,}, more than any cache holds); "
               "\"other cookies new\": the same consent, but every other request cookie and "
               "every Set-Cookie value differs each request (what a busy site's caches see)")


def asgi_raw(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    guard = ctx.guard
    return Group("asgi-raw", "In-process ASGI, raw app", [
        ctx.asgi("bare", raw),
        ctx.asgi("+ no-op send wrapper", apps.NoopASGIWrapper(raw)),
        ctx.asgi("+ consentguard, warm", apps.with_guard(raw, guard)),
        ctx.asgi("+ consentguard, cold", apps.with_guard(raw, cold_guard()), cold=True),
        # Each its own app: one app's cycle of responses, shared with the bare variant's
        # thousands of requests a sample, would bring the guarded one lists it had seen.
        ctx.asgi("bare, other cookies new each request", apps.raw_asgi(varied=COLD_POOL),
                 varied=True),
        ctx.asgi(VARIED, apps.with_guard(apps.raw_asgi(varied=COLD_POOL), guard), varied=True),
        ctx.asgi("+ Starlette SessionMiddleware", apps.with_session(raw)),
    ], "bare", note=VARIED_NOTE)


def _framework(ctx: Context, key: str, title: str,
               make: Callable[[str, ConsentGuard | None], apps.ASGIApp]) -> Group:
    guard = ctx.guard
    return Group(key, title, [
        ctx.asgi("bare", make("", None)),
        ctx.asgi("+ no-op send wrapper", make("noop", None)),
        ctx.asgi("+ consentguard, warm", make("guard", guard)),
        ctx.asgi("+ consentguard, cold", make("guard", cold_guard()), cold=True),
        ctx.asgi("+ Starlette SessionMiddleware", make("session", None)),
    ], "bare")


def starlette(ctx: Context) -> Group:
    return _framework(ctx, "starlette", "In-process ASGI, small Starlette app",
                      apps.starlette_app)


def fastapi(ctx: Context) -> Group:
    return _framework(ctx, "fastapi", "In-process ASGI, small FastAPI app", apps.fastapi_app)


def _environs(cookies: Sequence[str]) -> list[WSGIEnvironment]:
    return [wsgi_environ(c, fixtures.HOST) for c in cookies]


def wsgi_raw(ctx: Context) -> Group:
    raw = apps.raw_wsgi()
    guarded = ctx.guard.wsgi(raw)
    warm = _environs([ctx.warm_cookie])
    cold = _environs(ctx.cold_cookies)
    varied = _environs(ctx.varied_cookies)
    return Group("wsgi-raw", "In-process WSGI, raw app", [
        Variant("bare", wsgi_runner(raw, warm)),
        Variant("+ no-op start_response wrapper", wsgi_runner(apps.NoopWSGIWrapper(raw), warm)),
        Variant("+ consentguard, warm", wsgi_runner(guarded, warm)),
        Variant("+ consentguard, cold", wsgi_runner(cold_guard().wsgi(raw), cold)),
        # (each its own app, as in asgi_raw)
        Variant("bare, other cookies new each request",
                wsgi_runner(apps.raw_wsgi(varied=COLD_POOL), varied)),
        Variant(VARIED, wsgi_runner(ctx.guard.wsgi(apps.raw_wsgi(varied=COLD_POOL)), varied)),
    ], "bare", note=VARIED_NOTE)


def flask(ctx: Context) -> Group:
    session = apps.flask_session_value()
    warm_cookie = fixtures.cookie_header(ctx.warm_value, session=session)
    warm = _environs([warm_cookie])
    cold = _environs([fixtures.cookie_header(v, session=session) for v in ctx.cold_values])
    guard = ctx.guard
    return Group("flask", "In-process WSGI, small Flask app", [
        Variant("bare", wsgi_runner(apps.flask_app(""), warm)),
        Variant("+ no-op start_response wrapper", wsgi_runner(apps.flask_app("noop"), warm)),
        Variant("+ consentguard, warm", wsgi_runner(apps.flask_app("guard", guard), warm)),
        Variant("+ consentguard, cold", wsgi_runner(apps.flask_app("guard", cold_guard()),
                                                    cold)),
        Variant("+ Flask session", wsgi_runner(apps.flask_app("session"), warm)),
    ], "bare")


def registry_size(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    large = fixtures.make_guard(fixtures.large_registry(2000))
    return Group("registry", "Scaling: registry size (raw ASGI app, warm)", [
        ctx.asgi("bare", raw),
        ctx.asgi("+ consentguard, 10 entries", apps.with_guard(raw, ctx.guard)),
        ctx.asgi("+ consentguard, 2,000 entries (998 patterns)", apps.with_guard(raw, large),
                 cookie=fixtures.cookie_header(large.encode_consent(fixtures.ACCEPTED))),
    ], "bare")


def request_cookies(ctx: Context) -> Group:
    raw = apps.raw_asgi()
    guarded = apps.with_guard(raw, ctx.guard)
    value = ctx.warm_value
    variants = [ctx.asgi("bare", raw)]
    for count in (1, 10, 30):
        cookie = fixtures.cookie_header(value, allowed=count - 1)
        variants.append(ctx.asgi(f"+ consentguard, {count} request cookies", guarded,
                                 cookie=cookie))
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
        cookie = fixtures.cookie_header(value, refused=count)
        variants.append(ctx.asgi(f"+ consentguard, {count} refused cookies to purge", guarded,
                                 cookie=cookie))
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
