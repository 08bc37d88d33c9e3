"""A FastAPI site with cookie problems, for the audit tests (imported as module:attribute).

- A lifespan handler prepares ``state.greeting``; ``/`` fails without it.
- ``/``: ``sid`` (essential, HttpOnly) and ``_hjid`` (analytics, declared "session",
  set for a year); links to ``/products``.
- ``/products``: ``ad_id`` (marketing) with SameSite=None but no Secure, and an
  undeclared ``ab_test`` cookie; a JSON ``/api/items`` is linked too.
- ``/api/items``: JSON; its links are never followed.

``app`` runs no consentguard; ``guarded_app`` is the same site with ``ConsentMiddleware`` and
``cookies.toml`` beside this file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from consentguard import ConsentGuard, Registry
from consentguard.asgi import ConsentMiddleware


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    yield {"greeting": "Welcome"}


def create_app(*, guarded: bool = False) -> FastAPI:
    app = FastAPI(lifespan=lifespan)
    app.get("/", response_class=HTMLResponse)(index)
    app.get("/products", response_class=HTMLResponse)(products)
    app.get("/api/items")(items)
    app.get("/never")(never)
    if guarded:
        registry = Registry.load(Path(__file__).with_name("cookies.toml"))
        app.add_middleware(ConsentMiddleware, guard=ConsentGuard(registry, "audit-site-secret"))
    return app


def index(request: Request, response: Response) -> str:
    greeting = request.state.greeting  # AttributeError without the lifespan state
    response.set_cookie("sid", "abc", httponly=True, secure=True, samesite="lax")
    response.set_cookie("_hjid", "h1", max_age=365 * 86400, secure=True, samesite="lax")
    return f'<h1>{greeting}</h1><a href="/products">Products</a>'


def products(response: Response) -> str:
    response.set_cookie("ad_id", "x1", max_age=30 * 86400, samesite="none")
    response.set_cookie("ab_test", "B", secure=True, samesite="lax")
    return '<a href="/api/items">API</a> <a href="/">Home</a>'


def items() -> dict[str, str]:
    return {"next": '<a href="/never">never followed: not HTML</a>'}


def never(response: Response) -> dict[str, str]:
    response.set_cookie("never_followed", "1")
    return {}


app = create_app()
guarded_app = create_app(guarded=True)
