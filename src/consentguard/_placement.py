"""Is the guard the outermost middleware? Finding the layers that wrap it.

A middleware outside the guard is outside the consent policy: the cookies it sets never
pass the check, and it answers ``/_consent`` before the guard can (a CSRF middleware's 403
breaks the banner). The adapters call these once per app and warn; the audit names the
same layers in its report. Frameworks are read by duck typing (no framework import).
The ASGI middleware's once-per-app check also looks at a ``SessionMiddleware`` beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from ._session_check import warn_about_session_cookie

__all__ = ["PROXY_FIXERS", "asgi_layers_outside", "check_asgi_stack", "is_proxy_fixer",
           "layer_name", "warn_outside", "wsgi_layers_outside"]

logger = logging.getLogger("consentguard")

# Layers that belong outside the guard: they rewrite the request's host and scheme from a
# trusted proxy's headers, which the guard needs (origin check, purge domains), and set no
# cookie. ``module.QualName`` of the class or of one of its bases.
PROXY_FIXERS = frozenset({
    "werkzeug.middleware.proxy_fix.ProxyFix",
    "uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware",
})

_MAX_DEPTH = 32  # wrappers nest a few levels; never follow a cycle forever


def layer_name(layer: Any) -> str:
    """How to name a middleware in a message: its class, or a function's name.

    A Starlette ``Middleware(cls, ...)`` entry is named by its class, and one built by
    ``@app.middleware("http")`` by its dispatch function too.
    """
    cls = getattr(layer, "cls", None)
    if isinstance(cls, type):  # a Starlette Middleware entry
        dispatch = _options(layer).get("dispatch")
        name = cls.__name__
        return f"{name}(dispatch={_callable_name(dispatch)})" if dispatch is not None else name
    if isinstance(layer, type) or (callable(layer) and hasattr(layer, "__qualname__")):
        return _callable_name(layer)
    return type(layer).__name__


def _callable_name(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", None) or type(obj).__name__)


def is_proxy_fixer(layer: Any) -> bool:
    """Whether ``layer`` (a middleware, its class or a Starlette entry) fixes proxy headers."""
    cls = getattr(layer, "cls", None)
    if not isinstance(cls, type):
        cls = layer if isinstance(layer, type) else type(layer)
    return any(f"{base.__module__}.{base.__qualname__}" in PROXY_FIXERS for base in cls.__mro__)


def _options(entry: Any) -> dict[str, Any]:
    # Starlette >= 0.35 keeps keyword arguments in ``kwargs``; older releases in ``options``.
    options = getattr(entry, "kwargs", None) or getattr(entry, "options", None)
    return options if isinstance(options, dict) else {}


def asgi_layers_outside(app: Any, is_guard: Callable[[Any, dict[str, Any]], bool]
                        ) -> list[str] | None:
    """The user middleware a Starlette/FastAPI ``app`` runs outside its guard.

    :param app: the app (``scope["app"]`` inside a request); anything without a
        ``user_middleware`` list gives ``None``.
    :param is_guard: tells the guard's entry from its class and keyword arguments.
    :returns: the names of the entries listed before the guard's (first = outermost),
        proxy-header fixers left out; ``None`` when the guard is not in the list.
    """
    entries = getattr(app, "user_middleware", None)
    if not isinstance(entries, list):
        return None
    for index, entry in enumerate(entries):
        cls = getattr(entry, "cls", None)
        if isinstance(cls, type) and is_guard(cls, _options(entry)):
            return [layer_name(e) for e in entries[:index] if not is_proxy_fixer(e)]
    return None


def wsgi_layers_outside(top: Any, guard_layer: Any) -> list[str] | None:
    """The WSGI middleware between ``top`` and ``guard_layer``, outermost first.

    Follows each wrapper's ``app`` (werkzeug's and most middleware's convention) or
    ``wsgi_app`` attribute. Proxy-header fixers are left out.

    :returns: the names of the layers outside the guard (empty when ``top`` is the guard),
        or ``None`` when the chain does not lead to it (then only the outermost layer,
        ``top``, is known to be outside: the caller names it).
    """
    outside: list[Any] = []
    layer = top
    for _ in range(_MAX_DEPTH):
        if layer is guard_layer:
            return [layer_name(x) for x in outside if not is_proxy_fixer(x)]
        outside.append(layer)
        inner = getattr(layer, "app", None)
        if inner is None or inner is layer:
            inner = getattr(layer, "wsgi_app", None)
        if inner is None or inner is layer:
            return None
        layer = inner
    return None


def warn_outside(names: Iterable[str], *, where: str, fix: str) -> None:
    """Log the one warning for middleware outside the guard (nothing when there is none)."""
    names = list(names)
    if not names:
        return
    logger.warning(
        "consentguard is not the outermost middleware of %s: %s %s outside it, so %s "
        "cookies bypass the consent check and %s can answer the consent endpoint before the "
        "guard does. Fix: %s",
        where, ", ".join(names), "runs" if len(names) == 1 else "run",
        "its" if len(names) == 1 else "their", "it" if len(names) == 1 else "they", fix)


def check_asgi_stack(middleware: Any, scope: Any) -> bool:
    """Check, once, the Starlette/FastAPI app around ``middleware`` (Starlette puts itself
    in ``scope["app"]``): warn about user middleware outside the guard and about a
    ``SessionMiddleware`` cookie the registry gets wrong. Return ``False`` so the caller
    never asks again."""
    app = scope.get("app")
    outside = asgi_layers_outside(
        app, lambda cls, options: cls is type(middleware)
        and options.get("guard") is middleware.guard)
    if outside:
        warn_outside(outside, where=f"the {type(app).__name__} app", fix=(
            f"add {type(middleware).__name__} last, after every other add_middleware call "
            "(add_middleware puts each new middleware outside the ones before it), or "
            "first in middleware=[...]."))
    if outside is not None:  # the guard is in this app's list: so may a session be
        for entry in app.user_middleware:
            cls = getattr(entry, "cls", None)
            if isinstance(cls, type) and any(
                    f"{base.__module__}.{base.__qualname__}" == _SESSION_MIDDLEWARE
                    for base in cls.__mro__):
                name = _options(entry).get("session_cookie", "session")
                warn_about_session_cookie(middleware.guard, str(name), cls.__name__)
    return False


_SESSION_MIDDLEWARE = "starlette.middleware.sessions.SessionMiddleware"
