"""The banner's files as a site serves them, the tag that loads them, and the banner's logic.

The browser behaviour (dialog, keyboard, clearing, gating) is proven in real Chromium by the
browser suite; here: the files through real Flask and Starlette apps (types, caching,
size, no HTML injection), :func:`consentguard.banner.banner_tag`, and, when ``node`` is
installed, the script's pure functions against the server's own rules.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from apps import asgi_request, flask_app, starlette_app, via_wsgi
from support import make_guard

from consentguard import Cookie
from consentguard.banner import banner_src, banner_tag
from consentguard.cookies import purge_domains

STATIC = resources.files("consentguard").joinpath("static")
JS = STATIC.joinpath("banner.js").read_bytes()
CSS = STATIC.joinpath("banner.css").read_bytes()
# The cache-busting hash, worked out here rather than asked of the code under test.
JS_HASH = hashlib.sha256(JS).hexdigest()[:12]
CSS_HASH = hashlib.sha256(CSS).hexdigest()[:12]
TYPES = {"banner.js": "text/javascript; charset=utf-8", "banner.css": "text/css; charset=utf-8"}
BYTES = {"banner.js": JS, "banner.css": CSS}
HASHES = {"banner.js": JS_HASH, "banner.css": CSS_HASH}


# -- served through real apps ---------------------------------------------------------------

Get = Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]


def flask_get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    response = flask_app(make_guard()).test_client().get(url, headers=headers)
    return response.status_code, {k.lower(): v for k, v in response.headers.items()}, \
        response.get_data()


def starlette_get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    response = asgi_request(starlette_app(make_guard()), "GET", url, headers=headers)
    return response.status_code, dict(response.headers), response.content


APPS = [pytest.param(flask_get, id="flask"), pytest.param(starlette_get, id="starlette")]


@pytest.mark.parametrize("get", APPS)
@pytest.mark.parametrize("name", ["banner.js", "banner.css"])
def test_served_with_its_type_and_exact_bytes(get: Get, name: str) -> None:
    status, headers, body = get(f"/_consent/{name}", {})
    assert status == 200
    assert headers["content-type"] == TYPES[name]
    assert headers["x-content-type-options"] == "nosniff"
    assert body == BYTES[name]
    assert "set-cookie" not in headers


@pytest.mark.parametrize("get", APPS)
@pytest.mark.parametrize("name", ["banner.js", "banner.css"])
def test_versioned_url_is_cached_for_a_year_unversioned_briefly(get: Get, name: str) -> None:
    _, versioned, _ = get(f"/_consent/{name}?v={HASHES[name]}", {})
    assert versioned["cache-control"] == "public, max-age=31536000, immutable"
    _, plain, _ = get(f"/_consent/{name}", {})
    assert "immutable" not in plain["cache-control"]
    _, stale, _ = get(f"/_consent/{name}?v=0123456789ab", {})  # an old version's URL
    assert "immutable" not in stale["cache-control"]


@pytest.mark.parametrize("get", APPS)
@pytest.mark.parametrize("name", ["banner.js", "banner.css"])
def test_etag_revalidation_answers_304_without_a_body(get: Get, name: str) -> None:
    _, headers, _ = get(f"/_consent/{name}", {})
    assert headers["etag"] == f'"{HASHES[name]}"'
    status, _, body = get(f"/_consent/{name}", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    status, _, body = get(f"/_consent/{name}", {"If-None-Match": '"something-else"'})
    assert status == 200 and body == BYTES[name]


@pytest.mark.parametrize("get", APPS)
def test_other_static_names_are_not_served(get: Get) -> None:
    assert get("/_consent/banner.min.js", {})[0] == 404
    assert get("/_consent/../pyproject.toml", {})[0] in (404, 400)


# -- the files themselves -------------------------------------------------------------------


def test_both_files_together_under_10_kb_gzipped() -> None:
    size = len(gzip.compress(JS, 9)) + len(gzip.compress(CSS, 9))
    assert size < 10 * 1024, f"banner.js + banner.css gzipped are {size} bytes"


def test_script_never_inserts_html() -> None:
    text = JS.decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in text, f"banner.js uses {sink}: registry text must go in as text"
    assert "textContent" in text


@pytest.mark.parametrize("text", [JS.decode(), CSS.decode()], ids=["js", "css"])
def test_no_third_party_code_or_urls(text: str) -> None:
    assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", text, re.IGNORECASE)
    assert "@import" not in text


def test_css_is_namespaced_and_respects_reduced_motion() -> None:
    text = re.sub(r"/\*.*?\*/", "", CSS.decode(), flags=re.DOTALL)
    selectors = [s.strip() for block in re.findall(r"([^{}@]+)\{[^{}]*\}", text)
                 for s in block.split(",")]
    rules = [s for s in selectors if s and not re.fullmatch(r"from|to|\d+%", s)]
    assert rules and all(s.startswith(".cg-banner") for s in rules), rules
    assert "prefers-reduced-motion" in text
    # Accept all and Reject all share one class: the CSS cannot style them differently.
    assert "accept" not in text and "reject" not in text


def test_script_keeps_the_dom_contract() -> None:
    text = JS.decode()
    for needle in ('"accept-all"', '"reject-all"', '"customise"', '"save"', "data-cg-category",
                   "data-cg-open", 'role: "dialog"', "aria-labelledby", "aria-describedby",
                   "data-consent-category", 'id: "cg-banner"', 'id: "cg-settings"'):
        assert needle in text, needle


# -- banner_tag -------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_tag(html: str) -> dict[str, str | None]:
    parser = _Tags()
    parser.feed(html)
    assert [t for t, _ in parser.tags] == ["script"], html
    return parser.tags[0][1]


def test_banner_tag_points_at_the_versioned_files() -> None:
    attrs = parse_tag(banner_tag(make_guard()))
    assert "defer" in attrs
    src = attrs["src"]
    assert src is not None
    parts = urlsplit(src)
    assert parts.path == "/_consent/banner.js"
    assert parse_qs(parts.query) == {"v": [JS_HASH], "css": [CSS_HASH]}
    # Both URLs the browser will fetch (the script derives the CSS one) are cached for a year.
    _, js_headers, _ = flask_get(src, {})
    _, css_headers, _ = flask_get(f"/_consent/banner.css?v={CSS_HASH}", {})
    assert "immutable" in js_headers["cache-control"]
    assert "immutable" in css_headers["cache-control"]


def test_banner_tag_follows_the_endpoint_and_mount_prefix() -> None:
    guard = make_guard(endpoint="/privacy/consent")
    assert banner_src(guard).startswith("/privacy/consent/banner.js?")
    assert banner_src(guard, prefix="/shop/").startswith("/shop/privacy/consent/banner.js?")


def test_banner_tag_without_endpoint_says_how_to_fix() -> None:
    with pytest.raises(ValueError, match="endpoint="):
        banner_tag(make_guard(endpoint=None))


def test_banner_tag_texts_and_policy_survive_html_escaping() -> None:
    texts = {"title": 'Des "cookies" <b>ici</b> & là', "acceptAll": "Tout accepter"}
    attrs = parse_tag(banner_tag(make_guard(), texts=texts, policy_url="/policy?a=1&b=2"))
    assert json.loads(attrs["data-texts"] or "") == texts
    assert attrs["data-policy-url"] == "/policy?a=1&b=2"


# -- the script's pure functions, in node ---------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on PATH: the banner's "
                                "pure functions cannot be run outside a browser")

RUNNER = r"""
const vm = require("vm"), fs = require("fs");
const file = process.argv[1], callsJson = fs.readFileSync(0, "utf8");
const sandbox = {console};
sandbox.window = sandbox;
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(file, "utf8"), sandbox);
const api = sandbox.consentguard, f = api._internals;
const out = JSON.parse(callsJson).map(([name, args]) =>
  name === "allows" ? api.allows(...args) : f[name](...args));
