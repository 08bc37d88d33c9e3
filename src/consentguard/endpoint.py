"""The consent endpoint as a pure request → response function.

``GET {endpoint}`` answers the state as JSON; ``POST`` records a choice (form, multipart
form or JSON); ``DELETE`` (or ``POST`` with ``withdraw``) withdraws. :func:`handle` does no
I/O: the WSGI and ASGI adapters read the body (bounded), store the proof of consent a
response carries (:func:`record_proof`, or ``asgi.record_proof_async`` off the event
loop) and write the :class:`EndpointResponse` back.
"""

from __future__ import annotations

import hashlib
import html
import inspect
import io
import json
import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from ._validation import CONTROL
from .consent import Consent, consent_to_json
from .cookies import cookie_pairs, purge_domains
from .policy import policy_data

if TYPE_CHECKING:
    from .guard import ConsentGuard, Decision
    from .log import ConsentRecord
    from .registry import Registry

__all__ = ["MAX_BODY", "EndpointRequest", "EndpointResponse", "handle", "parse_origins",
           "record_proof", "response_headers", "safe_next"]

logger = logging.getLogger("consentguard")

#: The largest request body the endpoint reads, in bytes; a larger one is answered 413.
MAX_BODY = 16 * 1024
ALLOWED_METHODS = "GET, HEAD, POST, DELETE"
GPC_JSON_PATH = "/.well-known/gpc.json"
_NO_STORE = ("Cache-Control", "no-store")
_NOSNIFF = ("X-Content-Type-Options", "nosniff")


@dataclass(frozen=True)
class EndpointRequest:
    """What the endpoint needs of a request, protocol-free.

    :param method: the HTTP method, upper case.
    :param path: the path inside the app (``"/_consent"``, ``"/_consent/banner.js"``).
    :param query: the raw query string.
    :param headers: lower-case header names → values (the last one wins).
    :param body: the request body (at most :data:`MAX_BODY` bytes).
    :param scheme: ``"http"`` or ``"https"``.
    :param body_too_large: the body exceeded :data:`MAX_BODY` and was not read.
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    scheme: str = "http"
    body_too_large: bool = False


@dataclass(frozen=True)
class EndpointResponse:
    """A complete response: status, headers in order, body.

    :param record: the proof of consent to store (``on_consent``) before this response is
        sent; ``None`` when there is nothing to record.
    :param unrecorded: what to send instead when storing ``record`` fails: a 503 without
        the consent cookie for a choice that accepts something; ``None`` for a refusal or
        a withdrawal, which is honoured whether it was recorded or not.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    record: ConsentRecord | None = None
    unrecorded: EndpointResponse | None = None


def response_headers(response: EndpointResponse) -> list[tuple[str, str]]:
    """The headers to send for ``response``: its own, and a ``Content-Length`` of its body
    unless it has one (the answer to a HEAD carries the GET body's length, and no body).
    """
    if any(name.lower() == "content-length" for name, _ in response.headers):
        return response.headers
    return [*response.headers, ("Content-Length", str(len(response.body)))]


def _answer(method: str, status: int, headers: list[tuple[str, str]],
            body: bytes) -> EndpointResponse:
    if method == "HEAD":  # the GET's headers, no body (RFC 9110 9.3.2)
        return EndpointResponse(status, [*headers, ("Content-Length", str(len(body)))])
    return EndpointResponse(status, headers, body)


def _json_response(status: int, data: Any, extra: list[tuple[str, str]] | None = None,
                   method: str = "GET") -> EndpointResponse:
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), _NO_STORE, _NOSNIFF, *(extra or [])]
    return _answer(method, status, headers, body)


def _error(status: int, message: str,
           extra: list[tuple[str, str]] | None = None) -> EndpointResponse:
    return _json_response(status, {"error": message}, extra)


def safe_next(value: str | None) -> str:
    """``value`` when it is a same-site relative path, else exactly ``"/"``.

    Refused: anything with a scheme or host (``https://…``, ``//evil``), backslashes
    (browsers read ``/\\evil`` as ``//evil``), control characters, or not starting with ``/``.
    """
    if (not value or len(value) > 2000 or not value.startswith("/") or "\\" in value
            or value.startswith("//") or CONTROL.search(value)):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    # A Location header is ASCII: percent-encode the rest (as browsers do for a typed URL).
    return value if value.isascii() else quote(value, safe="/?#[]@!$&'()*+,;=:%~")


