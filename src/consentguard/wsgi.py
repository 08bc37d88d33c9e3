"""The WSGI adapter: translates an environ and ``start_response`` into guard calls.

It holds no policy of its own. The response body is never read, buffered or
re-iterated: the app's iterable is returned as is, so ``close()`` still runs, and the
legacy ``write()`` callable is the server's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .endpoint import is_endpoint_path, serve_wsgi

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .guard import ConsentGuard

__all__ = ["ENVIRON_CONSENT", "ENVIRON_DECISION", "WSGIConsentMiddleware"]

ENVIRON_CONSENT = "consentguard.consent"
ENVIRON_DECISION = "consentguard.decision"


class WSGIConsentMiddleware:
    """Enforce ``guard`` on a WSGI app. Usually made with ``guard.wsgi(app)``.

    Puts the visitor's :class:`~consentguard.Consent` (or ``None``) in
    ``environ["consentguard.consent"]`` and the :class:`~consentguard.guard.Decision`
    in ``environ["consentguard.decision"]``.
    """

    def __init__(self, app: WSGIApplication, *, guard: ConsentGuard) -> None:
        self.app = app
        self.guard = guard

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        cookie = environ.get("HTTP_COOKIE")
        path = environ.get("PATH_INFO", "")
        guard = self.guard
        decision = guard.decide(
            cookie,
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
