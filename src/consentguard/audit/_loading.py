"""Importing the app (``module:attribute``), WSGI or ASGI, and finding its guard."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .._placement import asgi_layers_outside, is_proxy_fixer, layer_name
from ..asgi import ConsentMiddleware
from ..guard import ConsentGuard
from ..wsgi import WSGIConsentMiddleware
from ._report import AuditError, Interface

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .._types import ASGIApp

# -- loading an app ----------------------------------------------------------------------------


def load_app(target: str, *, factory: bool = False) -> WSGIApplication | ASGIApp:
    """Import the app named ``module:attribute`` (the current directory is importable).

    :param target: ``"package.module:app"``; the attribute may be dotted (``"web:api.app"``).
    :param factory: call the attribute with no arguments to get the app.
    :raises AuditError: when it cannot be imported, with a one-line reason and the fix.
        Whether it is an app at all, :func:`detect_interface` tells.
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
    return cast("WSGIApplication | ASGIApp", obj)


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def detect_interface(app: object) -> Interface:
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
    layer: object = None  # the WSGIConsentMiddleware / ConsentMiddleware that runs the guard
    outside: tuple[str, ...] = ()  # the middleware outside it, outermost first
    built: Any = None  # a Starlette app whose middleware stack the audit built
    inner: str = "app"  # the layer's attribute that holds what it wraps


def _locate(app: WSGIApplication | ASGIApp) -> _Located:
    """Find the guard in ``app`` as deployed: wrappers' ``app`` attributes, Flask's
    ``wsgi_app``, Starlette's middleware list. Nothing is changed."""
    outside: list[Any] = []
    layer: Any = app  # whatever wraps what, found by its attributes
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
            from ..django.conf import get_guard  # Django is installed: its handler runs

            return _Located(get_guard(), layer, (*outside, *_names(passed)), inner="get_response")
        passed.append(layer)
        chain = getattr(layer, "get_response", None)
        if chain is None:
            break
    return _Located()
