"""The per-request decision: which cookies may pass, which are hidden, which are purged.

:class:`ConsentGuard` holds the configuration and everything that can be worked out
once (the compiled registry, the consent codec). :meth:`ConsentGuard.decide` turns the
few request headers that matter into a :class:`Decision`, whose methods rewrite a
response's header list. Nothing here touches a WSGI environ or an ASGI scope: the
adapters in :mod:`consentguard.wsgi` and :mod:`consentguard.asgi` only translate.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from werkzeug.http import dump_cookie

from ._bounded import bounded_put
from .consent import Consent, ConsentCodec, SecretKey
from .cookies import (
    EARLIEST,
    browser_cookie_pieces,
    cookie_pairs,
    deletion_expiry,
    deletion_header,
    expired,
    is_holdable_name,
    lenient_name,
    plain_cookie_value,
    plain_date,
    plain_raw_set_cookie_name,
    plain_set_cookie_name,
    purge_domains,
    registrable_domain,
    set_cookie_name,
)
from .endpoint import parse_origins
from .exceptions import UndeclaredCookieError
from .registry import THIRTEEN_MONTHS, Registry

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .asgi import ASGIApp, ConsentMiddleware
    from .log import ConsentRecord
    from .wsgi import WSGIConsentMiddleware

__all__ = ["ConsentGuard", "Decision", "Mode", "Unknown", "Violation"]

logger = logging.getLogger("consentguard")

Unknown = Literal["block", "allow", "raise"]
Mode = Literal["enforce", "report-only"]
H = TypeVar("H", str, bytes)
K = TypeVar("K", str, bytes)  # a verdict table's names: text, or raw ASGI bytes

SIX_MONTHS = timedelta(days=180)


@dataclass(frozen=True)
class Violation:
    """One cookie that consent did not allow, reported to ``on_violation``.

    :param kind: ``"set-cookie"`` (the app tried to set it), ``"request-cookie"`` (the
        browser sent it), or ``"ignored"`` (a Set-Cookie a browser would ignore: a
        control character or an oversized cookie).
    :param name: the cookie name (``""`` for a nameless cookie).
    :param category: its declared category, or ``None`` when undeclared.
    :param action: ``"removed"`` in enforce mode, ``"reported"`` in report-only mode.
    :param header: the Set-Cookie value or the ``name=value`` pair concerned.
    :param path: the request path, when the adapter knows it.
    """

    kind: Literal["set-cookie", "request-cookie", "ignored"]
    name: str
    category: str | None
    action: Literal["removed", "reported"]
    header: str
    path: str = ""


# What the guard concludes about one cookie name for one set of accepted categories:
# allowed whatever the consent (required, or our own cookie), allowed by consent,
# refused, undeclared.
_ALLOW, _REFUSE, _UNKNOWN, _CONSENTED = 0, 1, 2, 3
# Which of two verdicts is the stricter.
_SEVERITY = {_ALLOW: 0, _CONSENTED: 1, _UNKNOWN: 2, _REFUSE: 3}

# Bounds of the per-guard caches (names, headers and Cookie headers come from clients).
_NAMES_PER_TABLE = 4096
_TABLES = 256
_SET_COOKIES = 4096
_SET_COOKIE_LENGTH = 1024
DEFAULT_CACHE_SIZE = 4096
_COOKIE_LENGTH = 8192
_HOST_LENGTH = 256
_NAME_LENGTH = 256
_PURGE_NAMES = 32
_PURGE_BYTES = 4096
_LOGGED_NAMES = 10000
_RESPONSES = 1024
_RESPONSES_SEEN = 8192
_MEMO_HEADERS = 64
_MEMO_BYTES = 16384
_INFINITY = float("inf")


class ConsentGuard:
    """Enforces a registry's categories on every request, against the visitor's consent.

    Every option is fixed at construction and readable as a read-only attribute of the
    same name (``guard.unknown``); assigning one raises :class:`AttributeError`. To serve
    other options, build another guard.

    :param registry: the declared cookies and categories.
    :param secret_key: signs the consent cookie; a list for key rotation, newest first
        (the first signs, all verify).
    :param unknown: what happens to cookies the registry does not declare: ``"block"``
        (default; removed, logged once per name), ``"allow"``, or ``"raise"``
        (:class:`~consentguard.UndeclaredCookieError`, for development and tests).
    :param mode: ``"enforce"`` (default) or ``"report-only"``: decide and report every
        violation, change nothing — for rolling out on a live site.
    :param endpoint: path of the consent endpoint (default ``"/_consent"``), ``None``
        to serve none.
    :param cookie_name: name of the consent cookie (default ``"cg_consent"``). On an https
        site whose subdomains you do not all trust, ``"__Host-cg_consent"``: browsers then
        refuse a consent cookie planted from a sibling subdomain (``Domain=``). A
        ``__Host-`` name needs ``cookie_path="/"``, no ``cookie_domain`` and a Secure
        cookie (``"auto"`` or ``True``); anything else is a ``ValueError``.
    :param max_age: lifetime of a choice that accepts something (default 6 months);
        seconds or a timedelta. Over 13 months logs a warning (CNIL guidance).
    :param refusal_max_age: lifetime of a "reject all" choice (default 6 months).
    :param on_violation: called with a :class:`Violation` for each cookie removed (or,
        in report-only mode, that would be removed). Errors it raises are logged.
    :param on_consent: called with a :class:`~consentguard.log.ConsentRecord` for each
        choice recorded through the endpoint (proof of consent).
    :param gpc_categories: categories a ``Sec-GPC: 1`` request denies while the visitor
        has made no explicit choice (default: ``marketing`` when the registry declares it).
    :param gpc_overrides_consent: when true, GPC denies those categories even after an
        explicit opt-in (default false: the explicit choice wins).
    :param honor_dnt: treat ``DNT: 1`` like ``Sec-GPC: 1`` (default false; DNT is deprecated).
    :param gpc_json: serve ``/.well-known/gpc.json`` (``{"gpc": true}``) declaring that
        the site honours GPC; a date string (``"2026-04-20"``) adds it as ``lastUpdate``.
    :param cache_control: add ``Cache-Control: private`` to responses carrying a cookie
        that only consent allowed, or purge headers (default true).
    :param cookie_secure: the consent cookie's ``Secure`` flag: ``"auto"`` (default) sets
        it exactly on https requests, so plain-http development and test clients keep the
        cookie; ``True`` or ``False`` force it. A ``__Host-``/``__Secure-`` name is always
        ``Secure`` under ``"auto"`` (browsers require it).
    :param cookie_samesite: the consent cookie's ``SameSite`` (default ``"Lax"``).
    :param cookie_domain: the consent cookie's ``Domain`` (default host-only).
    :param cookie_path: the consent cookie's ``Path`` (default ``"/"``).
    :param trusted_origins: origins (``"https://shop.example.com"``) whose consent POSTs
        the endpoint accepts even when they look cross-origin, e.g. when a proxy rewrites
        ``Host`` and the browser sends no ``Sec-Fetch-Site``.
    :param clock: returns the current Unix time; replace it in tests.
    :param cache_size: how many distinct ``Cookie`` headers (returning visitors) and
        consent values one process remembers, decided and verified (default 4,096). A
        request beyond them is worked out afresh, which costs several times more: raise it
        for a site with more visitors active at once per process (memory grows with it).
    """

    def __init__(
        self,
        registry: Registry,
        secret_key: SecretKey,
        *,
        unknown: Unknown = "block",
        mode: Mode = "enforce",
        endpoint: str | None = "/_consent",
        cookie_name: str = "cg_consent",
        max_age: int | float | timedelta = SIX_MONTHS,
        refusal_max_age: int | float | timedelta = SIX_MONTHS,
        on_violation: Callable[[Violation], object] | None = None,
        on_consent: Callable[[ConsentRecord], object] | None = None,
        gpc_categories: Iterable[str] | None = None,
        gpc_overrides_consent: bool = False,
        honor_dnt: bool = False,
        gpc_json: bool | str = False,
        cache_control: bool = True,
        cookie_secure: bool | Literal["auto"] = "auto",
        cookie_samesite: Literal["Lax", "Strict", "None"] = "Lax",
        cookie_domain: str | None = None,
        cookie_path: str = "/",
        trusted_origins: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if not isinstance(registry, Registry):
            raise TypeError("registry must be a consentguard.Registry")
        if unknown not in ("block", "allow", "raise"):
            raise ValueError(f"unknown must be 'block', 'allow' or 'raise', not {unknown!r}")
        if mode not in ("enforce", "report-only"):
            raise ValueError(f"mode must be 'enforce' or 'report-only', not {mode!r}")
        if endpoint is not None and (not endpoint.startswith("/") or endpoint.endswith("/")):
            raise ValueError(f"endpoint must be a path such as '/_consent', not {endpoint!r}")
        if cookie_samesite not in ("Lax", "Strict", "None"):
            raise ValueError("cookie_samesite must be 'Lax', 'Strict' or 'None'")
        if cookie_secure not in (True, False, "auto"):
            raise ValueError(f"cookie_secure must be 'auto', True or False, not {cookie_secure!r}")
        _check_prefixed_cookie(cookie_name, cookie_secure, cookie_domain, cookie_path)
        _check_cache_size(cache_size)
        self._registry = registry
        self._unknown: Unknown = unknown
        self._mode: Mode = mode
        self._report_only = mode == "report-only"
        self._endpoint = endpoint
        self._cookie_name = cookie_name
        self._on_violation = on_violation
        self._on_consent = on_consent
        self._gpc_overrides_consent = gpc_overrides_consent
        self._honor_dnt = honor_dnt
        self._gpc_json = gpc_json
        self._cache_control = cache_control
        self._cookie_secure = cookie_secure
        self._cookie_samesite = cookie_samesite
        self._cookie_domain = cookie_domain
        self._cookie_path = cookie_path
        self._trusted_origins = parse_origins(trusted_origins)
        self._clock = clock
        self._codec = ConsentCodec(
            registry, secret_key, max_age=max_age, refusal_max_age=refusal_max_age, clock=clock,
            cache_size=cache_size,
        )
        self._cache_size = cache_size
        if gpc_categories is None:  # default: marketing, where the registry has one to deny
            gpc_categories = [c.name for c in registry.categories
                              if c.name == "marketing" and not c.required]
        self._gpc_categories = frozenset(gpc_categories)
        for name in self.gpc_categories:
            if name not in registry.category_names:
                raise ValueError(f"gpc_categories names {name!r}, which the registry does not "
                                 "declare")
            if name in registry.required:
                raise ValueError(f"gpc_categories cannot include the required category {name!r}")
        for label, seconds in (("max_age", self.codec.max_age),
                               ("refusal_max_age", self.codec.refusal_max_age)):
            if seconds > THIRTEEN_MONTHS.total_seconds():
                logger.warning(
                    "%s is %d days: regulators (CNIL) expect a stored choice to be renewed "
                    "within 13 months.", label, seconds // 86400)
        registrable_domain("example.com")  # reads the Public Suffix List now, not mid-request
        self._logged_unknown: set[str] = set()
        self._log_capped = False
        # The hot path: each is a lookup for what repeats across requests (see decide()).
        self._tables: dict[frozenset[str], dict[str, int]] = {}
        # The same verdicts keyed by raw (bytes) names, for ASGI Set-Cookie headers: apart,
        # since "a" and b"a" hash alike and comparing them warns under ``python -b``.
        self._raw_tables: dict[frozenset[str], dict[bytes, int]] = {}
        # Keyed (is it bytes, value): "a" and b"a" hash alike, and comparing them warns
        # under ``python -b`` (one guard may serve WSGI's str and ASGI's bytes headers).
        self._set_cookies: OrderedDict[tuple[bool, str | bytes], _SetCookie] = OrderedDict()
        self._decisions: OrderedDict[tuple[str, str, bool, bool], _Remembered] = OrderedDict()
        self._responses: OrderedDict[Any, tuple[Any, ...]] = OrderedDict()
        # Hashes of header lists seen once: a list is remembered when it comes again, so
        # responses that never repeat (per-visitor values) cost no remembering.
        self._seen_responses: set[int] = set()
        # Verdicts whose request cookies the app may see.
        self._passes = (_ALLOW, _CONSENTED, _UNKNOWN) if self.unknown == "allow" else (
            _ALLOW, _CONSENTED)
        # Removals nobody hears of (no callback, no report-only log) skip the report path.
        self._quiet = self.on_violation is None and not self.report_only
        # Whole responses can be remembered when, besides, no error is to be raised.
        self._remember_responses = self._quiet and self.unknown != "raise"

    # -- options: fixed at construction (read-only; build a new guard to change one) ----------

    @property
    def registry(self) -> Registry:
        """The declared cookies and categories."""
        return self._registry

    @property
    def unknown(self) -> Unknown:
        """What happens to undeclared cookies: ``"block"``, ``"allow"`` or ``"raise"``."""
        return self._unknown

    @property
    def mode(self) -> Mode:
        """``"enforce"`` or ``"report-only"``."""
        return self._mode

    @property
    def endpoint(self) -> str | None:
        """The consent endpoint's path, or ``None``."""
        return self._endpoint

    @property
    def cookie_name(self) -> str:
        """The consent cookie's name."""
        return self._cookie_name

    @property
    def on_violation(self) -> Callable[[Violation], object] | None:
        """Called with each :class:`Violation`."""
        return self._on_violation

    @property
    def on_consent(self) -> Callable[[ConsentRecord], object] | None:
        """Called with each recorded :class:`~consentguard.log.ConsentRecord`."""
        return self._on_consent

    @property
    def gpc_categories(self) -> frozenset[str]:
        """The categories a ``Sec-GPC: 1`` request denies."""
        return self._gpc_categories

    @property
    def gpc_overrides_consent(self) -> bool:
        """Whether GPC denies them even after an explicit opt-in."""
        return self._gpc_overrides_consent

    @property
    def honor_dnt(self) -> bool:
        """Whether ``DNT: 1`` counts like ``Sec-GPC: 1``."""
        return self._honor_dnt

    @property
    def gpc_json(self) -> bool | str:
        """Whether (and with which ``lastUpdate``) ``/.well-known/gpc.json`` is served."""
        return self._gpc_json

    @property
    def cache_control(self) -> bool:
        """Whether responses carrying consent-dependent cookies are made private."""
        return self._cache_control

    @property
    def cookie_secure(self) -> bool | Literal['auto']:
        """The consent cookie's ``Secure`` flag."""
        return self._cookie_secure

    @property
    def cookie_samesite(self) -> Literal['Lax', 'Strict', 'None']:
        """The consent cookie's ``SameSite``."""
        return self._cookie_samesite

    @property
    def cookie_domain(self) -> str | None:
        """The consent cookie's ``Domain``."""
        return self._cookie_domain

    @property
    def cookie_path(self) -> str:
        """The consent cookie's ``Path``."""
        return self._cookie_path

    @property
    def trusted_origins(self) -> frozenset[str]:
        """Origins whose consent POSTs the endpoint accepts."""
        return self._trusted_origins

    @property
    def clock(self) -> Callable[[], float]:
        """Returns the current Unix time."""
        return self._clock

    @property
    def codec(self) -> ConsentCodec:
        """Signs and verifies the consent cookie."""
        return self._codec

    @property
    def cache_size(self) -> int:
        """The bound of the remembered consent values (``cache_size=``)."""
        return self._cache_size

    @property
    def report_only(self) -> bool:
        """Whether ``mode`` is ``"report-only"``."""
        return self._report_only

    # -- consent cookie ---------------------------------------------------------------------

    def encode_consent(self, accepted: Iterable[str], *, consent_id: str | None = None) -> str:
        """A signed consent cookie value accepting ``accepted`` (``"*"`` = all).

        :raises ValueError: for a category the registry does not declare.
        """
        return self.codec.encode(accepted, consent_id=consent_id)

    def decode_consent(self, value: str | None) -> Consent | None:
        """The :class:`Consent` in a cookie value; ``None`` if missing, forged or expired."""
        return self.codec.decode(value)

    def consent_cookie_header(self, value: str, *, accepts_something: bool,
                              https: bool = True) -> str:
        """The ``Set-Cookie`` value that stores a consent cookie ``value``.

        :param https: whether the request came over https (``Secure`` under
            ``cookie_secure="auto"``).
        """
        secure = self.cookie_secure
        if secure == "auto":
            secure = https or self.cookie_name.startswith(("__Host-", "__Secure-"))
        return dump_cookie(
            self.cookie_name, value,
            max_age=self.codec.lifetime(accepts_something),
            path=self.cookie_path, domain=self.cookie_domain,
            secure=secure, httponly=True, samesite=self.cookie_samesite,
        )

    # -- the per-request decision -------------------------------------------------------------

    def accepted_categories(
        self, consent: Consent | None, *, gpc: bool = False, dnt: bool = False
    ) -> frozenset[str]:
        """Required categories, plus those a valid consent accepts, less what GPC denies."""
        accepted = self.registry.required if consent is None else (
            self.registry.required | consent.accepted)
        if self._opts_out(gpc, dnt) and (consent is None or self.gpc_overrides_consent):
            accepted = accepted - self.gpc_categories
        return accepted

    def _opts_out(self, gpc: bool, dnt: bool) -> bool:
        """Whether a request signals an opt-out: ``Sec-GPC: 1``, or ``DNT: 1`` with
        ``honor_dnt`` (the endpoint's state reports the same signal)."""
        return gpc or (dnt and self.honor_dnt)

    def decide(
        self,
        cookie: str | None,
        *,
        host: str = "",
        gpc: bool = False,
        dnt: bool = False,
        path: str = "",
    ) -> Decision:
        """Work out what this request may do.

        :param cookie: the request's ``Cookie`` header (several joined with ``"; "``), or None.
        :param host: the ``Host`` header, used to purge cookies on parent domains.
        :param gpc: whether the request carries ``Sec-GPC: 1`` (exactly).
        :param dnt: whether the request carries ``DNT: 1``.
        :param path: the request path, for reports.
        """
        key = (cookie or "", host, gpc, dnt)
        remembered = self._decisions.get(key)
        now = self.clock()
        if remembered is not None and remembered.valid_from <= now < remembered.valid_until:
            # A returning visitor sends the same Cookie header: the same decision, for as
            # long as each consent value in it decodes to what it did (until one expires).
            if remembered.reported and not self._quiet:
                # Reports are per request; rather than keep one per hidden pair (a
                # hostile header holds a thousand), the pairs are judged again.
                return self._decide_afresh(
                    cookie, host=host, gpc=gpc, dnt=dnt, path=path, now=now)[0]
            decision = remembered.decision
            if decision.path != path:  # Decisions are read-only: one serves a page's visits
                decision = remembered.decision = Decision(
                    self, decision.consent, decision.accepted, decision.cookie_header,
                    decision.cookie_changed, decision.purge, path)
            return decision
        result, reported, valid_from, valid_until = self._decide_afresh(
            cookie, host=host, gpc=gpc, dnt=dnt, path=path, now=now)
        if len(key[0]) <= _COOKIE_LENGTH and len(host) <= _HOST_LENGTH:
            bounded_put(self._decisions, key,
                         _Remembered(valid_from, valid_until, result, reported),
                         self.cache_size)
        return result

    def _decide_afresh(self, cookie: str | None, *, host: str, gpc: bool, dnt: bool,
                       path: str, now: float
                       ) -> tuple[Decision, bool, float, float]:
        """The decision, whether it reported a request cookie, and the time span it holds
        for."""
        own = self.cookie_name
        values = plain_cookie_value(cookie, own) if cookie else []
        if values is None:  # written unlike a browser's: read pair by pair
            values = [pair.partition("=")[2] for name, pair in cookie_pairs(cookie or "")
                      if name == own]
        if len(values) == 1:  # the usual case: one consent cookie
            consent, valid_from, valid_until = self.codec.decode_window(values[0], now=now)
        else:
            decode = self.codec.decode_window
            windows = [decode(v, now=now) for v in dict.fromkeys(values)]
            consent = _merge([consent for consent, _, _ in windows])
            valid_from = max((start for _, start, _ in windows), default=-_INFINITY)
            valid_until = min((end for _, _, end in windows), default=_INFINITY)
        allowed = self.accepted_categories(consent, gpc=gpc, dnt=dnt)
        table = self._table(allowed)
        passes = self._passes
        pieces = browser_cookie_pieces(cookie) if cookie else None
        if pieces is not None:
            # Nothing to hide when every name is plain and already known to pass: the
            # header goes on as it came. (The table holds no name with spaces or tabs
            # around it; it may hold "", from a nameless Set-Cookie: hence "name and".)
            get = table.get
            if all(eq and name and get(name) in passes for name, eq, _ in pieces):
                return (Decision(self, consent, allowed, cookie, False, (), path), False,
                        valid_from, valid_until)
        pairs = cookie_pairs(cookie) if cookie else []
        kept: list[str] = []
        purge: list[str] = []
        purged: set[str] = set()
        budget = _PURGE_BYTES
        changed = False
        for name, pair in pairs:
            # A nameless pair ("_ga", "=_ga=1") is read by lenient parsers (werkzeug,
            # scripts) as the cookie it names: judge it by that name.
            verdict = self._classify(name or lenient_name(pair), allowed, table)
            if verdict in passes:
                kept.append(pair)
                continue
            changed = True
            self._report("request-cookie", name, pair, path)
            entry = (self.registry.match(name) or self.registry.match(name.strip())
                     if verdict == _REFUSE and name else None)
            # No browser holds a cookie whose name has a control character: nothing to purge,
            # and such a name cannot go into a valid header value.
            # At most _PURGE_NAMES names and _PURGE_BYTES a response: a browser holding
            # more gets the rest on the next responses, and no request can make one
            # response (or one remembered decision) large.
            if (entry is not None and name not in purged and is_holdable_name(name)
                    and len(purged) < _PURGE_NAMES):
                deletions = self._deletions(name, entry.path, entry.domain, host)
                size = sum(map(len, deletions))
                if size <= budget:
                    budget -= size
                    purged.add(name)
                    purge.extend(deletions)
        if self.report_only:
            result = Decision(self, consent, allowed, cookie, False, (), path)
        else:
            cookie_out = "; ".join(kept) if changed else cookie
            result = Decision(self, consent, allowed, cookie_out or None, changed,
                              tuple(purge), path)
        return result, changed, valid_from, valid_until

    def _classify(self, name: str, allowed: frozenset[str], table: dict[str, int]) -> int:
        verdict = table.get(name)
        if verdict is None:
            verdict = self._verdict(name, allowed)
            if len(table) < _NAMES_PER_TABLE and len(name) <= _NAME_LENGTH:
                table[name] = verdict
        return verdict

    def _raw_table(self, allowed: frozenset[str]) -> dict[bytes, int]:
        """:meth:`_table`'s verdicts under raw names, filled as headers show them."""
        return _memo_for(self._raw_tables, allowed)

    def _table(self, allowed: frozenset[str]) -> dict[str, int]:
        """The verdict memo for one set of accepted categories (a visitor's choice)."""
        return _memo_for(self._tables, allowed)

    def _verdict(self, name: str, allowed: frozenset[str]) -> int:
        stripped = name.strip()
        if stripped != name:
            # Starlette and Django read names with str.strip(): "\xa0_ga" reaches the app
            # as "_ga". The stricter of both readings holds.
            return max(self._name_verdict(name, allowed),
                       self._name_verdict(stripped, allowed), key=_SEVERITY.__getitem__)
        return self._name_verdict(name, allowed)

    def _name_verdict(self, name: str, allowed: frozenset[str]) -> int:
        if name == self.cookie_name:  # our own cookie: always allowed, always visible
            return _ALLOW
        entry = self.registry.match(name)
        if entry is None:
            return _UNKNOWN
        if entry.category in self.registry.required:
            return _ALLOW
        return _CONSENTED if entry.category in allowed else _REFUSE

    def _set_cookie(self, value: str | bytes) -> _SetCookie:
        """What a Set-Cookie value says, parsed once per distinct value."""
        key = (isinstance(value, bytes), value)
        facts = self._set_cookies.get(key)
        if facts is None:
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            name = set_cookie_name(text)
            # A nameless cookie ("=_ga=1") comes back as "_ga=1": it poses as "_ga".
            shown = lenient_name(text.partition(";")[0]) if name == "" else name
            facts = _SetCookie(name, shown, text)
            if len(value) <= _SET_COOKIE_LENGTH:
                bounded_put(self._set_cookies, key, facts, _SET_COOKIES)
        return facts

    def _deletions(self, name: str, path: str, domain: str | None, host: str) -> tuple[str, ...]:
        host_only = name[:7].lower() == "__host-"  # browsers match prefixes case-blind
        domains = (None,) if host_only else purge_domains(host, domain)
        return tuple(deletion_header(name, path=path, domain=d) for d in domains)

    def _report(self, kind: Literal["set-cookie", "request-cookie", "ignored"], name: str,
                header: str, path: str) -> None:
        entry = self.registry.match(name)
        category = entry.category if entry is not None else None
        logged = self._logged_unknown
        if category is None and kind == "set-cookie" and name not in logged:
            if len(logged) < _LOGGED_NAMES and len(name) <= _NAME_LENGTH:
                logged.add(name)
                logger.warning("undeclared cookie %r %s (unknown=%r); declare it in the registry",
                               name, "reported" if self.report_only else "blocked", self.unknown)
            elif not self._log_capped:
                self._log_capped = True  # said once: names made up per request would flood
                logger.warning("more than %d distinct (or very long) undeclared cookie names: "
                               "they are still %s but no longer logged one by one",
                               _LOGGED_NAMES, "reported" if self.report_only else "blocked")
        action: Literal["removed", "reported"] = "reported" if self.report_only else "removed"
        if self.report_only:
            logger.info("report-only: %s %r (category %s) would be removed on %s",
                        kind, name, category, path or "a request")
        if self.on_violation is not None:
            try:
                self.on_violation(Violation(kind, name, category, action, header, path))
            except Exception:
                logger.exception("on_violation callback failed")

    # -- adapters -----------------------------------------------------------------------------

    def wsgi(self, app: WSGIApplication) -> WSGIConsentMiddleware:
        """Wrap a WSGI application (Flask's ``app.wsgi_app``, Django's ``application``)."""
        from .wsgi import WSGIConsentMiddleware

        return WSGIConsentMiddleware(app, guard=self)

    def asgi(self, app: ASGIApp) -> ConsentMiddleware:
        """Wrap an ASGI application (Starlette, FastAPI, Django's ASGI handler)."""
        from .asgi import ConsentMiddleware

        return ConsentMiddleware(app, guard=self)

    def __repr__(self) -> str:
        return f"<ConsentGuard {self.registry!r} mode={self.mode!r} unknown={self.unknown!r}>"