process.stdout.write(JSON.stringify(out));
"""


def run_js(calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """Load banner.js in node (no DOM) and call ``consentguard._internals`` functions."""
    assert NODE is not None
    path = str(STATIC.joinpath("banner.js"))
    done = subprocess.run([NODE, "-e", RUNNER, path], input=json.dumps(calls), capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    result: list[Any] = json.loads(done.stdout)
    return result


@needs_node
def test_js_parent_domains() -> None:
    hosts = ["a.b.example.co", "example.co", "WWW.Example.COM.", "localhost", "127.0.0.1",
             "[::1]", "a.b.c.d.e.example.com", ""]
    got = run_js([("parentDomains", [h]) for h in hosts])
    assert got[0] == ["a.b.example.co", "b.example.co", "example.co"]
    assert got[1] == ["example.co"]
    assert got[2] == ["www.example.com", "example.com"]
    assert got[3:5] == [[], []]
    assert got[5] == [] and got[7] == []
    assert got[6] == ["a.b.c.d.e.example.com", "d.e.example.com", "e.example.com",
                      "example.com"]
    # The same domains the server purges from (minus host-only and a declared domain).
    for host, domains in zip(hosts, got, strict=True):
        assert domains == [d for d in purge_domains(host) if d is not None], host


@needs_node
def test_js_clears_the_domains_the_endpoint_names() -> None:
    # Two labels were the floor: co.uk instead of d.shop.example.co.uk, one the server purges.
    host = "a.b.c.d.shop.example.co.uk"
    state = via_wsgi(make_guard(), "GET", "/_consent", host=host).json()
    got = run_js([("domainsToClear", [state, host]), ("domainsToClear", [state, "other.test"]),
                  ("domainsToClear", [{}, "www.example.com"])])
    assert got[0] == [d for d in purge_domains(host) if d is not None] == [
        host, "d.shop.example.co.uk", "shop.example.co.uk", "example.co.uk"]
    # A state for another host (a proxy rewrote Host), or none: the banner's own rule.
    assert got[1] == ["other.test"]
    assert got[2] == ["www.example.com", "example.com"]


@needs_node
def test_js_pattern_matching() -> None:
    cases = [("_ga_*", "_ga_XYZ", True), ("_ga_*", "_ga_", True), ("_ga_*", "_ga", False),
             ("_ga", "_ga_XYZ", False), ("_ga", "_ga", True), ("a*b*c", "aXbYc", True),
             ("a*b*c", "acb", False), ("*", "anything", True), ("x.y*", "xzy1", False),
             ("(a)*", "(a)1", True), ("a*", "a\nb", True), ("*_id", "user_id", True)]
    got = run_js([("matches", [p, n]) for p, n, _ in cases])
    assert got == [want for _, _, want in cases]


@needs_node
def test_js_matching_agrees_with_the_registry() -> None:
    rng = random.Random(20260420)
    alphabet = "ab_*.$^"
    pairs = []
    for _ in range(400):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        name = "".join(rng.choice(alphabet.replace("*", "")) for _ in range(rng.randint(0, 7)))
        pairs.append((pattern, name))
    got = run_js([("matches", [p, n]) for p, n in pairs])
    want = [Cookie(p, category="x").matches(n) for p, n in pairs]
    assert got == want


@needs_node
def test_js_lookup_prefers_exact_then_the_longest_pattern() -> None:
    entries = [{"name": "_g*", "category": "short"}, {"name": "_ga_*", "category": "long"},
               {"name": "_ga_EXACT", "category": "exact"}]
    got = run_js([("lookup", [entries, n]) for n in ("_ga_EXACT", "_ga_1", "_gid", "other")])
    assert [e and e["category"] for e in got] == ["exact", "long", "short", None]


@needs_node
def test_js_reads_cookie_names_and_declared_entries() -> None:
    state = {"categories": [
        {"name": "analytics", "accepted": False, "cookies": [
            {"name": "_ga", "storage": "cookie", "domain": ".example.com", "path": "/"},
            {"name": "an_*", "storage": "localStorage", "domain": None, "path": "/"}]},
        {"name": "essential", "accepted": True, "cookies": []}]}
    names, entries, before = run_js([("cookieNames", ["a=1; b=x=y;  c=; a=2; junk"]),
                                     ("entriesOf", [state]), ("allows", ["analytics"])])
    assert names == ["a", "b", "c"]
    assert [(e["name"], e["storage"], e["category"]) for e in entries] == [
        ("_ga", "cookie", "analytics"), ("an_*", "localStorage", "analytics")]
    assert before is False  # nothing is allowed before the state is known
