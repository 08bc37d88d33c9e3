"""The WSGI adapter: translates an environ and ``start_response`` into guard calls.

It holds no policy of its own. The response body is never read, buffered or
re-iterated: the app's iterable is returned as is, so ``close()`` still runs, and the
legacy ``write()`` callable is the server's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .endpoint import (
    MAX_BODY,
    EndpointRequest,
    handle,
    is_endpoint_path,
    record_proof,
    response_headers,
)

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .guard import ConsentGuard, Decision

__all__ = ["ENVIRON_CONSENT", "ENVIRON_DECISION", "WSGIConsentMiddleware"]

ENVIRON_CONSENT = "consentguard.consent"
ENVIRON_DECISION = "consentguard.decision"


class WSGIConsentMiddleware:
    """Enforce ``guard`` on a WSGI app. Usually made with ``guard.wsgi(app)``.

    Puts the visitor's :class:`~consentguard.Consent` (or ``None``) in
    ``environ["consentguard.consent"]`` and the :class:`~consentguard.Decision`
    in ``environ["consentguard.decision"]``.
    """

    def __init__(self, app: WSGIApplication, *, guard: ConsentGuard) -> None:
        self.app = app
        self.guard = guard

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        cookie = environ.get("HTTP_COOKIE")
        path = environ.get("PATH_INFO", "")
        guard = self.guard
        decision = decide_environ(guard, environ, path)
        environ[ENVIRON_CONSENT] = decision.consent
        environ[ENVIRON_DECISION] = decision

        if is_endpoint_path(guard, path):
            return serve_wsgi(guard, decision, environ, start_response, cookie)

        def guarded_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            filtered = decision.filter_headers(headers)
            if exc_info is None:
                return start_response(status, filtered)
            return start_response(status, filtered, exc_info)

        return self.app(environ, guarded_start_response)  # untouched: close() still runs


def decide_environ(guard: ConsentGuard, environ: MutableMapping[str, Any], path: str
                   ) -> Decision:
    """Decide for a WSGI environ (or Django's ``request.META``, which has its keys) and
    give it the ``Cookie`` header the app may see."""
    decision = guard.decide(
        environ.get("HTTP_COOKIE"),
        host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
        gpc=environ.get("HTTP_SEC_GPC") == "1",
        dnt=environ.get("HTTP_DNT") == "1",
        path=path,
    )
    if decision.cookie_changed:
        if decision.cookie_header is None:
            environ.pop("HTTP_COOKIE", None)
        else:
            environ["HTTP_COOKIE"] = decision.cookie_header
    return decision


def serve_wsgi(guard: ConsentGuard, decision: Decision, environ: WSGIEnvironment,
               start_response: StartResponse, cookie_header: str | None) -> list[bytes]:
    """Answer an endpoint request: read the body (bounded), store the proof, respond."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    body, too_large = b"", False
    if method in ("POST", "DELETE"):
        body, too_large = read_body(environ, environ["wsgi.input"].read,
                                    terminated=bool(environ.get("wsgi.input_terminated")))
    request = endpoint_request(environ, method=method, path=environ.get("PATH_INFO", ""),
                               scheme=environ.get("wsgi.url_scheme", "http"), body=body,
                               too_large=too_large)
    response = record_proof(guard, handle(guard, decision, request, cookie_header=cookie_header))
    start_response(f"{response.status} {HTTPStatus(response.status).phrase}",
                   response_headers(response))
    return [response.body]


def endpoint_request(environ: Mapping[str, Any], *, method: str, path: str, scheme: str,
                     body: bytes, too_large: bool) -> EndpointRequest:
    """The :class:`~consentguard.endpoint.EndpointRequest` of a WSGI environ (or of
    Django's ``request.META``, which has the same keys)."""
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_") and isinstance(value, str)}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    headers.setdefault("host", environ.get("SERVER_NAME", ""))
    return EndpointRequest(method=method, path=path, query=environ.get("QUERY_STRING", ""),
                           headers=headers, body=body, scheme=scheme, body_too_large=too_large)


def read_body(environ: Mapping[str, Any], read: Callable[[int], bytes], *,
              terminated: bool) -> tuple[bytes, bool]:
    """The request body and whether it was over :data:`~consentguard.endpoint.MAX_BODY`.

    :param read: reads up to n bytes of the body.
    :param terminated: the stream ends with the body, so a body without a
        ``Content-Length`` (a chunked upload) can be read to its end.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return b"", True
    if length > 0:
        return read(length), False
    if terminated and not environ.get("CONTENT_LENGTH"):
        body = read(MAX_BODY + 1)
        return (b"", True) if len(body) > MAX_BODY else (body, False)
    return b"", False
