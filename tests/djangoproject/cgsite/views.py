"""Views that set a cookie of every category, and views that show what they were sent."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

from consentguard.django import get_consent, get_decision


def _set_cookies(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    host = request.get_host().split(":")[0]
    parent = ".demo.test" if host.endswith(".demo.test") else None
    response.set_cookie("_ga", "GA1.1.42", domain=parent, httponly=True, max_age=3600)
    response.set_cookie("theme", "dark", max_age=3600)
    response.set_cookie("_fbp", "fb.1.42", max_age=3600)
    response.set_cookie("tracker", "undeclared", max_age=3600)
    return response


def page(request: HttpRequest) -> HttpResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    get_token(request)  # the csrftoken cookie, as a page with a form sets it
    return _set_cookies(request, render(request, "page.html"))


async def async_page(request: HttpRequest) -> HttpResponse:
    return _set_cookies(request, render(request, "page.html"))


def _seen(request: HttpRequest) -> JsonResponse:
    decision = get_decision(request)
    assert request.consent_decision is decision  # type: ignore[attr-defined]
    assert request.consent is get_consent(request)  # type: ignore[attr-defined]
    return JsonResponse({
        "cookies": request.COOKIES,
        "header": request.META.get("HTTP_COOKIE"),
        "consent": decision.consent is not None,
        "accepted": sorted(decision.accepted),
        "analytics": decision.allows("analytics"),
    })


def seen(request: HttpRequest) -> JsonResponse:
    return _seen(request)


async def async_seen(request: HttpRequest) -> JsonResponse:
    return _seen(request)
