"""The apps uvicorn serves for the real-server benchmark: ``benchmarks.serve:bare`` and
``benchmarks.serve:guarded`` (the small Starlette app, without and with consentguard)."""

from __future__ import annotations

from . import apps, fixtures

bare = apps.starlette_app("")
guarded = apps.starlette_app("guard", fixtures.make_guard())