def state(guard: ConsentGuard, decision: Decision, *, gpc: bool, host: str) -> dict[str, Any]:
    """The endpoint's JSON view of the registry and the visitor's consent; and, for the
    banner's own purge, the domains the server purges on for ``host`` (the ``Host``)."""
    consent = decision.consent
    registry = guard.registry
    categories = [{**view, "accepted": decision.allows(view["name"])}
                  for view in _categories_view(registry)]
    return {
        "endpoint": guard.endpoint,
        "cookie_name": guard.cookie_name,
        "version": registry.version,
        "categories": categories,
        "consent": consent_to_json(consent),
        "needs_consent": consent is None or consent.needs_consent,
        "gpc": {
            "signal": gpc,
            "categories": sorted(guard.gpc_categories),
            "applied": gpc and (consent is None or guard.gpc_overrides_consent),
        },
        "mode": guard.mode,
        "purge_domains": [domain for domain in purge_domains(host) if domain is not None],
    }


def _categories_view(registry: Registry) -> list[dict[str, Any]]:
    """The policy page's view of each category, plus what the banner needs besides."""
    return [{**shown, "consent_mode": list(category.consent_mode)}
            for shown, category in zip(policy_data(registry)["categories"],
                                       registry.categories, strict=True)]


def handle(guard: ConsentGuard, decision: Decision, request: EndpointRequest,
           *, cookie_header: str | None) -> EndpointResponse:
    """Answer one request to the consent endpoint (or one of its sub-paths).

    Pure: a choice's proof of consent comes back in ``response.record``, for
    the adapter to store (:func:`record_proof`) before it sends the response.

    :param cookie_header: the ``Cookie`` header as the browser sent it, so a new choice
        can purge every cookie of a now-refused category.
    """
    gpc = request.headers.get("sec-gpc") == "1"
    dnt = request.headers.get("dnt") == "1"
    signal = guard.opts_out(gpc, dnt)  # (records keep GPC alone)
    https = request.scheme in ("https", "wss")
    if not https:
        _warn_untrusted_proxy(guard, request)
    if request.path == GPC_JSON_PATH:
        return _gpc_json(guard, request)
    sub = request.path[len(guard.endpoint or ""):]
    if sub:
        return _static(sub, request)
    method = request.method
    host = request.headers.get("host", "")
    if method in ("GET", "HEAD"):
        return _json_response(200, state(guard, decision, gpc=signal, host=host), method=method)
    if method not in ("POST", "DELETE"):
        return _error(405, f"method {method} not allowed", [("Allow", ALLOWED_METHODS)])
    if not _same_origin(request, guard.trusted_origins):
        return _error(403, "cross-site request refused: consent can only be given on this site")
    if request.body_too_large:
        return _error(413, f"request body over {MAX_BODY} bytes")
    try:
        form, is_json = _parse_body(request)
    except ValueError as exc:
        return _error(400 if "media type" not in str(exc) else 415, str(exc))
    withdraw = method == "DELETE" or _truthy(form.get("withdraw"))
    accept: list[str] = [] if withdraw else form.get("accept", [])
    try:
        accepted = guard.codec.resolve(accept)
    except ValueError as exc:
        return _error(400, str(exc))
    value = guard.encode_consent(sorted(accepted))
    # Decide again as if the browser already held the new consent: its purge list is
    # every cookie of a now-refused category the browser still sends.
    others = [pair for name, pair in cookie_pairs(cookie_header or "")
              if name != guard.cookie_name]
    redone = guard.decide("; ".join([*others, f"{guard.cookie_name}={value}"]),
                          host=host, gpc=gpc, dnt=dnt)
    headers = [("Set-Cookie", guard.consent_cookie_header(
        value, accepts_something=bool(accepted), https=https))]
    headers += [("Set-Cookie", h) for h in redone.purge]
    record = None
    if guard.on_consent is not None and redone.consent is not None:
        record = _record(guard, redone.consent, accepted, withdraw=withdraw, gpc=gpc)
    # A DELETE never comes from an HTML form: a script sent it, so it gets JSON, not a 303.
    wants_json = (is_json or method == "DELETE"
                  or "application/json" in request.headers.get("accept", ""))
    next_path = safe_next(_first(form.get("next")))
    # Refusing never needs proof: only a choice that accepts something waits for its record.
    unrecorded = _unrecorded(wants_json, next_path) if record and accepted else None
    if wants_json:
        return replace(_json_response(200, state(guard, redone, gpc=signal, host=host), headers),
                       record=record, unrecorded=unrecorded)
    return EndpointResponse(303, [("Location", next_path), _NO_STORE, *headers],
                            record=record, unrecorded=unrecorded)


