"""The apps the real-server benchmark serves, without and with consentguard.

uvicorn serves ``benchmarks.serve:bare`` and ``benchmarks.serve:guarded`` (the small
Starlette app); gunicorn serves ``benchmarks.serve:flask_bare`` and
``benchmarks.serve:flask_guarded`` (the small Flask app).
"""

from __future__ import annotations

from . import apps, fixtures

bare = apps.starlette_app("")
guarded = apps.starlette_app("guard", fixtures.make_guard())
flask_bare = apps.flask_app("")
flask_guarded = apps.flask_app("guard", fixtures.make_guard())
