"""The guard: a registry and options, fixed at construction, and :meth:`ConsentGuard.decide`.

:meth:`ConsentGuard.decide` turns the few request headers that matter into a
:class:`~consentguard.decision.Decision` (in :mod:`consentguard.decision`), whose methods
rewrite a response's header list. Nothing here touches a WSGI environ or an ASGI scope:
the adapters in :mod:`consentguard.wsgi` and :mod:`consentguard.asgi` only translate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from werkzeug.http import dump_cookie

from .consent import Consent, ConsentCodec, SecretKey
from .cookies import (
    cookie_pairs,
    deletion_header,
    is_holdable_name,
    lenient_name,
    purge_domains,
    registrable_domain,
    with_declared_domain,
)
from .decision import ALLOW, CONSENTED, REFUSE, UNKNOWN
from .decision import Decision as Decision
from .endpoint import parse_origins
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


DEFAULT_CACHE_SIZE = 4096
# A request purges at most this many names, in this many bytes of deletion headers: a
# browser holding more gets the rest on the next responses.
_PURGE_NAMES = 32
_PURGE_BYTES = 4096
# Undeclared names logged one by one, and the longest name logged or remembered.
_LOGGED_NAMES = 10000
_NAME_LENGTH = 256


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
    :param cache_size: how many verified consent values, and how many cookie names'
        categories, one process remembers (default 4,096 each). A consent value beyond them
        is verified afresh, which costs a few microseconds: raise it for a site with more
        visitors active at once per process (memory grows with it).
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
        # What each cookie name is, whatever the consent: ALLOW, UNKNOWN, or its
        # (optional) category. The one memo of the hot path: registry.match costs a few
        # hundred nanoseconds a name, a lookup here a few dozen. Emptied when full.
        self._kinds: dict[str, int | str] = {}
        # Verdicts whose request cookies the app may see.
        self._passes = frozenset(
            (ALLOW, CONSENTED, UNKNOWN) if unknown == "allow" else (ALLOW, CONSENTED))
        # Removals nobody hears of: no callback, no report-only log.
        self._quiet = on_violation is None and not self._report_only

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
        """The bound of each memo: verified consent values, and cookie names (``cache_size=``)."""
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
        if self.opts_out(gpc, dnt) and (consent is None or self.gpc_overrides_consent):
            accepted = accepted - self.gpc_categories
        return accepted

    def opts_out(self, gpc: bool, dnt: bool) -> bool:
        """Whether a request signals an opt-out: ``Sec-GPC: 1``, or ``DNT: 1`` with
        ``honor_dnt`` (the endpoint's state reports the same signal)."""
        return gpc or (dnt and self._honor_dnt)

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
        # One reading of the header, the way browsers write it and servers split it.
        pairs = cookie_pairs(cookie) if cookie else []
        own = self._cookie_name
        values = [pair.partition("=")[2] for name, pair in pairs if name == own]
        if not values:
            consent = None
        elif len(values) == 1:
            consent = self._codec.decode(values[0])
        else:
            decode = self._codec.decode
            consent = _merge([decode(value) for value in dict.fromkeys(values)])
        accepted = self.accepted_categories(consent, gpc=gpc, dnt=dnt)
        kinds = self._kinds
        passes = self._passes
        for name, _ in pairs:  # the usual request: every name known, and let through
            kind = kinds.get(name)
            if kind.__class__ is str:
                if kind not in accepted:
                    break
            elif kind not in passes:  # (None: a name not known yet, or a nameless pair)
                break
        else:
            return Decision(self, consent, accepted,
                            cookie if self._report_only else cookie or None, False, (), path)
        return self._hide(pairs, consent, accepted, cookie, host, path)

    def _hide(self, pairs: list[tuple[str, str]], consent: Consent | None,
              accepted: frozenset[str], cookie: str | None, host: str, path: str
              ) -> Decision:
        """:meth:`decide` for a ``Cookie`` header with a pair to judge anew or to hide."""
        passes = self._passes
        kept: list[str] = []
        purge: list[str] = []
        purged: set[str] = set()
        budget = _PURGE_BYTES
        changed = False
        host_domains: tuple[str | None, ...] | None = None  # read once, when first needed
        for name, pair in pairs:
            # A nameless pair ("_ga", "=_ga=1") is read by lenient parsers (werkzeug,
            # scripts) as the cookie it names: judge it by that name.
            verdict = self.verdict(name or lenient_name(pair), accepted)
            if verdict in passes:
                kept.append(pair)
                continue
            changed = True
            if not self._quiet:
                self.report("request-cookie", name, pair, path, undeclared=verdict == UNKNOWN)
            entry = (self._registry.match(name) or self._registry.match(name.strip())
                     if verdict == REFUSE and name else None)
            # No browser holds a cookie whose name has a control character: nothing to purge,
            # and such a name cannot go into a valid header value.
            if (entry is not None and name not in purged and is_holdable_name(name)
                    and len(purged) < _PURGE_NAMES):
                if host_domains is None:
                    host_domains = purge_domains(host)
                deletions = self._deletions(name, entry.path, entry.domain, host_domains)
                size = sum(map(len, deletions))
                if size <= budget:
                    budget -= size
                    purged.add(name)
                    purge.extend(deletions)
        if self._report_only:
            return Decision(self, consent, accepted, cookie, False, (), path)
        if not changed:
            return Decision(self, consent, accepted, cookie or None, False, (), path)
        return Decision(self, consent, accepted, "; ".join(kept) or None, True, tuple(purge),
                        path)

    def verdict(self, name: str, accepted: frozenset[str]) -> int:
        """What cookie ``name`` is for a request accepting ``accepted``: one of the
        constants ``ALLOW``, ``CONSENTED``, ``UNKNOWN``, ``REFUSE`` of
        ``consentguard.decision``, from the most lenient to the strictest.

        A name with whitespace around it gets the stricter verdict of its two readings:
        Starlette and Django read names with ``str.strip()``, so ``"\xa0_ga"`` reaches the
        app as ``"_ga"``.
        """
        kind = self._kinds.get(name)
        if kind is None:
            stripped = name.strip()
            if stripped != name:
                return max(_verdict(self._kind(name), accepted),
                           _verdict(self._kind(stripped), accepted))
            kind = self._kind(name)
            if name and len(name) <= _NAME_LENGTH:  # ("" stands for nameless pairs in decide)
                kinds = self._kinds
                if len(kinds) >= self._cache_size:
                    kinds.clear()
                kinds[name] = kind
        if kind.__class__ is str:
            return CONSENTED if kind in accepted else REFUSE
        return kind  # type: ignore[return-value]

    def _kind(self, name: str) -> int | str:
        """ALLOW (the consent cookie, a required category's), UNKNOWN, or the category."""
        if name == self._cookie_name:
            return ALLOW
        entry = self._registry.match(name)
        if entry is None:
            return UNKNOWN
        if entry.category in self._registry.required:
            return ALLOW
        return entry.category

    def _deletions(self, name: str, path: str, domain: str | None,
                   host_domains: tuple[str | None, ...]) -> tuple[str, ...]:
        """The deletions of ``name``: ``host_domains`` is :func:`cookies.purge_domains`
        of the request's host."""
        host_only = name[:7].lower() == "__host-"  # browsers match prefixes case-blind
        domains = (None,) if host_only else with_declared_domain(host_domains, domain)
        return tuple(deletion_header(name, path=path, domain=d) for d in domains)

    def report(self, kind: Literal["set-cookie", "request-cookie", "ignored"], name: str,
               header: str, path: str = "", *, undeclared: bool = False) -> None:
        """Tell of one cookie that consent did not allow: ``on_violation``, the report-only
        log line, and, once per name, the warning about an undeclared Set-Cookie.

        :param undeclared: whether its verdict was ``UNKNOWN``.
        """
        if self._quiet and not (kind == "set-cookie" and undeclared
                                and name not in self._logged_unknown):
            return
        entry = self._registry.match(name)
        category = entry.category if entry is not None else None
        logged = self._logged_unknown
        if category is None and kind == "set-cookie" and name not in logged:
            if len(logged) < _LOGGED_NAMES and len(name) <= _NAME_LENGTH:
                logged.add(name)
                logger.warning("undeclared cookie %r %s (unknown=%r); declare it in the registry",
                               name, "reported" if self._report_only else "blocked",
                               self._unknown)
            elif not self._log_capped:
                self._log_capped = True  # said once: names made up per request would flood
                logger.warning("more than %d distinct (or very long) undeclared cookie names: "
                               "they are still %s but no longer logged one by one",
                               _LOGGED_NAMES, "reported" if self._report_only else "blocked")
        action: Literal["removed", "reported"] = "reported" if self._report_only else "removed"
        if self._report_only:
            logger.info("report-only: %s %r (category %s) would be removed on %s",
                        kind, name, category, path or "a request")
        if self._on_violation is not None:
            try:
                self._on_violation(Violation(kind, name, category, action, header, path))
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


def _verdict(kind: int | str, accepted: frozenset[str]) -> int:
    """A name's verdict from what it is (:meth:`ConsentGuard._kind`)."""
    if isinstance(kind, str):
        return CONSENTED if kind in accepted else REFUSE
    return kind


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
