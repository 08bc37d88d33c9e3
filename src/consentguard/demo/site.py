"""The demo site's app: ``create_app()`` builds it; :mod:`consentguard.demo` serves it.

A FastAPI app with :class:`~consentguard.asgi.ConsentMiddleware` (``add_middleware``) and a
Flask app mounted under ``/flask`` (through ``a2wsgi``) using the Flask extension with the
*same* guard, so one consent cookie serves both halves. Its pages try to set a cookie of
every category server-side (one HttpOnly, one on the parent domain, one undeclared) and
from JavaScript (``document.cookie``, ``localStorage``, ``sessionStorage``) inside
consent-gated ``<script type="text/plain">`` blocks; they carry the banner (one
``<script>`` tag), and the site serves the cookie policy generated from the registry, the
consent form that works without JavaScript, and a live panel listing the ``Set-Cookie``
headers the middleware removed.

Needs the ``demo`` extra: ``pip install 'consentguard-middleware[demo]'``.
"""

from __future__ import annotations

import contextvars
import html
import ipaddress
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from flask import Flask, render_template_string
from flask import request as flask_request

from ..asgi import ASGIApp, ConsentMiddleware, Message, Receive, Scope, Send
from ..banner import banner_tag
from ..fastapi import CurrentDecision
from ..flask import ConsentGuard as FlaskConsentGuard
from ..guard import ConsentGuard, Violation
from ..policy import render_policy
from ..registry import Category, Cookie, Registry

__all__ = ["RemovalLog", "create_app", "demo_registry"]

#: Responses the live panel does not list: its own polling, the banner's files, and the
#: banner's reads of the consent state (``GET /_consent``); choices (``POST``) are listed.
_UNLOGGED = ("/demo/removed", "/_consent/banner.js", "/_consent/banner.css", "/favicon.ico")
_STATE_READ = ("/_consent", ("GET", "HEAD"))


def demo_registry() -> Registry:
    """The demo site's registry: four categories, cookies and storage keys of each."""
    return Registry(
        categories=[
            Category("essential", required=True, title="Strictly necessary",
                     description="Needed for the site to work: your session and your cookie "
                                 "choice.", consent_mode=("security_storage",)),
            Category("functional", title="Preferences",
                     description="Remember your settings, such as theme and language.",
                     consent_mode=("functionality_storage", "personalization_storage")),
            Category("analytics", title="Statistics",
                     description="Help us understand how visitors use the site.",
                     consent_mode=("analytics_storage",)),
            Category("marketing", title="Advertising",
                     description="Show you ads and measure them across sites.",
                     consent_mode=("ad_storage", "ad_user_data", "ad_personalization")),
        ],
        cookies=[
            Cookie("session", category="essential", purpose="Keeps your session",
                   duration="session"),
            Cookie("cg_consent", category="essential", purpose="Remembers your cookie choice",
                   duration="6 months"),
            Cookie("theme", category="functional", purpose="Remembers your colour theme",
                   duration="1 year"),
            Cookie("lang", category="functional", storage="localStorage",
                   purpose="Remembers your language", duration="persistent"),
            # Set HttpOnly by the server, on the parent domain when there is one: only the
            # server can delete it, and only with the right Domain attribute.
            Cookie("_ga", category="analytics", purpose="Distinguishes visitors",
                   duration="2 years", provider="Google Analytics", domain=".demo.test"),
            Cookie("_ga_*", category="analytics", purpose="Keeps session state",
                   duration="2 years", provider="Google Analytics"),
            Cookie("_gid", category="analytics", purpose="Distinguishes visitors (set by "
                   "JavaScript)", duration="24 hours", provider="Google Analytics"),
            Cookie("ajs_anonymous_id", category="analytics", storage="localStorage",
                   purpose="Anonymous visitor id", duration="persistent", provider="Segment"),
            Cookie("_hjSession_*", category="analytics", storage="sessionStorage",
                   purpose="Current visit", duration="session", provider="Hotjar"),
            Cookie("_fbp", category="marketing", purpose="Delivers and measures ads",
                   duration="3 months", provider="Meta"),
            Cookie("_gcl_au", category="marketing", purpose="Measures ad conversions (set by "
                   "JavaScript)", duration="3 months", provider="Google Ads"),
        ],
        version="2026-04-20",
    )


# -- the live panel's record -----------------------------------------------------------------

_current: contextvars.ContextVar[list[dict[str, str]] | None] = contextvars.ContextVar(
    "consentguard_demo_removals", default=None)