class Decision:
    """What one request may do, as worked out by :meth:`ConsentGuard.decide`.

    :ivar consent: the visitor's valid :class:`Consent`, or ``None`` before any choice.
    :ivar accepted: the categories accepted for this request (required ones included).
    :ivar cookie_header: the ``Cookie`` header the app should see (``None``: no cookies).
    :ivar cookie_changed: whether it differs from what the browser sent.
    :ivar purge: ``Set-Cookie`` values deleting refused cookies the browser sent.

    Treat it as read-only: one Decision may serve every request that carries the same
    ``Cookie`` header to the same path.
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
        return self._filter(headers, _TEXT)

    def filter_raw_headers(
        self, headers: Iterable[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """:meth:`filter_headers` for ``(bytes, bytes)`` headers (ASGI style)."""
        return self._filter(headers, _RAW)

    def _filter(self, headers: Iterable[tuple[H, H]], form: _HeaderForm[H]
                ) -> list[tuple[H, H]]:
        guard = self._guard
        # Pages repeat their headers, so for one choice the same header list gets the same
        # answer (with the same purge) — remembered while nothing else can differ: nobody to
        # report to, no error to raise, no answer resting on the clock (Expires-only deletion).
        if not guard._remember_responses:
            return self._filter_headers(headers, form)[0]
        items = tuple(headers)
        # str and bytes lists apart, by a flag first (comparing "x" with b"x" would warn).
        key = (form.raw, self.accepted, self.purge, items)
        try:
            known = guard._responses.get(key)
        except TypeError:  # ASGI allows [name, value] lists: not hashable, not remembered
            return self._filter_headers(items, form)[0]
        if known is not None:
            return list(known)
        out, timeless = self._filter_headers(items, form)
        if timeless and len(items) <= _MEMO_HEADERS:
            seen = guard._seen_responses
            digest = hash(key)
            if digest not in seen:  # the first sighting
                if len(seen) >= _RESPONSES_SEEN:
                    seen.clear()
                seen.add(digest)
            elif (sum([len(name) + len(value) for name, value in items])
                  + sum([len(value) for value in self.purge]) <= _MEMO_BYTES):
                bounded_put(guard._responses, key, tuple(out), _RESPONSES)
        return out

    def _filter_headers(self, headers: Iterable[tuple[H, H]], form: _HeaderForm[H]
                        ) -> tuple[list[tuple[H, H]], bool]:
        """The filtered headers, and whether the answer holds at any time."""
        guard = self._guard
        items: Sequence[tuple[H, H]] = (
            headers if isinstance(headers, (list, tuple)) else list(headers))
        report_only = guard.report_only
        set_cookie, cache_control, decode, plain = (
            form.set_cookie, form.cache_control, form.decode, form.plain)
        table = guard._table(self.accepted)
        # Plain Set-Cookie names are looked up as they come: str (WSGI) or bytes (ASGI).
        names: dict[Any, int] = guard._raw_table(self.accepted) if form.raw else table
        timeless = True
        out: list[tuple[H, H]] = []
        personal = bool(self.purge)
        cache_at: list[int] = []
        raw = form.raw
        for header in items:
            if raw and (type(header) is not tuple or type(header[0]) is not bytes
                        or type(header[1]) is not bytes):
                # Servers take str, bytearray and [name, value] too (uvicorn with h11
                # sends str): judged as the bytes they stand for, sent as such.
                converted = _raw_header(header)
                if converted is None:  # no pair of text: kept, unless it names Set-Cookie
                    if not _names_set_cookie(header):
                        out.append(header)
                    continue
                header = converted  # type: ignore[assignment]
            name = header[0].lower()
            if name == cache_control:
                cache_at.append(len(out))
            elif name == set_cookie:
                value = header[1]
                # Nearly every header is plain (see cookies.PLAIN_SET_COOKIE) and of a name
                # this choice lets through: one C-level match and one lookup, keyed by the
                # raw name, with no per-value parsing or caching (values differ per visitor).
                raw_name = plain(value)
                verdict = None
                if raw_name is not None:
                    verdict = names.get(raw_name)
                    if verdict == _ALLOW:
                        out.append(header)
                        continue
                    if verdict == _CONSENTED:
                        personal = True
                        out.append(header)
                        continue
                keep, consent_dependent, dated = self._check_set_cookie(
                    value, items, form, table, None if raw_name is None else decode(raw_name))
                if (verdict is None and raw_name is not None and names is not table
                        and len(names) < _NAMES_PER_TABLE and len(raw_name) <= _NAME_LENGTH):
                    # The name's verdict (just worked out) under its raw name.
                    names[raw_name] = guard._classify(decode(raw_name), self.accepted, table)
                timeless = timeless and not dated
                personal = personal or consent_dependent
                if not keep and not report_only:
                    continue
            out.append(header)
        if report_only:
            return out, timeless
        encode = form.encode
        for deletion in self.purge:
            out.append((encode("Set-Cookie"), encode(deletion)))
        if personal and guard.cache_control:
            _make_private(out, cache_at, decode, encode)
        return out, timeless

    def _check_set_cookie(self, value: H, headers: Sequence[tuple[H, H]], form: _HeaderForm[H],
                          table: dict[str, int], plain_name: str | None = None
                          ) -> tuple[bool, bool, bool]:
        """(may it pass, does it make the response visitor-specific, does the answer rest
        on the clock). ``headers``: the whole response's (its ``Date`` matters to an
        ``Expires``). ``plain_name``: the name, when the header is plain."""
        decode = form.decode
        guard = self._guard
        facts: _SetCookie | None = None
        if plain_name is None:
            facts = guard._set_cookie(value)
            if facts.name is None:  # a browser ignores it whatever we do; drop it for others
                guard._report("ignored", "", decode(value), self.path)
                return False, False, False
            name = facts.name
        else:
            name = plain_name
        accepted = self.accepted
        verdict = guard._classify(name, accepted, table)
        if (facts is not None and not name and verdict != _REFUSE and facts.shown
                and guard._classify(facts.shown, accepted, table) == _REFUSE):
            verdict = _REFUSE
        if verdict == _ALLOW:
            return True, False, False
        if verdict == _CONSENTED or (verdict == _UNKNOWN and guard.unknown == "allow"):
            return True, True, False
        # Refused or undeclared: it passes only as a deletion every browser agrees on.
        expiry = deletion_expiry(decode(value)) if facts is None else facts.expiry
        dated = expiry is not None and expiry != EARLIEST
        deleting = expiry is not None and (
            not dated or expired(expiry, _date_horizon(headers, form, guard.clock())))
        if deleting:
            return True, False, dated
        if verdict == _UNKNOWN and guard.unknown == "raise":
            raise UndeclaredCookieError(name)
        if not guard._quiet or (verdict == _UNKNOWN and name not in guard._logged_unknown):
            guard._report("set-cookie", name, decode(value), self.path)
        return False, False, dated


class _SetCookie:
    """The parts of a Set-Cookie value the guard reads (``name`` None: browsers ignore it).

    The deletion expiry is parsed on first need: only refused cookies need it.
    """

    __slots__ = ("_expiry", "_text", "name", "shown")

    def __init__(self, name: str | None, shown: str | None, text: str) -> None:
        self.name = name
        self.shown = shown
        self._text = text
        self._expiry: float | bool | None = False  # False: not parsed yet

    @property
    def expiry(self) -> float | None:
        """:func:`cookies.deletion_expiry` of the header."""
        if self._expiry is False:
            self._expiry = deletion_expiry(self._text)
        return self._expiry


class _Remembered:
    """A decision kept for one Cookie header, with the time span it holds for.

    (A slotted class, not a frozen dataclass: one is built for every new Cookie header.)
    """

    __slots__ = ("decision", "reported", "valid_from", "valid_until")

    def __init__(self, valid_from: float, valid_until: float, decision: Decision,
                 reported: bool) -> None:
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.decision = decision
        self.reported = reported  # whether working it out reported a request cookie


def _check_prefixed_cookie(name: str, secure: object, domain: str | None, path: str) -> None:
    """A ``__Host-``/``__Secure-`` consent cookie with attributes browsers accept for it
    (RFC 6265bis §4.1.3): otherwise no browser would store the visitor's choice."""
    lowered = name.lower()
    for prefix in ("__Host-", "__Secure-"):
        if lowered.startswith(prefix.lower()) and not name.startswith(prefix):
            raise ValueError(f"cookie_name {name!r}: write the prefix as {prefix!r}")
    if not name.startswith(("__Host-", "__Secure-")):
        return
    if secure is False:
        raise ValueError(f"cookie_name {name!r} needs a Secure cookie: drop cookie_secure=False "
                         "(the default 'auto' makes a prefixed cookie always Secure)")
    if name.startswith("__Host-"):
        if domain is not None:
            raise ValueError(f"cookie_name {name!r} must be host-only: remove cookie_domain "
                             f"({domain!r}), or use a name without the __Host- prefix")
        if path != "/":
            raise ValueError(f"cookie_name {name!r} needs cookie_path='/', not {path!r}")