_NOT_RECORDED = ("your choice could not be recorded, so it was not saved; "
                 "please try again later")


def _unrecorded(wants_json: bool, next_path: str) -> EndpointResponse:
    """The 503 sent instead of an accepting choice whose proof could not be stored."""
    if wants_json:
        return _error(503, _NOT_RECORDED)
    page = (f"<!doctype html><meta charset=utf-8><title>Choice not saved</title>"
            f"<p>Your cookie choice could not be recorded, so it was not saved. "
            f"Please try again later.</p><p><a href=\"{html.escape(next_path)}\">Back</a></p>")
    return EndpointResponse(503, [("Content-Type", "text/html; charset=utf-8"), _NO_STORE,
                                  _NOSNIFF], page.encode())


def record_proof(guard: ConsentGuard, response: EndpointResponse) -> EndpointResponse:
    """Store ``response.record`` with ``guard.on_consent``; return what to send.

    That is ``response`` itself, or ``response.unrecorded`` when the
    callback raised and the choice accepted something. For WSGI and other synchronous
    servers; ASGI uses :func:`consentguard.asgi.record_proof_async`.
    """
    on_consent = guard.on_consent
    if response.record is None or on_consent is None:
        return response
    try:
        result = on_consent(response.record)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never awaited: close it rather than warn
            raise TypeError("on_consent returned an awaitable: a coroutine function can only "
                            "record proof under ASGI; give a WSGI app a plain function")
    except Exception:
        return proof_failed(response)
    return response


def proof_failed(response: EndpointResponse) -> EndpointResponse:
    """Log the current exception of ``on_consent``; what to send instead of ``response``."""
    if response.unrecorded is not None:
        logger.exception("on_consent callback failed: the choice was not saved (503)")
        return response.unrecorded
    logger.exception("on_consent callback failed: the refusal is honoured unrecorded")
    return response


# Guards that have warned of an untrusted TLS proxy (once each, not once per request).
_warned_proxy: weakref.WeakSet[ConsentGuard] = weakref.WeakSet()


def _warn_untrusted_proxy(guard: ConsentGuard, request: EndpointRequest) -> None:
    forwarded = request.headers.get("x-forwarded-proto", "")
    if forwarded.split(",")[0].strip().lower() != "https" or guard in _warned_proxy:
        return
    _warned_proxy.add(guard)
    logger.warning(
        "the consent endpoint was reached over http with X-Forwarded-Proto: https: a TLS "
        "proxy sits in front of a server that does not trust its headers, so the site looks "
        "like plain http (with cookie_secure='auto' the consent cookie is not Secure). Let "
        "the server trust the proxy: uvicorn --proxy-headers --forwarded-allow-ips=<proxy "
        "ip>, gunicorn --forwarded-allow-ips, or werkzeug.middleware.proxy_fix.ProxyFix "
        "around a WSGI app.")


def _record(guard: ConsentGuard, consent: Consent, accepted: frozenset[str], *, withdraw: bool,
            gpc: bool) -> ConsentRecord:
    from .log import ConsentRecord  # (not at import: log loads sqlite3)

    optional = [c.name for c in guard.registry.categories if not c.required]
    action: Literal["accept_all", "reject_all", "custom", "withdraw"]
    if withdraw:
        action = "withdraw"
    elif optional and set(optional) <= accepted:
        action = "accept_all"
    elif not accepted:
        action = "reject_all"
    else:
        action = "custom"
    return ConsentRecord(
        consent_id=consent.id,
        timestamp=consent.issued,
        action=action,
        accepted=tuple(sorted(accepted)),
        refused=tuple(sorted(set(optional) - accepted)),
        registry_version=guard.registry.version,
        revisions={name: guard.registry.revisions[name] for name in sorted(accepted)},
        gpc=gpc,
    )


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _truthy(value: Any) -> bool:
    value = _first(value) if isinstance(value, list) else value
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() in ("1", "true", "yes", "on")


