"""What one request may do, and the rewriting of its response's header list.

A :class:`Decision` is made by :meth:`ConsentGuard.decide
<consentguard.ConsentGuard.decide>`. Its methods take a response's header list and
return the list to send: refused ``Set-Cookie`` headers out, purge headers in, shared
caches told to keep the response private when it carries what only consent allowed.
Each call is one pass over the headers; the guard answers for each cookie name
(:meth:`~consentguard.ConsentGuard.verdict`) and hears of each removal
(:meth:`~consentguard.ConsentGuard.report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .consent import Consent
from .cookies import (
    EARLIEST,
    PLAIN_LENGTH,
    PLAIN_SET_COOKIE,
    PLAIN_SET_COOKIE_RAW,
    deletion_expiry,
    expired,
    lenient_name,
    plain_date,
    set_cookie_name,
)
from .exceptions import UndeclaredCookieError

if TYPE_CHECKING:
    from .guard import ConsentGuard

__all__ = ["ALLOW", "CONSENTED", "REFUSE", "UNKNOWN", "Decision"]

# What the guard concludes about one cookie name for one set of accepted categories,
# from the most lenient to the strictest (of two readings, the greater holds): allowed
# whatever the consent (required, or the consent cookie), allowed by consent, undeclared,
# refused.
ALLOW, CONSENTED, UNKNOWN, REFUSE = 0, 1, 2, 3

_INFINITY = float("inf")
# The name of a plain Set-Cookie (nearly all are): the name set_cookie_name would read.
_PLAIN, _PLAIN_RAW = PLAIN_SET_COOKIE.fullmatch, PLAIN_SET_COOKIE_RAW.fullmatch


class Decision:
    """What one request may do, as worked out by :meth:`ConsentGuard.decide
    <consentguard.ConsentGuard.decide>`.

    :ivar consent: the visitor's valid :class:`~consentguard.Consent`, or ``None`` before
        any choice.
    :ivar accepted: the categories accepted for this request (required ones included).
    :ivar cookie_header: the ``Cookie`` header the app should see (``None``: no cookies).
    :ivar cookie_changed: whether it differs from what the browser sent.
    :ivar purge: ``Set-Cookie`` values deleting refused cookies the browser sent.
    :ivar path: the request path, for reports.
    """

    __slots__ = ("_guard", "accepted", "consent", "cookie_changed", "cookie_header", "path",
                 "purge")

    def __init__(self, guard: ConsentGuard, consent: Consent | None, accepted: frozenset[str],
                 cookie_header: str | None, cookie_changed: bool, purge: tuple[str, ...],
                 path: str) -> None:
        self._guard = guard
        self.consent = consent
        self.accepted = accepted
        self.cookie_header = cookie_header
        self.cookie_changed = cookie_changed
        self.purge = purge
        self.path = path

    def allows(self, category: str) -> bool:
        """Whether ``category`` is accepted for this request."""
        return category in self.accepted

    @property
    def needs_consent(self) -> bool:
        """Whether the banner should ask: no choice yet, or a category changed since."""
        return self.consent is None or self.consent.needs_consent

    def filter_headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Rewrite a response's ``(name, value)`` str headers (WSGI style).

        Removes refused ``Set-Cookie`` headers, appends the purge headers, and marks the
        response private when a cookie only consent allowed (or a purge) is in it. Other
        headers, and allowed Set-Cookie headers, pass unchanged and in order.
        """
        items = headers if isinstance(headers, (list, tuple)) else list(headers)
        return self._filter(items, False)

    def filter_raw_headers(
        self, headers: Iterable[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """:meth:`filter_headers` for ``(bytes, bytes)`` headers (ASGI style).

        Servers also accept ``str``, ``bytearray`` and ``[name, value]`` lists: those are
        judged as the bytes they stand for, and sent as such.
        """
        items: Sequence[Any] = headers if isinstance(headers, (list, tuple)) else list(headers)
        for header in items:
            if (header.__class__ is not tuple or len(header) != 2
                    or header[0].__class__ is not bytes or header[1].__class__ is not bytes):
                return self._filter(_raw_headers(items), True, odd=True)
        return self._filter(items, True)

    def _filter(self, headers: Sequence[Any], raw: bool, *, odd: bool = False
                ) -> list[Any]:
        """The one pass over a response's headers: ``raw``, latin-1 bytes, else str.
        ``odd``: some are :class:`_Opaque` (kept as they are, unjudged)."""
        set_cookie: Any
        cache_control: Any
        plain: Any
        if raw:
            set_cookie, cache_control, plain = b"set-cookie", b"cache-control", _PLAIN_RAW
        else:
            set_cookie, cache_control, plain = "set-cookie", "cache-control", _PLAIN
        guard = self._guard
        verdict_of = guard.verdict
        accepted = self.accepted
        unknown_passes = guard.unknown == "allow"
        report_only = guard.report_only
        personal = bool(self.purge)
        cache_at: list[int] = []
        out: list[Any] = []
        for header in headers:
            if odd and header.__class__ is _Opaque:
                out.append(header.header)
                continue
            name = header[0].lower()
            if name == cache_control:
                cache_at.append(len(out))
            elif name == set_cookie:
                value = header[1]
                # Nearly every header is plain: its name in one C-level match.
                found = plain(value) if len(value) <= PLAIN_LENGTH else None
                if found is not None:
                    cookie: str = found[1].decode("latin-1") if raw else found[1]
                    verdict = verdict_of(cookie, accepted)
                else:
                    text = value.decode("latin-1") if raw else value
                    parsed = set_cookie_name(text)
                    if parsed is None:  # a browser ignores it whatever we do; others may not
                        guard.report("ignored", "", text, self.path)
                        if not report_only:
                            continue
                        out.append(header)
                        continue
                    cookie = parsed
                    verdict = verdict_of(cookie, accepted)
                    if not cookie and verdict != REFUSE:
                        # A nameless cookie ("=_ga=1") comes back as "_ga=1": it poses as
                        # "_ga", and is refused when "_ga" is.
                        shown = lenient_name(text.partition(";")[0])
                        if shown and verdict_of(shown, accepted) == REFUSE:
                            verdict = REFUSE
                if verdict == ALLOW:
                    out.append(header)
                    continue
                if verdict == CONSENTED or (verdict == UNKNOWN and unknown_passes):
                    personal = True
                    out.append(header)
                    continue
                text = value.decode("latin-1") if raw else value
                if not self._refused_may_pass(text, headers, raw, cookie, verdict) and (
                        not report_only):
                    continue
            out.append(header)
        if report_only:
            return out
        if self.purge:
            out += [(b"Set-Cookie", value.encode("latin-1")) for value in self.purge] if raw \
                else [("Set-Cookie", value) for value in self.purge]
        if personal and guard.cache_control:
            _make_private(out, cache_at, raw)
        return out

    def _refused_may_pass(self, text: str, headers: Sequence[Any], raw: bool,
                          name: str, verdict: int) -> bool:
        """Whether a refused or undeclared ``Set-Cookie`` passes: only as a deletion every
        browser agrees on. Otherwise it is reported (or raises, under ``unknown="raise"``).
        ``headers``: the whole response's (its ``Date`` matters to an ``Expires``), some
        :class:`_Opaque` when the server was given headers of other shapes."""
        guard = self._guard
        expiry = deletion_expiry(text)
        if expiry is not None and (expiry == EARLIEST or expired(
                expiry, _date_horizon(headers, raw, guard.clock()))):
            return True
        if verdict == UNKNOWN and guard.unknown == "raise":
            raise UndeclaredCookieError(name)
        guard.report("set-cookie", name, text, self.path, undeclared=verdict == UNKNOWN)
        return False


def _raw_headers(headers: Iterable[object]) -> list[Any]:
    """ASGI headers of any types servers take, as ``(bytes, bytes)``; what is no pair of
    text is kept :class:`_Opaque`, unless it names Set-Cookie."""
    out: list[Any] = []
    for header in headers:
        converted = _raw_header(header)
        if converted is not None:
            out.append(converted)
        elif not _names_set_cookie(header):
            out.append(_Opaque(header))
    return out


class _Opaque:
    """A header that is no pair of text: passed on as it came."""

    __slots__ = ("header",)

    def __init__(self, header: object) -> None:
        self.header = header


def _raw_header(header: object) -> tuple[bytes, bytes] | None:
    """An ASGI header of other types as ``(bytes, bytes)``; ``None``: not a pair of text."""
    pair: Any = header
    try:
        name, value = pair
        return _raw_text(name), _raw_text(value)
    except (TypeError, ValueError):
        return None


def _names_set_cookie(header: object) -> bool:
    try:
        return _raw_text(header[0]).lower() == b"set-cookie"  # type: ignore[index]
    except (TypeError, LookupError):
        return False


def _raw_text(text: object) -> bytes:
    if isinstance(text, str):
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"not header text: {type(text).__name__}")


def _date_horizon(headers: Sequence[Any], raw: bool, now: float) -> float:
    """The time an ``Expires`` must lie before to delete: Chromium shifts it by the
    response's ``Date`` (``now - Date``), so the earliest of ``now`` and each ``Date``;
    an unreadable ``Date`` leaves no ``Expires`` a deletion."""
    horizon = now
    date_name = b"date" if raw else "date"
    for header in headers:
        if header.__class__ is _Opaque:  # (no pair of text: not a Date)
            continue
        name, value = header
        if name.lower() == date_name:
            date = plain_date(value.decode("latin-1") if raw else value)
            horizon = -_INFINITY if date is None else min(horizon, date)
    return horizon


def _make_private(out: list[tuple[Any, Any]], cache_at: list[int], raw: bool) -> None:
    """Make shared caches keep the response to themselves (RFC 9111 ``private``)."""
    if not cache_at:
        out.append((b"Cache-Control", b"private") if raw else ("Cache-Control", "private"))
        return
    directives = [d.strip() for i in cache_at
                  for d in (out[i][1].decode("latin-1") if raw else out[i][1]).split(",")]
    lowered = [d.split("=", 1)[0].strip().lower() for d in directives]
    if "private" in lowered or "no-store" in lowered:
        return
    # public and s-maxage would contradict private: drop them, keep the rest.
    kept: list[str] = [d for d, low in zip(directives, lowered, strict=True)
                       if d and low not in ("public", "s-maxage")]
    first = cache_at[0]
    value = ", ".join([*kept, "private"])
    out[first] = (out[first][0], value.encode("latin-1") if raw else value)
    for i in reversed(cache_at[1:]):
        del out[i]
