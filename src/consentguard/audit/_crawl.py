"""The crawl: same-site links and redirects, a cookie jar, and what each response set."""

from __future__ import annotations

import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

from ..cookies import is_deletion, set_cookie_name
from ._drivers import _Fetch, _Tap
from ._report import _RUN_LABELS, Origin, PageResult, Run, SetCookieAttributes

_MAX_REDIRECTS = 10


# -- crawling ----------------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area", "base"):
            href = dict(attrs).get("href")
            if href is None:
                return
            if tag == "base":
                self.base = self.base or href.strip()
            else:
                self.links.append(href.strip())


def _links(body: bytes, content_type: str) -> tuple[list[str], str | None]:
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        text = body.decode(charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    parser = _LinkParser()
    with contextlib.suppress(Exception):  # a broken page yields the links read so far
        parser.feed(text)
        parser.close()
    return parser.links, parser.base


def _same_site_target(href: str, page_url: str, base_url: str) -> str | None:
    """``href`` as a path?query on the audited origin, or ``None`` if it leaves it."""
    url = urlsplit(urljoin(page_url, href))
    base = urlsplit(base_url)
    if url.scheme not in ("http", "https") or url.hostname != base.hostname:
        return None
    default = {"http": 80, "https": 443}
    try:
        port = url.port or default[url.scheme]
    except ValueError:
        return None
    if port != (base.port or default[base.scheme]) and url.scheme == base.scheme:
        return None
    path = quote(url.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(url.query, safe="/%:@!$&'()*+,;=-._~?")
    return f"{path}?{query}" if query else path


class _Jar:
    """The cookies a browser would send back: what reached it, less what was deleted."""

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self.pairs = {name: f"{name}={value}" for name, value in (initial or {}).items()}

    def header(self) -> str | None:
        return "; ".join(self.pairs.values()) or None

    def update(self, set_cookies: Iterable[str], now: float) -> None:
        for value in set_cookies:
            name = set_cookie_name(value)
            if name is None:
                continue
            if is_deletion(value, now):
                self.pairs.pop(name, None)
            else:
                self.pairs[name] = value.split(";", 1)[0].strip(" \t")



@dataclass(frozen=True)
class _Observation:
    run: Run
    page: str
    name: str
    header: str
    deletion: bool
    passed: bool
    origin: Origin
    attributes: SetCookieAttributes
    now: float


def _sources(delivered: Sequence[str], tap: _Tap, watching: bool, now: float
             ) -> list[tuple[str, Origin, bool]]:
    """Each ``Set-Cookie`` of one response: (header, where it came from, reached the browser)."""
    if not watching:
        return [(value, "unguarded", True) for value in delivered]
    left = Counter(delivered)
    found: list[tuple[str, Origin, bool]] = []
    for value in tap.set_cookies if tap.reached else ():
        passed = left[value] > 0
        if passed:
            left[value] -= 1
        found.append((value, "app", passed))
    for value in delivered:
        if left[value] > 0:
            left[value] -= 1
            if not is_deletion(value, now):  # deletions here are the guard's own purge
                found.append((value, "outside", True))
    return found


def _crawl(
    run: Run,
    fetch: _Fetch,
    tap: _Tap,
    *,
    watching: bool,
    paths: Sequence[str],
    crawl: int,
    jar: _Jar,
    base_url: str,
    skip: Callable[[str], bool],
    progress: Callable[[str], object] | None,
) -> tuple[list[PageResult], list[_Observation], bool]:
    pages: list[PageResult] = []
    observations: list[_Observation] = []
    guarded = False
    queue: deque[str] = deque(paths)
    seen: set[str] = set(paths)
    budget = crawl
    while queue:
        target: str | None = queue.popleft()
        hops = 0
        while target is not None:
            # Reset here too: the consent endpoint answers without reaching the app.
            tap.set_cookies, tap.reached = [], False
            response = fetch(target, jar.header())
            now = time.time()
            guarded = guarded or response.guarded
            names: list[str] = []
            for value, origin, passed in _sources(response.set_cookies, tap, watching, now):
                name = set_cookie_name(value)
                if name is None:  # a browser ignores it; so does the audit
                    continue
                names.append(name)
                observations.append(_Observation(
                    run, target, name, value, is_deletion(value, now), passed, origin,
                    SetCookieAttributes.parse(value), now))
            jar.update(response.set_cookies, now)
            pages.append(PageResult(run, target, response.status, response.error, tuple(names)))
            if progress is not None:
                status = response.status if response.error is None else response.error
                sets = f"  sets {', '.join(dict.fromkeys(names))}" if names else ""
                progress(f"audit [{_RUN_LABELS[run]}] {len(pages)}: {status} {target}{sets}")
            page_url = base_url + target
            next_target = None
            status_code = response.status or 0
            location = response.header("location")
            if 300 <= status_code < 400 and location and hops < _MAX_REDIRECTS:
                found = _same_site_target(location, page_url, base_url)
                if found is not None and found not in seen and not skip(found):
                    seen.add(found)
                    next_target = found
                    hops += 1
            content_type = (response.header("content-type") or "").lower()
            if budget > 0 and 200 <= status_code < 300 and content_type.startswith(
                    ("text/html", "application/xhtml+xml")):
                links, base_href = _links(response.body, content_type)
                page_base = urljoin(page_url, base_href) if base_href else page_url
                for href in links:
                    found = _same_site_target(href, page_base, base_url)
                    if found is None or found in seen or skip(found):
                        continue
                    seen.add(found)
                    queue.append(found)
                    budget -= 1
                    if budget == 0:
                        break
            target = next_target
    return pages, observations, guarded