def _parse_body(request: EndpointRequest) -> tuple[dict[str, Any], bool]:
    """The form fields (``accept`` always a list of str) and whether the body was JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "DELETE" and not request.body:
        return {}, content_type == "application/json" or "json" in request.headers.get(
            "accept", "")
    if content_type == "application/json":
        return _parse_json(request.body), True
    if content_type in ("application/x-www-form-urlencoded", ""):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("the form body is not UTF-8") from exc
        return _form_fields(parse_qs(text, keep_blank_values=True)), False
    if content_type == "multipart/form-data":
        return _form_fields(_parse_multipart(request)), False
    raise ValueError(f"unsupported media type {content_type!r}: send a form or JSON")


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON body: {exc}") from exc
    except RecursionError as exc:  # 16 KiB of "[" is deeper than the parser's stack
        raise ValueError("invalid JSON body: nested too deeply") from exc
    if not isinstance(data, dict):
        raise ValueError('the JSON body must be an object such as {"accept": ["analytics"]}')
    accept = data.get("accept", [])
    if isinstance(accept, str):
        accept = [accept]
    if not isinstance(accept, list) or not all(isinstance(a, str) for a in accept):
        raise ValueError('"accept" must be a list of category names')
    return {**data, "accept": accept}


def _form_fields(fields: Mapping[str, list[str]]) -> dict[str, Any]:
    accept = [a for value in fields.get("accept", []) for a in value.split(",") if a]
    return {**fields, "accept": accept}


def _parse_multipart(request: EndpointRequest) -> dict[str, list[str]]:
    """A ``multipart/form-data`` body's text fields, read by werkzeug's parser (files are
    ignored: a consent choice has none)."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.formparser import FormDataParser
    from werkzeug.http import parse_options_header

    mimetype, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get("boundary")
    if not boundary:
        raise ValueError("the multipart form has no boundary")
    if f"--{boundary}--".encode("latin-1", "replace") not in request.body:
        # (werkzeug reads a cut-off body as the parts it got: a choice half-sent)
        raise ValueError("the multipart form is incomplete: no closing boundary")
    parser = FormDataParser(max_form_memory_size=MAX_BODY, max_content_length=MAX_BODY,
                            max_form_parts=100)
    try:
        _, form, files = parser.parse(io.BytesIO(request.body), mimetype, len(request.body),
                                      options)
        for upload in files.values():
            upload.close()
    except (ValueError, HTTPException) as exc:
        raise ValueError(f"invalid multipart form: {_reason(exc)}") from exc
    return {key: form.getlist(key) for key in form}


def _reason(exc: Exception) -> str:
    description = getattr(exc, "description", None)
    return str(description if description else exc)


def parse_origins(origins: Iterable[str]) -> frozenset[str]:
    """Check ``trusted_origins`` (each ``scheme://host[:port]``); their normal forms.

    :raises ValueError: naming the origin and what is wrong with it.
    """
    if isinstance(origins, str):
        raise ValueError("trusted_origins must be a list of origins such as "
                         f"['https://shop.example.com'], not the string {origins!r}")
    parsed = set()
    for origin in origins:
        if not isinstance(origin, str):
            raise ValueError(f"trusted origin {origin!r} is not a string")
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError as exc:
            raise ValueError(f"invalid trusted origin {origin!r}: {exc}") from exc
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"invalid trusted origin {origin!r}: it must start with "
                             "https:// (or http://), like 'https://shop.example.com'")
        if not parts.hostname or "@" in parts.netloc:
            raise ValueError(f"invalid trusted origin {origin!r}: it needs a host, like "
                             "'https://shop.example.com'")
        if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
            raise ValueError(f"invalid trusted origin {origin!r}: an origin is "
                             "scheme://host[:port], with no path, query or fragment "
                             "(not even a final '/')")
        parsed.add(_origin_key(origin))
    return frozenset(parsed)


def _origin_key(origin: str) -> str:
    """``origin`` lower-cased, without the default port of its scheme."""
    origin = origin.lower()
    default = {"http": ":80", "https": ":443"}.get(origin.partition(":")[0])
    return origin[: -len(default)] if default and origin.endswith(default) else origin


