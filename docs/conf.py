"""Sphinx configuration: MyST Markdown pages, furo, autodoc of the docstrings' field lists."""

from __future__ import annotations

import consentguard

project = "consentguard"
author = "the consentguard authors"
release = version = consentguard.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = "consentguard"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

# Annotations are strings (``from __future__ import annotations``) and some types are
# imported only under TYPE_CHECKING, so autodoc sees a bare "ConsentGuard" where both
# consentguard.ConsentGuard and the Flask extension consentguard.flask.ConsentGuard exist.
# Sphinx then warns "more than one target" (ref.python) and links the first documented,
# the core class, which is the one meant. Missing targets still fail the build.
suppress_warnings = ["ref.python"]

# Every reference must resolve (scripts/docs.sh builds with -W). Intersphinx is off: the
# build runs offline, so types from the standard library and third-party packages cannot be
# linked; they are listed here instead of left as warnings.
nitpicky = True
nitpick_ignore: list[tuple[str, str]] = []
nitpick_ignore_regex = [
    # the standard library and typing
    ("py:class", r"(datetime|collections\.abc|typing|pathlib|os|logging|sqlite3|enum)\..*"),
    ("py:class", r"(Path|datetime|timedelta|date|Callable|Iterable|Iterator|Mapping|Sequence)"),
    ("py:class", r"collections\.Counter"),
    # WSGI/ASGI callables: typeshed and the ASGI spec have no documentation to link to
    ("py:class", r"(_typeshed\..*|WSGIApplication|StartResponse|WSGIEnvironment|ASGIApp|Scope)"),
    # the project's Literal and Union aliases, shown by name; the options page lists values
    ("py:class", r"(SecretKey|Unknown|Mode|Storage|PolicyFormat|Level|Run)"),
    # the audit's report, described field by field in reference/audit-json.md
    ("py:class", r"AuditReport"),
    # third-party frameworks' types in adapter signatures
    ("py:class", r"(flask|werkzeug|starlette|fastapi|django|sqlalchemy|itsdangerous)\..*"),
    ("py:func", r"sqlalchemy\..*"),
    ("py:class", r"(Flask|URL|Engine|HttpRequest|GetResponse)"),
    ("py:exc", r"ImproperlyConfigured"),
    # flask.py's annotation for the core guard, as its module imports it (``from . import
    # guard as _guard``): autodoc cannot evaluate it and shows the text
    ("py:class", r"_guard\.ConsentGuard"),
    # ConsentGuard.codec's type: the guard's signing machinery, not documented API
    ("py:class", r"consentguard\.consent\.ConsentCodec"),
]
