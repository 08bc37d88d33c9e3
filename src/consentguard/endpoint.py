"""The consent endpoint as a pure request → response function, and its two translations.

``GET {endpoint}`` answers the state as JSON; ``POST`` records a choice (form or JSON);
``DELETE`` (or ``POST`` with ``withdraw``) withdraws. The WSGI and ASGI adapters only
read the body (bounded) and write the :class:`EndpointResponse` back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from .consent import Consent, consent_to_json
from .cookies import cookie_pairs
from .log import ConsentRecord
from .policy import policy_data

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .asgi import Receive, Scope, Send
    from .guard import ConsentGuard, Decision
    from .registry import Registry

__all__ = ["MAX_BODY", "EndpointRequest", "EndpointResponse", "handle", "safe_next"]

logger = logging.getLogger("consentguard")

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
    """A complete response: status, headers in order, body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


def _json_response(status: int, data: Any, extra: list[tuple[str, str]] | None = None,
                   head: bool = False) -> EndpointResponse:
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), _NO_STORE, _NOSNIFF, *(extra or [])]
    return EndpointResponse(status, headers, b"" if head else body)


def _error(status: int, message: str,
           extra: list[tuple[str, str]] | None = None) -> EndpointResponse:
    return _json_response(status, {"error": message}, extra)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(value: str | None) -> str:
    """``value`` when it is a same-site relative path, else exactly ``"/"``.

    Refused: anything with a scheme or host (``https://…``, ``//evil``), backslashes
    (browsers read ``/\\evil`` as ``//evil``), control characters, or not starting with ``/``.
    """
    if (not value or len(value) > 2000 or not value.startswith("/") or "\\" in value
            or value.startswith("//") or _CONTROL.search(value)):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    # A Location header is ASCII: percent-encode the rest (as browsers do for a typed URL).
    return value if value.isascii() else quote(value, safe="/?#[]@!$&'()*+,;=:%~")


def state(guard: ConsentGuard, decision: Decision, *, gpc: bool) -> dict[str, Any]:
    """The endpoint's JSON view of the registry and the visitor's consent."""
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
    }


# The registry's part of the state, worked out once per registry (the banner asks for the
# state on every page view); registries are immutable, so their identity is the key.
_views: dict[int, tuple[Registry, list[dict[str, Any]]]] = {}


def _categories_view(registry: Registry) -> list[dict[str, Any]]:
    known = _views.get(id(registry))
    if known is not None and known[0] is registry:
        return known[1]
    # The policy page's view of each category, plus what the banner needs besides.
    view = [{**shown, "consent_mode": list(category.consent_mode)}
            for shown, category in zip(policy_data(registry)["categories"],
                                       registry.categories, strict=True)]
    if len(_views) >= 16:  # a process has one or two registries; tests make many
        _views.clear()
    _views[id(registry)] = (registry, view)
    return view


def handle(guard: ConsentGuard, decision: Decision, request: EndpointRequest,
           *, cookie_header: str | None) -> EndpointResponse:
    """Answer one request to the consent endpoint (or one of its sub-paths).

    :param cookie_header: the ``Cookie`` header as the browser sent it, so a new choice
        can purge every cookie of a now-refused category.
    """
    gpc = request.headers.get("sec-gpc") == "1"
    dnt = request.headers.get("dnt") == "1"
    signal = guard._opts_out(gpc, dnt)  # (records keep GPC alone)
    if request.path == GPC_JSON_PATH:
        return _gpc_json(guard, request)
    sub = request.path[len(guard.endpoint or ""):]
    if sub:
        return _static(sub, request)
    method = request.method
    if method in ("GET", "HEAD"):
        return _json_response(200, state(guard, decision, gpc=signal), head=method == "HEAD")
    if method not in ("POST", "DELETE"):
        return _error(405, f"method {method} not allowed", [("Allow", ALLOWED_METHODS)])
    if not _same_origin(request):
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
                          host=request.headers.get("host", ""), gpc=gpc, dnt=dnt)
    headers = [("Set-Cookie", guard.consent_cookie_header(value,
                                                          accepts_something=bool(accepted)))]
    headers += [("Set-Cookie", h) for h in redone.purge]
    if guard.on_consent is not None and redone.consent is not None:
        _record(guard, redone.consent, accepted, withdraw=withdraw, gpc=gpc)
    # A DELETE never comes from an HTML form: a script sent it, so it gets JSON, not a 303.
    if is_json or method == "DELETE" or "application/json" in request.headers.get("accept", ""):
        return _json_response(200, state(guard, redone, gpc=signal), headers)
    location = safe_next(_first(form.get("next")))
    return EndpointResponse(303, [("Location", location), _NO_STORE, *headers])


