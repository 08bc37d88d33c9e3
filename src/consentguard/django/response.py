"""Django's ``response.cookies`` ↔ ``Set-Cookie`` header lines.

A Django response keeps its cookies in a ``SimpleCookie`` (one morsel per name), and its
WSGI and ASGI handlers emit one ``Set-Cookie`` per value with ``morsel.output(header="")``.
A purge needs several lines for one name (one per domain), so each line the guard adds is
a :class:`SetCookieLine` morsel stored under a key of its own: the handlers send every
value, whatever its key.
"""

from __future__ import annotations

from http.cookies import Morsel
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpResponseBase

    from ..guard import Decision

__all__ = ["SetCookieLine", "add_set_cookie", "filter_response"]


class SetCookieLine(Morsel[str]):
    """A morsel that outputs one ready ``Set-Cookie`` value verbatim.

    ``key``, ``value`` and the attributes (``max-age``, ``domain``, ``path``, …) are read
    from the line, so tests may inspect ``response.cookies`` as usual.
    """

    def __init__(self, line: str) -> None:
        super().__init__()
        pair, _, attributes = line.partition(";")
        name, _, value = pair.partition("=")
        # Morsel.set() would re-encode (and refuse some names a browser accepts): the
        # line is sent exactly as the guard made it, so only its reading is kept here.
        self._key, self._value, self._coded_value = name.strip(), value.strip(), value.strip()
        for attribute in attributes.split(";"):
            key, equals, text = attribute.partition("=")
            key = key.strip().lower()
            if self.isReservedKey(key):
                dict.__setitem__(self, key, text.strip() if equals else True)
        self.line = line

    def OutputString(self, attrs: Any = None) -> str:  # Morsel's name
        return self.line

    def __reduce__(self) -> tuple[type[SetCookieLine], tuple[str]]:  # pickled by caches
        return (SetCookieLine, (self.line,))


def add_set_cookie(response: HttpResponseBase, line: str) -> None:
    """Add one ``Set-Cookie`` line to ``response``, beside any cookie of the same name."""
    cookies = response.cookies
    morsel = SetCookieLine(line)
    key = morsel.key
    n = 1
    while key in cookies:  # the first line of a name keeps its name as the key
        n += 1
        key = f"{morsel.key}\x00{n}"
    dict.__setitem__(cookies, key, morsel)


def filter_response(decision: Decision, response: HttpResponseBase) -> None:
    """Apply ``decision`` to ``response`` in place: refused cookies removed, purge lines
    added, ``Cache-Control: private`` when the guard asks for it."""
    headers = response.headers
    raw = headers.get("Set-Cookie")  # one value at most: Django's headers are a dict
    cookies = response.cookies
    if not cookies and raw is None and not decision.purge:
        return
    given: list[tuple[str, str]] = []
    if raw is not None:
        given.append(("Set-Cookie", raw))
    keys = list(cookies)
    given += [("Set-Cookie", cookies[key].OutputString()) for key in keys]
    cache_control = headers.get("Cache-Control")
    if cache_control is not None:
        given.append(("Cache-Control", cache_control))
    date = headers.get("Date")  # an Expires is a deletion only before it (as in Chromium)
    if date is not None:
        given.append(("Date", date))
    out = decision.filter_headers(given)
    sent = [value for name, value in out if name.lower() == "set-cookie"]
    # The guard keeps the given lines in order and appends its own: match them in turn.
    sources: list[str | None] = [None] * (raw is not None) + keys  # None: the raw header
    at = 0
    for key, (_, value) in zip(sources, given, strict=False):
        if at < len(sent) and sent[at] == value:
            at += 1
        elif key is None:
            del headers["Set-Cookie"]
        else:
            del cookies[key]
    for line in sent[at:]:
        add_set_cookie(response, line)
    new_cache = next((value for name, value in out if name.lower() == "cache-control"), None)
    if new_cache is not None and new_cache != cache_control:
        headers["Cache-Control"] = new_cache
