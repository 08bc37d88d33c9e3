"""The human cookie policy, rendered from a :class:`~consentguard.Registry`.

One function, :func:`render_policy`, gives the page in Markdown, HTML or JSON: the
categories in declaration order, each with its description and a table of its cookies
and storage keys (name, type, purpose, duration, provider, first or third party), and
"last updated" from the registry ``version``. :func:`policy_data` is the JSON form as a
dict, for templates of your own.

The HTML is a self-contained fragment (no styles, no scripts) with semantic table
markup: ``<section>`` per category, ``<table>`` with a ``<caption>``, ``<th scope="col">``
headers and ``<th scope="row">`` names. Every piece of registry text is escaped.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Literal

from .registry import Category, Cookie, Registry

__all__ = ["COLUMNS", "FORMATS", "PolicyFormat", "cookie_data", "policy_data", "render_policy"]

PolicyFormat = Literal["markdown", "html", "json"]
FORMATS: tuple[PolicyFormat, ...] = ("markdown", "html", "json")

#: The table columns, in order.
COLUMNS = ("Cookie / storage key", "Type", "Purpose", "Duration", "Provider", "Party")

_NOT_STATED = "Not stated"
_FIRST_PARTY = "This site"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def cookie_data(cookie: Cookie) -> dict[str, Any]:
    """One declared cookie or storage key as a JSON-ready dict.

    The keys are those of the consent endpoint's per-category ``cookies`` list: ``name``,
    ``storage``, ``purpose``, ``duration``, ``provider``, ``third_party``, ``domain``,
    ``path``.
    """
    return {
        "name": cookie.name,
        "storage": cookie.storage,
        "purpose": cookie.purpose,
        "duration": cookie.duration,
        "provider": cookie.provider,
        "third_party": cookie.is_third_party,
        "domain": cookie.domain,
        "path": cookie.path,
    }


def policy_data(registry: Registry) -> dict[str, Any]:
    """The cookie policy as a JSON-ready dict (what ``format="json"`` prints).

    ``{"version": ..., "last_updated": ..., "categories": [{"name", "title",
    "description", "required", "cookies": [...]}]}``, categories in declaration order,
    each cookie as :func:`cookie_data` gives it.
    """
    return {
        "version": registry.version,
        "last_updated": registry.version,
        "categories": [
            {
                "name": category.name,
                "title": category.label,
                "description": category.description,
                "required": category.required,
                "cookies": [cookie_data(c) for c in registry.cookies_in(category.name)],
            }
            for category in registry.categories
        ],
    }


def render_policy(registry: Registry, format: PolicyFormat = "markdown") -> str:
    """Render the cookie policy of ``registry`` as ``"markdown"``, ``"html"`` or ``"json"``.

    >>> print(render_policy(registry, "html"))  # doctest: +SKIP
    <div class="cg-policy">...

    :raises ValueError: for an unknown format.
    """
    if format == "markdown":
        return _markdown(registry)
    if format == "html":
        return _html(registry)
    if format == "json":
        return json.dumps(policy_data(registry), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown policy format {format!r}; use one of: {', '.join(FORMATS)}")


def _row(cookie: Cookie) -> tuple[str, str, str, str, str]:
    """Type, purpose, duration, provider and party of one entry, as shown to people."""
    return (
        cookie.storage,
        cookie.purpose,
        cookie.duration or _NOT_STATED,
        cookie.provider or _FIRST_PARTY,
        "Third party" if cookie.is_third_party else "First party",
    )


def _required_note(category: Category) -> str:
    return "Always active: the site cannot work without these." if category.required else (
        "Used only if you accept this category.")


# -- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _md_text(text: str) -> str:
    """Text for a Markdown paragraph or table cell: literal, one line, no raw HTML."""
    text = " ".join(text.split())
    text = html.escape(text, quote=False)  # '<script>' shows as text, never as HTML
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_code(text: str) -> str:
    """A code span for a name in a table cell (any backticks or pipes in it kept)."""
    text = " ".join(text.split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _markdown(registry: Registry) -> str:
    lines = ["# Cookie policy", ""]
    if registry.version:
        lines += [f"Last updated: {_md_text(registry.version)}", ""]
    for category in registry.categories:
        lines += [f"## {_md_text(category.label)}", ""]
        if category.description:
            lines += [_md_text(category.description), ""]
        lines += [f"*{_required_note(category)}*", ""]
        cookies = registry.cookies_in(category.name)
        if not cookies:
            lines += ["No cookies or storage keys in this category.", ""]
            continue
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        for cookie in cookies:
            cells = [_md_code(cookie.name), *(_md_text(cell) for cell in _row(cookie))]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


# -- HTML -------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", name.lower())


def _html(registry: Registry) -> str:
    esc = html.escape
    out = ['<div class="cg-policy">']
    if registry.version:
        version = esc(registry.version)
        stamp = (f'<time datetime="{version}">{version}</time>'
                 if _ISO_DATE.fullmatch(registry.version) else version)
        out.append(f'<p class="cg-policy-updated">Last updated: {stamp}</p>')
    for category in registry.categories:
        ident = f"cg-category-{_slug(category.name)}"
        label = esc(category.label)
        out.append(f'<section class="cg-policy-category" id="{ident}" '
                   f'aria-labelledby="{ident}-title">')
        out.append(f'<h2 id="{ident}-title">{label}</h2>')
        if category.description:
            out.append(f"<p>{esc(category.description)}</p>")
        out.append(f'<p class="cg-policy-note">{esc(_required_note(category))}</p>')
        cookies = registry.cookies_in(category.name)
        if not cookies:
            out.append("<p>No cookies or storage keys in this category.</p>")
        else:
            out.append("<table>")
            out.append(f"<caption>{label}: cookies and storage keys</caption>")
            out.append("<thead><tr>"
                       + "".join(f'<th scope="col">{esc(c)}</th>' for c in COLUMNS)
                       + "</tr></thead>")
            out.append("<tbody>")
            for cookie in cookies:
                cells = "".join(f"<td>{esc(cell)}</td>" for cell in _row(cookie))
                out.append(f'<tr><th scope="row"><code>{esc(cookie.name)}</code></th>'
                           f"{cells}</tr>")
            out.append("</tbody>")
            out.append("</table>")
        out.append("</section>")
    out.append("</div>")
    return "\n".join(out) + "\n"