def _record(guard: ConsentGuard, consent: Consent, accepted: frozenset[str], *, withdraw: bool,
            gpc: bool) -> None:
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
    record = ConsentRecord(
        consent_id=consent.id,
        timestamp=consent.issued,
        action=action,
        accepted=tuple(sorted(accepted)),
        refused=tuple(sorted(set(optional) - accepted)),
        registry_version=guard.registry.version,
        revisions={name: guard.registry.revisions[name] for name in sorted(accepted)},
        gpc=gpc,
    )
    try:
        if guard.on_consent is not None:
            guard.on_consent(record)
    except Exception:  # a failing log must not lose the visitor's choice
        logger.exception("on_consent callback failed")


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
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid JSON body: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError('the JSON body must be an object such as {"accept": ["analytics"]}')
        accept = data.get("accept", [])
        if isinstance(accept, str):
            accept = [accept]
        if not isinstance(accept, list) or not all(isinstance(a, str) for a in accept):
            raise ValueError('"accept" must be a list of category names')
        return {**data, "accept": accept}, True
    if content_type in ("application/x-www-form-urlencoded", ""):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("the form body is not UTF-8") from exc
        fields = parse_qs(text, keep_blank_values=True)
        accept = [a for value in fields.get("accept", []) for a in value.split(",") if a]
        return {**fields, "accept": accept}, False
    raise ValueError(f"unsupported media type {content_type!r}: send a form or JSON")


def _same_origin(request: EndpointRequest) -> bool:
    """Refuse a choice made by another site on the visitor's behalf (CSRF)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # no browser signal at all: a non-browser client, or an old browser
    parts = urlsplit(origin)
    if origin == "null" or not parts.netloc:
        return False
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
    body = json.dumps(data).encode()
    return EndpointResponse(200, [("Content-Type", "application/json"),
                                  ("Cache-Control", "public, max-age=86400"), _NOSNIFF],
                            b"" if request.method == "HEAD" else body)


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
    return EndpointResponse(200, headers, b"" if request.method == "HEAD" else data)


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


# -- translations ----------------------------------------------------------------------------


def serve_wsgi(guard: ConsentGuard, decision: Decision, environ: WSGIEnvironment,
               start_response: StartResponse, cookie_header: str | None) -> list[bytes]:
    """Answer an endpoint request in WSGI."""
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    if "host" not in headers:
        headers["host"] = environ.get("SERVER_NAME", "")
    method = environ.get("REQUEST_METHOD", "GET").upper()
    body, too_large = b"", False
    if method in ("POST", "DELETE"):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            too_large = True
        elif length > 0:
            body = environ["wsgi.input"].read(length)
        elif environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            # A chunked upload: the server ends the stream, so reading to the end is safe.
            body = environ["wsgi.input"].read(MAX_BODY + 1)
            too_large = len(body) > MAX_BODY
    response = handle(guard, decision, EndpointRequest(
        method=method, path=environ.get("PATH_INFO", ""), query=environ.get("QUERY_STRING", ""),
        headers=headers, body=body, scheme=environ.get("wsgi.url_scheme", "http"),
        body_too_large=too_large,
    ), cookie_header=cookie_header)
    status = f"{response.status} {_REASONS.get(response.status, '')}".rstrip()
    start_response(status, [*response.headers, ("Content-Length", str(len(response.body)))])
    return [response.body]


async def serve_asgi(guard: ConsentGuard, decision: Decision, scope: Scope, receive: Receive,
                     send: Send, path: str, cookie_header: str | None) -> None:
    """Answer an endpoint request in ASGI."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in scope["headers"]}
    method = scope.get("method", "GET").upper()
    body, too_large = b"", False
    if method in ("POST", "DELETE"):
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                too_large = True
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
    response = handle(guard, decision, EndpointRequest(
        method=method, path=path, query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers, body=body, scheme=scope.get("scheme", "http"),
        body_too_large=too_large,
    ), cookie_header=cookie_header)
    raw = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
    raw.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    await send({"type": "http.response.body", "body": response.body})


_REASONS = {200: "OK", 303: "See Other", 304: "Not Modified", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 415: "Unsupported Media Type"}