def _check_cache_size(size: object) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"cache_size must be a positive int, not {size!r}")


def _memo_for(tables: dict[frozenset[str], dict[K, int]], allowed: frozenset[str]
              ) -> dict[K, int]:
    """The verdict table for one choice; few choices recur, so all go when too many do."""
    table = tables.get(allowed)
    if table is None:
        if len(tables) >= _TABLES:
            tables.clear()
        table = tables[allowed] = {}
    return table


def _merge(found: Sequence[Consent | None]) -> Consent | None:
    """One consent from the valid consent cookies a request carries."""
    valid = [c for c in found if c is not None]
    if len(valid) <= 1:
        return valid[0] if valid else None
    # Several valid consent cookies (one may be tossed from a sibling subdomain): keep
    # only what all of them accept, so a planted cookie can narrow consent, never widen it.
    narrowest = min(valid, key=lambda c: len(c.accepted))
    common = frozenset.intersection(*(c.accepted for c in valid))
    return replace(narrowest, accepted=common)


class _HeaderForm(Generic[H]):
    """How header lists of one type read: WSGI's str pairs, or ASGI's raw bytes pairs."""

    __slots__ = ("cache_control", "date", "decode", "encode", "plain", "raw", "set_cookie")
    raw: bool
    set_cookie: H
    cache_control: H
    date: H
    decode: Callable[[H], str]
    encode: Callable[[str], H]
    plain: Callable[[H], H | None]

    def __init__(self, raw: bool, set_cookie: H, cache_control: H, date: H,
                 decode: Callable[[H], str], encode: Callable[[str], H],
                 plain: Callable[[H], H | None]) -> None:
        self.raw = raw  # (a flag in remembered keys: "x" and b"x" must never be compared)
        self.set_cookie = set_cookie  # the lower-case header names looked for
        self.cache_control = cache_control
        self.date = date
        self.decode = decode  # header text <-> str, latin-1 for bytes
        self.encode = encode
        self.plain = plain  # the name of a plain Set-Cookie, else None (cookies.py)