def _same_origin(request: EndpointRequest, trusted: frozenset[str] = frozenset()) -> bool:
    """Refuse a choice made by another site on the visitor's behalf (CSRF), as Go's
    ``net/http`` CrossOriginProtection does."""
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site in ("same-origin", "none"):
        return True  # only browsers send it, and a page cannot forge it: Host may be a proxy's
    if fetch_site is None:
        if origin is None:
            return True  # no browser signal at all: a non-browser client, or an old browser
        if _origin_matches_host(origin, request):
            return True
    return origin is not None and _origin_key(origin) in trusted


def _origin_matches_host(origin: str, request: EndpointRequest) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:  # "https://[::1": no browser sends it
        return False
    if origin == "null" or not parts.netloc:
        return False
    if parts.scheme == "http" and request.scheme == "https":
        return False  # a page on plain http (a network attacker's) posting to the https site
    default_port = {"http": "80", "https": "443"}.get(parts.scheme)
    host = request.headers.get("host", "")
    return _strip_port(parts.netloc.lower(), default_port) == _strip_port(
        host.lower(), {"http": "80", "https": "443"}.get(request.scheme))


def _strip_port(netloc: str, default_port: str | None) -> str:
    if default_port and netloc.endswith(f":{default_port}"):
        return netloc[: -len(default_port) - 1]
    return netloc


def _gpc_json(guard: ConsentGuard, request: EndpointRequest) -> EndpointResponse:
    if request.method not in ("GET", "HEAD"):
        return _error(405, f"method {request.method} not allowed", [("Allow", "GET, HEAD")])
    data: dict[str, Any] = {"gpc": True}
    if isinstance(guard.gpc_json, str):
        data["lastUpdate"] = guard.gpc_json
    return _answer(request.method, 200, [("Content-Type", "application/json"),
                                         ("Cache-Control", "public, max-age=86400"), _NOSNIFF],
                   json.dumps(data).encode())


_STATIC_TYPES = {"banner.js": "text/javascript; charset=utf-8",
                 "banner.css": "text/css; charset=utf-8"}
_static_cache: dict[str, tuple[bytes, str]] = {}


def static_file(name: str) -> tuple[bytes, str]:
    """The bytes of a bundled static file and their content hash (for cache busting)."""
    if name not in _static_cache:
        data = resources.files("consentguard").joinpath("static").joinpath(name).read_bytes()
        _static_cache[name] = (data, hashlib.sha256(data).hexdigest()[:12])
    return _static_cache[name]


def _static(sub: str, request: EndpointRequest) -> EndpointResponse:
    name = sub.lstrip("/")
    if name not in _STATIC_TYPES:
        return _error(404, "not found")
    if request.method not in ("GET", "HEAD"):
        return _error(405, f"method {request.method} not allowed", [("Allow", "GET, HEAD")])
    try:
        data, digest = static_file(name)
    except FileNotFoundError:
        return _error(404, "not found")
    versioned = parse_qs(request.query).get("v", [""])[0] == digest
    cache = "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
    headers = [("Content-Type", _STATIC_TYPES[name]), ("Cache-Control", cache),
               ("ETag", f'"{digest}"'), _NOSNIFF]
    if request.headers.get("if-none-match") == f'"{digest}"':
        return EndpointResponse(304, headers)
    return _answer(request.method, 200, headers, data)


def may_be_endpoint_path(guard: ConsentGuard, path: str) -> bool:
    """False when no part of ``path`` (a mount's ``root_path`` included) can be one the
    endpoint serves: one C-level substring test for a site's every other request."""
    endpoint = guard.endpoint
    return bool(guard.gpc_json) or (endpoint is not None and endpoint in path)


def is_endpoint_path(guard: ConsentGuard, path: str) -> bool:
    """Whether the adapters should hand ``path`` to :func:`handle`."""
    endpoint = guard.endpoint
    # (startswith, then one character: no string built on every request of the site)
    if endpoint is not None and path.startswith(endpoint) and (
            len(path) == len(endpoint) or path[len(endpoint)] == "/"):
        return True
    return bool(guard.gpc_json) and path == GPC_JSON_PATH