class RemovalLog:
    """The last responses and what the middleware removed from each, for the live panel.

    :meth:`on_violation` is the guard's ``on_violation`` callback; :meth:`middleware`
    wraps the whole site (outside the consent middleware) and gives each request a list
    that the callback fills, through a context variable (``a2wsgi`` copies the context
    into the Flask worker thread, so removals made by the Flask half land there too).
    This is a local, single-user demo: the log is global, not per visitor.
    """

    def __init__(self, size: int = 12) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._counter = 0

    def on_violation(self, violation: Violation) -> None:
        """Record a removed ``Set-Cookie`` (or a cookie hidden from the app)."""
        bucket = _current.get()
        if bucket is not None:
            bucket.append({"kind": violation.kind, "name": violation.name,
                           "category": violation.category or "undeclared",
                           "header": violation.header})

    def entries(self) -> list[dict[str, Any]]:
        """The recorded responses, newest first."""
        with self._lock:
            return list(reversed(self._entries))

    def _add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._counter += 1
            entry["id"] = self._counter
            self._entries.append(entry)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """An ASGI middleware recording every response of ``app``."""

        async def record(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            if (scope["type"] != "http" or path in _UNLOGGED
                    or (path == _STATE_READ[0] and scope.get("method") in _STATE_READ[1])):
                await app(scope, receive, send)
                return
            removed: list[dict[str, str]] = []
            token = _current.set(removed)

            async def recording_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    query = scope.get("query_string", b"").decode("latin-1")
                    self._add({
                        "time": time.strftime("%H:%M:%S"),
                        "method": scope.get("method", "GET"),
                        "path": path + (f"?{query}" if query else ""),
                        "status": message.get("status", 200),
                        "removed": removed,  # all removals happen before the headers go
                        "sent": [v.decode("latin-1") for n, v in message.get("headers", ())
                                 if n.lower() == b"set-cookie"],
                    })
                await send(message)

            try:
                await app(scope, receive, recording_send)
            finally:
                _current.reset(token)

        return record


# -- pages ---------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; color: #1b1f24; background: #f6f7f9; }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 0 1rem; }
header nav a { margin-right: 1rem; }
h1 { font-size: 1.6rem; }
section.box { background: #fff; border: 1px solid #d0d7de; border-radius: 6px;
  padding: .5rem 1rem; margin: 1rem 0; overflow-x: auto; }
code, pre { font-size: .85rem; }
pre { white-space: pre-wrap; word-break: break-all; margin: .25rem 0; }
.removed { color: #a40e26; } .sent { color: #1a7f37; } .muted { color: #57606a; }
table { border-collapse: collapse; display: block; max-width: 100%; overflow-x: auto; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #d0d7de;
  vertical-align: top; }
footer { padding-bottom: 8rem; }
"""

# Reads the panel's JSON and the storage JavaScript can see; text only (textContent).
_PANEL_JS = """
(function () {
  function el(tag, cls, text) {
    var e = document.createElement(tag); if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text; return e;
  }
  function render(entries) {
    var box = document.getElementById("cg-demo-removed");
    if (!box) return;
    box.textContent = "";
    if (!entries.length) { box.appendChild(el("p", "muted", "No response yet.")); return; }
    entries.forEach(function (entry, i) {
      var item = el("div", "response");
      item.appendChild(el("strong", "", entry.method + " " + entry.path + " \\u2192 " +
                          entry.status + " (" + entry.time + ")" + (i ? "" : " \\u2014 last")));
      if (!entry.removed.length) item.appendChild(el("p", "muted", "nothing removed"));
      entry.removed.forEach(function (r) {
        var what = r.kind === "request-cookie" ? "hidden from the app and purged: "
                                               : "removed Set-Cookie: ";
        item.appendChild(el("pre", "removed", what + r.header + "   [" + r.category + "]"));
      });
      entry.sent.forEach(function (s) { item.appendChild(el("pre", "sent", "sent: " + s)); });
      box.appendChild(item);
    });
  }
  function storage() {
    var out = document.getElementById("cg-demo-storage");
    if (!out) return;
    function keys(store) { var k = []; for (var i = 0; i < store.length; i++) k.push(store.key(i));
                           return k.sort().join(", ") || "(empty)"; }
    out.textContent = "document.cookie: " + (document.cookie || "(empty)") +
      "\\nlocalStorage: " + keys(localStorage) + "\\nsessionStorage: " + keys(sessionStorage);
  }
  function poll() {
    fetch("/demo/removed", {cache: "no-store"}).then(function (r) { return r.json(); })
      .then(function (data) { render(data.responses); }).catch(function () {});
    storage();
  }
  poll();
  setInterval(poll, 1000);
})();
"""

# Google Consent Mode: defaults before any tag; the banner sends the updates.
_GTAG_JS = """
window.dataLayer = window.dataLayer || [];
function gtag() { dataLayer.push(arguments); }
gtag("consent", "default", {ad_storage: "denied", ad_user_data: "denied",
  ad_personalization: "denied", analytics_storage: "denied", functionality_storage: "denied",
  personalization_storage: "denied", security_storage: "granted"});
"""

# Consent-gated blocks: inert text until the banner activates them for an accepted category.
_GATED_SCRIPTS = """
<script type="text/plain" data-consent-category="analytics">
  window.analyticsRan = true;
  var host = location.hostname, parts = host.split(".");
  // Like Google Analytics: on the parent domain when the host has one (www.demo.test).
  var domain = (parts.length > 2 && !/^[0-9.]+$/.test(host))
    ? "; domain=" + parts.slice(-2).join(".") : "";
  document.cookie = "_gid=GA1.2.js" + Date.now() + "; path=/; max-age=86400; SameSite=Lax"
    + domain;
  localStorage.setItem("ajs_anonymous_id", "demo-" + Date.now());
  sessionStorage.setItem("_hjSession_123", "demo");
  document.getElementById("analytics-status").textContent = "ran";
</script>
<script type="text/plain" data-consent-category="marketing">
  window.marketingRan = true;
  document.cookie = "_gcl_au=1.1.js" + Date.now() + "; path=/; max-age=7776000; SameSite=Lax";
  document.getElementById("marketing-status").textContent = "ran";
</script>
<script type="text/plain" data-consent-category="functional">
  window.functionalRan = true;
  localStorage.setItem("lang", "en");
  document.getElementById("functional-status").textContent = "ran";
</script>
"""


def _panel_html(log: RemovalLog) -> str:
    esc = html.escape
    rows = []
    for i, entry in enumerate(log.entries()):
        lines = [f"<strong>{esc(entry['method'])} {esc(entry['path'])} → {entry['status']} "
                 f"({esc(entry['time'])}){'' if i else ' — last'}</strong>"]
        if not entry["removed"]:
            lines.append('<p class="muted">nothing removed</p>')
        for r in entry["removed"]:
            what = ("hidden from the app and purged" if r["kind"] == "request-cookie"
                    else "removed Set-Cookie")
            lines.append(f'<pre class="removed">{what}: {esc(r["header"])}   '
                         f'[{esc(r["category"])}]</pre>')
        lines += [f'<pre class="sent">sent: {esc(s)}</pre>' for s in entry["sent"]]
        rows.append(f'<div class="response">{"".join(lines)}</div>')
    return "".join(rows) or '<p class="muted">No response yet.</p>'


def _layout(title: str, body: str, *, log: RemovalLog, banner: str) -> str:
    esc = html.escape
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · consentguard demo</title>
<style>{_CSS}</style>
<script>{_GTAG_JS}</script>
{banner}
</head>
<body>
<header>
<p><strong>consentguard demo</strong></p>
<nav aria-label="Demo pages">
<a href="/">Home (FastAPI)</a><a href="/flask/">Flask page</a>
<a href="/cookie-policy">Cookie policy</a><a href="/consent">Consent form (no JavaScript)</a>
</nav>
</header>
<main>
<h1>{esc(title)}</h1>
<noscript><p>JavaScript is off: the banner cannot show, but the
<a href="/consent">consent form</a> works without it.</p></noscript>
{body}
<section class="box" aria-labelledby="panel-title">
<h2 id="panel-title">Live panel: what the middleware removed</h2>
<p class="muted">The last responses of this server, newest first (refreshes every second).
Red: <code>Set-Cookie</code> headers the middleware removed, and cookies it hid from the app
and purged. Green: <code>Set-Cookie</code> headers that reached the browser.</p>
<div id="cg-demo-removed">{_panel_html(log)}</div>
</section>
<section class="box" aria-labelledby="storage-title">
<h2 id="storage-title">What JavaScript can see</h2>
<p class="muted">HttpOnly cookies (<code>session</code>, <code>_ga</code>) never show
here; the server's list above shows them.</p>
<pre id="cg-demo-storage">(JavaScript is off)</pre>
</section>
</main>
<footer>
<p><a href="/consent" data-cg-open>Cookie settings</a> ·
<a href="/cookie-policy">Cookie policy</a></p>
</footer>
<script>{_PANEL_JS}</script>
</body>
</html>
"""


def _parent_domain(host: str) -> str | None:
    """``demo.test`` for ``www.demo.test:8000``; ``None`` for IPs, ``localhost``, two labels."""
    name = host.rsplit(":", 1)[0].strip("[]").lower()
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    labels = name.split(".")
    return ".".join(labels[-2:]) if len(labels) > 2 else None


_HOME = """
<p>This page is served by <strong>FastAPI</strong>. On every load its handler tries to set
one cookie of each category, whatever you chose:</p>
<table>
<thead><tr><th scope="col">Cookie</th><th scope="col">Category</th>
<th scope="col">Set by</th></tr></thead>
<tbody>
<tr><td><code>session</code> (HttpOnly)</td><td>essential</td><td>server</td></tr>
<tr><td><code>theme</code></td><td>functional</td><td>server</td></tr>
<tr><td><code>_ga</code> (HttpOnly{ga_domain})</td><td>analytics</td><td>server</td></tr>
<tr><td><code>_ga_DEMO123</code> (pattern <code>_ga_*</code>)</td><td>analytics</td>
<td>server</td></tr>
<tr><td><code>_fbp</code></td><td>marketing</td><td>server</td></tr>
<tr><td><code>tracker_uid</code></td><td>undeclared: always blocked</td><td>server</td></tr>
<tr><td><code>_gid</code>, localStorage <code>ajs_anonymous_id</code>,
sessionStorage <code>_hjSession_123</code></td><td>analytics</td>
<td>JavaScript (gated block)</td></tr>
<tr><td><code>_gcl_au</code></td><td>marketing</td><td>JavaScript (gated block)</td></tr>
<tr><td>localStorage <code>lang</code></td><td>functional</td>
<td>JavaScript (gated block)</td></tr>
</tbody>
</table>
<section class="box" aria-labelledby="gated-title">
<h2 id="gated-title">Gated scripts</h2>
<p>Analytics script: <strong id="analytics-status">not run</strong> ·
Marketing script: <strong id="marketing-status">not run</strong> ·
Preferences script: <strong id="functional-status">not run</strong></p>
</section>
<section class="box" aria-labelledby="received-title">
<h2 id="received-title">Cookies this app received</h2>
<p class="muted">The middleware hides cookies of refused categories from the app.</p>
<pre id="received">{received}</pre>
</section>
<p>Try: <em>Reject all</em>, reload, and watch the panel; <em>Customise</em> → Statistics →
<em>Save</em>, reload, and <code>_ga</code> now passes; then <a href="/consent"
data-cg-open>Cookie settings</a> → <em>Reject all</em> to withdraw, and every analytics cookie
and storage key goes, HttpOnly and parent-domain ones included.
Also try <code>http://www.demo.test:PORT/</code> (map <code>*.demo.test</code> to 127.0.0.1)
to see <code>_ga</code> set on <code>Domain=demo.test</code> and purged there.</p>
"""

_FLASK_PAGE = """
<p>This page is served by <strong>Flask</strong> (mounted under <code>/flask</code> with
<code>a2wsgi</code>, guarded by <code>consentguard.flask.ConsentGuard</code>, same registry and
secret as the FastAPI half). It tries to set <code>_fbp</code>, <code>theme</code> and
<code>_ga_FLASK</code>.</p>
<p>In the Jinja template:
{% if consent.allows("analytics") %}<strong id="flask-analytics">analytics accepted</strong>
{% else %}<strong id="flask-analytics">analytics not accepted</strong>{% endif %} ·
{% if consent.allows("marketing") %}<strong id="flask-marketing">marketing accepted</strong>
{% else %}<strong id="flask-marketing">marketing not accepted</strong>{% endif %}</p>
"""

_FORM = """
<p>This form is plain HTML (the example in the consent endpoint's reference) and needs no
JavaScript. Currently accepted: <strong id="accepted">{accepted}</strong>.</p>
<form method="post" action="{endpoint}">
  <input type="hidden" name="next" value="/consent">
  <button type="submit" name="accept" value="*">Accept all</button>
</form>
<form method="post" action="{endpoint}">
  <input type="hidden" name="next" value="/consent">
  <button type="submit">Reject all</button>
</form>
<form method="post" action="{endpoint}">
  <input type="hidden" name="next" value="/consent">
  {checkboxes}
  <button type="submit">Save my choice</button>
</form>
<form method="post" action="{endpoint}">
  <input type="hidden" name="next" value="/consent">
  <button type="submit" name="withdraw" value="1">Withdraw my consent</button>
</form>
"""


def _set_demo_cookies(set_cookie: Callable[..., Any], host: str) -> None:
    """Try to set one cookie of every category (the middleware decides what passes)."""
    set_cookie("session", secrets.token_hex(8), httponly=True, samesite="lax")
    set_cookie("theme", "dark", max_age=31536000, samesite="lax")
    set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=63072000, httponly=True,
               samesite="lax", domain=_parent_domain(host))
    set_cookie("_ga_DEMO123", f"GS1.1.{int(time.time())}", max_age=63072000, samesite="lax")
    set_cookie("_fbp", f"fb.1.{int(time.time())}", max_age=7776000, samesite="lax")
    set_cookie("tracker_uid", secrets.token_hex(4), max_age=86400, samesite="lax")


def create_app(*, secret_key: str | None = None) -> ASGIApp:
    """Build the demo ASGI app (FastAPI, with the Flask half mounted under ``/flask``).

    :param secret_key: signs the consent cookie; a random one by default (restarting the
        demo then forgets every stored choice).
    """
    registry = demo_registry()
    log = RemovalLog()
    guard = ConsentGuard(
        registry,
        secret_key or os.environ.get("CONSENTGUARD_DEMO_SECRET") or secrets.token_urlsafe(32),
        on_violation=log.on_violation,
    )
    endpoint = guard.endpoint or "/_consent"

    # The banner: one tag, the same on every page (versioned URL, link to the policy).
    banner = banner_tag(guard, policy_url="/cookie-policy")

    def page(title: str, body: str) -> str:
        return _layout(title, body, log=log, banner=banner)

    # -- the Flask half ---------------------------------------------------------------------
    flask_app = Flask("consentguard.demo")
    flask_app.config["SECRET_KEY"] = secrets.token_urlsafe(16)
    FlaskConsentGuard(flask_app, guard=guard)  # wraps flask_app.wsgi_app

    @flask_app.get("/")
    def flask_index() -> Any:
        response = flask_app.make_response(
            page("Flask page", render_template_string(_FLASK_PAGE)))
        response.set_cookie("_fbp", f"fb.1.{int(time.time())}", max_age=7776000,
                            samesite="Lax")
        response.set_cookie("theme", "light", max_age=31536000, samesite="Lax")
        response.set_cookie("_ga_FLASK", "GS1.1.flask", max_age=63072000, samesite="Lax",
                            domain=_parent_domain(flask_request.host))
        return response

    # -- the FastAPI half ---------------------------------------------------------------------
    app = FastAPI(title="consentguard demo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        host = request.headers.get("host", "")
        received = "\n".join(f"{k} = {v}" for k, v in sorted(request.cookies.items()))
        parent = _parent_domain(host)
        body = _HOME.format(
            ga_domain=f", Domain={html.escape(parent)}" if parent else "",
            received=html.escape(received or "(none)"),
        ) + _GATED_SCRIPTS
        response = HTMLResponse(page("Cookies of every category", body))
        _set_demo_cookies(response.set_cookie, host)
        return response

    @app.get("/cookie-policy", response_class=HTMLResponse)
    def cookie_policy() -> HTMLResponse:
        intro = ("<p>Generated from the registry with "
                 "<code>render_policy(registry, format=\"html\")</code> — the same registry "
                 "the middleware enforces and the banner shows.</p>")
        return HTMLResponse(page("Cookie policy", intro + render_policy(registry, format="html")))

    @app.get("/consent", response_class=HTMLResponse)
    def consent_form(decision: CurrentDecision) -> HTMLResponse:
        boxes = "\n  ".join(
            f'<label><input type="checkbox" name="accept" value="{html.escape(c.name)}"'
            f'{" checked" if decision.consent is not None and decision.allows(c.name) else ""}>'
            f" {html.escape(c.label)}</label>"
            for c in registry.categories if not c.required)
        accepted = ", ".join(sorted(decision.accepted))
        body = _FORM.format(endpoint=html.escape(endpoint), checkboxes=boxes,
                            accepted=html.escape(accepted))
        return HTMLResponse(page("Your cookie choice", body))

    @app.get("/demo/removed")
    def removed() -> JSONResponse:
        return JSONResponse({"responses": log.entries()},
                            headers={"Cache-Control": "no-store"})

    app.mount("/flask", WSGIMiddleware(flask_app))  # type: ignore[arg-type]
    app.add_middleware(ConsentMiddleware, guard=guard)
    app.state.guard = guard
    app.state.removal_log = log
    return log.middleware(app)
