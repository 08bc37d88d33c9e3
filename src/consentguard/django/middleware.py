"""``ConsentMiddleware``: the guard as a Django middleware, sync and async.

It must come first in ``MIDDLEWARE`` (outermost): it rewrites the request's ``Cookie``
header before anything reads it, serves the consent endpoint, and filters the cookies of
every response, whichever middleware or view set them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from ..asgi import _is_async, record_proof_async
from ..endpoint import (
    EndpointResponse,
    handle,
    is_endpoint_path,
    record_proof,
    response_headers,
)
from ..wsgi import ENVIRON_DECISION, decide_environ, endpoint_request, read_body
from .conf import get_guard
from .response import add_set_cookie, filter_response

if TYPE_CHECKING:
    from ..guard import ConsentGuard, Decision

__all__ = ["ConsentMiddleware"]

GetResponse = Callable[[HttpRequest], Any]


class ConsentMiddleware:
    """Enforce the project's guard (``settings.CONSENTGUARD``) on every request.

    Views get ``request.consent`` (the visitor's :class:`~consentguard.Consent`, or
    ``None`` before any choice) and ``request.consent_decision`` (a
    :class:`~consentguard.Decision`: ``.allows("analytics")``), under WSGI and ASGI alike.
    When an outer consentguard adapter (``guard.wsgi(application)`` in ``wsgi.py``,
    ``guard.asgi(...)``) already enforces the request, the middleware only passes its
    decision on.

    :param get_response: the next middleware or the view (Django passes it).
    :raises ImproperlyConfigured: at start-up, when the settings do not make a guard.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        get_guard()  # a wrong setting fails at start-up, not on the first request

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        outer = _outer_decision(request)
        if outer is not None:
            return self.get_response(request)
        guard = get_guard()
        cookie = _cookie_header(request)
        decision = _decide(guard, request)
        if is_endpoint_path(guard, request.path_info):
            answer = _endpoint(guard, decision, request, cookie)
            if _is_async(guard.on_consent):  # a sync chain, even under ASGI: bridge to it
                return _to_django(async_to_sync(record_proof_async)(guard, answer))
            return _to_django(record_proof(guard, answer))
        response: HttpResponseBase = self.get_response(request)
        filter_response(decision, response)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        outer = _outer_decision(request)
        if outer is not None:
            response: HttpResponseBase = await self.get_response(request)
            return response
        guard = get_guard()
        cookie = _cookie_header(request)
        decision = _decide(guard, request)
        if is_endpoint_path(guard, request.path_info):
            answer = _endpoint(guard, decision, request, cookie)
            return _to_django(await record_proof_async(guard, answer))
        response = await self.get_response(request)
        filter_response(decision, response)
        return response


def _outer_decision(request: HttpRequest) -> Decision | None:
    """The decision of a consentguard adapter wrapping the whole Django app, if any."""
    decision: Decision | None = request.META.get(ENVIRON_DECISION)
    if decision is None:
        scope = getattr(request, "scope", None)  # ASGIRequest
        state = scope.get("state") if isinstance(scope, dict) else None
        decision = state.get("consent_decision") if isinstance(state, dict) else None
    if decision is not None:
        request.consent = decision.consent  # type: ignore[attr-defined]
        request.consent_decision = decision  # type: ignore[attr-defined]
    return decision


def _cookie_header(request: HttpRequest) -> str | None:
    """The ``Cookie`` header, in ``request.META`` too. Django's ASGIRequest joins repeated
    headers with ``","``, which reads several ``Cookie`` headers (HTTP/2 may send one per
    cookie) as one cookie: join them with ``"; "``, as browsers and the ASGI adapter do."""
    scope = getattr(request, "scope", None)  # ASGIRequest
    if isinstance(scope, dict):
        cookies = [value.decode("latin-1") for name, value in scope.get("headers", ())
                   if name.lower() == b"cookie" and value]
        if len(cookies) > 1:
            request.META["HTTP_COOKIE"] = "; ".join(cookies)
            request.__dict__.pop("COOKIES", None)  # parsed from META once and cached
    cookie: str | None = request.META.get("HTTP_COOKIE")
    return cookie


def _decide(guard: ConsentGuard, request: HttpRequest) -> Decision:
    decision = decide_environ(guard, request.META, request.path_info)
    if decision.cookie_changed:
        # request.COOKIES is parsed from META once and cached: make it read the new header.
        request.__dict__.pop("COOKIES", None)
    request.consent = decision.consent  # type: ignore[attr-defined]
    request.consent_decision = decision  # type: ignore[attr-defined]
    return decision


def _endpoint(guard: ConsentGuard, decision: Decision, request: HttpRequest,
              cookie: str | None) -> EndpointResponse:
    """Answer a request to the consent endpoint (``cookie``: as the browser sent it)."""
    meta = request.META
    method = (request.method or "GET").upper()
    body, too_large = b"", False
    if method in ("POST", "DELETE"):  # Django's stream ends with the body
        body, too_large = read_body(meta, request.read, terminated=True)
    return handle(guard, decision, endpoint_request(
        meta, method=method, path=request.path_info, scheme=request.scheme or "http",
        body=body, too_large=too_large), cookie_header=cookie)


def _to_django(answer: EndpointResponse) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    del response["Content-Type"]  # the endpoint's own, or none (a 303)
    for name, value in response_headers(answer):
        if name.lower() == "set-cookie":
            add_set_cookie(response, value)
        else:
            response[name] = value
    return response