def _identity(value: str) -> str:
    return value


def _latin1(value: bytes) -> str:
    return value.decode("latin-1")


def _to_latin1(value: str) -> bytes:
    return value.encode("latin-1")


_TEXT = _HeaderForm(False, "set-cookie", "cache-control", "date", _identity, _identity,
                    plain_set_cookie_name)
_RAW = _HeaderForm(True, b"set-cookie", b"cache-control", b"date", _latin1, _to_latin1,
                   plain_raw_set_cookie_name)


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


def _date_horizon(headers: Sequence[tuple[H, H]], form: _HeaderForm[H], now: float) -> float:
    """The time an ``Expires`` must lie before to delete: Chromium shifts it by the
    response's ``Date`` (``now - Date``), so the earliest of ``now`` and each ``Date``;
    an unreadable ``Date`` leaves no ``Expires`` a deletion."""
    horizon = now
    for name, value in headers:
        if name.lower() == form.date:
            date = plain_date(form.decode(value))
            horizon = -_INFINITY if date is None else min(horizon, date)
    return horizon


def _make_private(out: list[tuple[H, H]], cache_at: list[int],
                  decode: Callable[[H], str], encode: Callable[[str], H]) -> None:
    """Make shared caches keep the response to themselves (RFC 9111 ``private``)."""
    directives = [d.strip() for i in cache_at for d in decode(out[i][1]).split(",")]
    lowered = [d.split("=", 1)[0].strip().lower() for d in directives]
    if "private" in lowered or "no-store" in lowered:
        return
    if not cache_at:
        out.append((encode("Cache-Control"), encode("private")))
        return
    # public and s-maxage would contradict private: drop them, keep the rest.
    kept: list[str] = [d for d, low in zip(directives, lowered, strict=True)
                       if d and low not in ("public", "s-maxage")]
    first = cache_at[0]
    out[first] = (out[first][0], encode(", ".join([*kept, "private"])))
    for i in reversed(cache_at[1:]):
        del out[i]
