"""The ``<script>`` tag that puts the consent banner on a page.

The banner itself is ``static/banner.js`` and ``static/banner.css``, served by the
middleware at ``{endpoint}/banner.js`` and ``{endpoint}/banner.css``. A plain
``<script src="/_consent/banner.js" defer></script>`` works; :func:`banner_tag` adds the
content hashes (``?v=…&css=…``) so browsers may cache both files for a year.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .endpoint import static_file

if TYPE_CHECKING:
    from .guard import ConsentGuard

__all__ = ["banner_src", "banner_tag"]


def banner_src(guard: ConsentGuard, *, prefix: str = "") -> str:
    """The versioned URL of ``banner.js``: ``/_consent/banner.js?v=<js hash>&css=<css hash>``.

    :param guard: the guard whose endpoint serves the files.
    :param prefix: the path the app is mounted under (``request.script_root`` in Flask,
        ``request.scope["root_path"]`` in Starlette), if any.
    :raises ValueError: when the guard serves no endpoint (``endpoint=None``).
    """
    if guard.endpoint is None:
        raise ValueError("the guard serves no consent endpoint (endpoint=None), so there is "
                         "no banner to load; pass endpoint='/_consent' to ConsentGuard.")
    _, js_hash = static_file("banner.js")
    _, css_hash = static_file("banner.css")
    query = urlencode({"v": js_hash, "css": css_hash})
    return f"{prefix.rstrip('/')}{guard.endpoint}/banner.js?{query}"


def banner_tag(guard: ConsentGuard, *, prefix: str = "", texts: Mapping[str, str] | None = None,
               policy_url: str | None = None) -> str:
    """The HTML ``<script … defer>`` tag that loads the banner, with cache-busting hashes.

    :param guard: the guard whose endpoint serves the files.
    :param prefix: the path the app is mounted under, if any (see :func:`banner_src`).
    :param texts: banner texts replacing the English defaults (``title``, ``body``,
        ``acceptAll``, ``rejectAll``, ``customise``, ``save``, ``settingsTitle``,
        ``settingsBody``, ``close``, ``required``, ``policy``, ``error``), written to the
        tag's ``data-texts`` attribute.
    :param policy_url: a link to the cookie policy shown in the banner's first layer.
    :raises ValueError: when the guard serves no endpoint (``endpoint=None``).

    The result is HTML: in Jinja write ``{{ tag|safe }}`` (or wrap it in ``Markup``).
    """
    attributes = [f'src="{escape(banner_src(guard, prefix=prefix))}"']
    if texts:
        attributes.append(f'data-texts="{escape(json.dumps(dict(texts)))}"')
    if policy_url:
        attributes.append(f'data-policy-url="{escape(policy_url)}"')
    return f"<script {' '.join(attributes)} defer></script>"
