"""consentguard.django: the middleware, the endpoint, templates and settings, through
Django's test clients (sync ``Client`` and ``AsyncClient``) on the test project in
tests/djangoproject (its registry: essential sessionid/csrftoken/messages/django_language,
functional theme, analytics _ga on .demo.test, marketing _fbp).
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("django")

from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import clear_script_prefix, path, set_script_prefix
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from consentguard import ConsentGuard
from consentguard.django import ConsentMiddleware, get_guard
from consentguard.django.response import SetCookieLine, filter_response

pytestmark = pytest.mark.usefixtures("django_site")

HOST = "www.demo.test"
ESSENTIAL = {"sessionid", "csrftoken"}
OPTIONAL = {"_ga", "theme", "_fbp", "tracker"}


class HostAsyncClient(AsyncClient):
    """AsyncClient sends ``Host: testserver`` besides the one given: keep the given one,
    as a real ASGI server sends one."""

    async def request(self, **request: Any) -> Any:
        headers = request.get("headers", [])
        if sum(name == b"host" for name, _ in headers) > 1:
            request["headers"] = [h for h in headers if h != (b"host", b"testserver")]
        return await super().request(**request)


class Visitor:
    """A Django test client, sync or async, on ``www.demo.test``; ``prefix`` picks the
    project's sync or async views."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.client: Client | AsyncClient = Client() if kind == "sync" else HostAsyncClient()
        self.prefix = "" if kind == "sync" else "/async"

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:  # a test response
        call = getattr(self.client, method)
        kwargs["headers"] = {"host": HOST, **kwargs.get("headers", {})}
        return call(path, **kwargs) if self.kind == "sync" else async_to_sync(call)(path, **kwargs)

    def give(self, *accepted: str) -> None:
        self.client.cookies["cg_consent"] = get_guard().encode_consent(accepted)


@pytest.fixture(params=["sync", "async"])
def visitor(request: pytest.FixtureRequest) -> Visitor:
    return Visitor(request.param)


def lines(response: Any) -> list[str]:
    """Every Set-Cookie line the handlers send for ``response``."""
    return [morsel.output(header="").strip() for morsel in response.cookies.values()]


def names(response: Any) -> set[str]:
    return {line.split("=", 1)[0] for line in lines(response)}


def deletions(response: Any, name: str) -> set[str | None]:
    """The domains (None: host-only) ``response`` deletes ``name`` on."""
    found: set[str | None] = set()
    for line in lines(response):
        pair, *attributes = [part.strip() for part in line.split(";")]
        if pair != f"{name}=":
            continue
        attrs = {a.split("=", 1)[0].lower(): a.partition("=")[2] for a in attributes}
        assert attrs.get("max-age") == "0", line
        found.add(attrs.get("domain"))
    return found


# -- enforcement ------------------------------------------------------------------------------


def test_refused_set_cookies_are_removed(visitor: Visitor) -> None:
    response = visitor("get", f"{visitor.prefix}/")
    assert response.status_code == 200
    assert not names(response) & OPTIONAL, lines(response)
    if visitor.kind == "sync":  # the sync page also uses the session and a CSRF token
        assert names(response) == ESSENTIAL


def test_accepted_cookies_pass_with_their_attributes(visitor: Visitor) -> None:
    visitor.give("analytics")
    response = visitor("get", f"{visitor.prefix}/")
    assert "_ga" in response.cookies and "theme" not in response.cookies
    assert response.cookies["_ga"]["domain"] == ".demo.test"
    assert response.cookies["_ga"]["httponly"] is True
    assert "private" in response.headers["Cache-Control"]  # consent-dependent: not shared


def test_refused_request_cookies_are_hidden_and_purged_on_every_domain(visitor: Visitor) -> None:
    for name in ("_ga", "theme", "sessionid"):
        visitor.client.cookies[name] = "old"
    response = visitor("get", f"{visitor.prefix}/seen/")
    seen = response.json()
    assert seen["cookies"] == {"sessionid": "old"}
    assert seen["header"] == "sessionid=old"
    assert seen["analytics"] is False and seen["consent"] is False
    # One Django cookie name, several Set-Cookie lines: host-only and each parent domain.
    assert deletions(response, "_ga") == {None, "demo.test", "www.demo.test"}
    assert deletions(response, "theme") == {None, "demo.test", "www.demo.test"}
    assert deletions(response, "sessionid") == set()
    assert "private" in response.headers["Cache-Control"]


def test_views_see_accepted_cookies_and_the_decision(visitor: Visitor) -> None:
    visitor.give("analytics")
    visitor.client.cookies["_ga"] = "GA1"
    visitor.client.cookies["_fbp"] = "fb"
    seen = visitor("get", f"{visitor.prefix}/seen/").json()
    assert set(seen["cookies"]) == {"cg_consent", "_ga"}
    assert seen["consent"] is True and seen["analytics"] is True
    assert seen["accepted"] == ["analytics", "essential"]


def test_several_cookie_headers_under_asgi_are_several_cookies() -> None:
    # Django's ASGIRequest joins repeated headers with "," (HTTP/2 may send one Cookie
    # header per cookie): "_ga=old,sessionid=s" would be one cookie, "_ga", never purged.
    visitor = Visitor("async")  # the client sends its jar in a Cookie header of its own
    visitor.client.cookies["sessionid"] = "s"
    response = visitor("get", "/async/seen/", headers={"cookie": "_ga=old"})
    assert response.json()["cookies"] == {"sessionid": "s"}
    assert deletions(response, "_ga") == {None, "demo.test", "www.demo.test"}
    visitor = Visitor("async")
    visitor.client.cookies["sessionid"] = "s"
    consent = get_guard().encode_consent(["analytics"])
    seen = visitor("get", "/async/seen/", headers={"cookie": f"cg_consent={consent}"}).json()
    assert seen["consent"] is True and set(seen["cookies"]) == {"cg_consent", "sessionid"}


def test_request_cookies_cached_before_the_middleware_are_refreshed() -> None:
    # request.COOKIES is parsed once and cached: the view must see the filtered header.
    request = RequestFactory().get("/", HTTP_COOKIE="_ga=1; sessionid=s", HTTP_HOST=HOST)
    assert request.COOKIES == {"_ga": "1", "sessionid": "s"}
    seen: dict[str, str] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen.update(request.COOKIES)
        return HttpResponse()

    ConsentMiddleware(view)(request)
    assert seen == {"sessionid": "s"}


def test_typed_helpers_say_when_the_middleware_did_not_run() -> None:
    from consentguard.django import get_consent

    with pytest.raises(RuntimeError, match="first in MIDDLEWARE"):
        get_consent(RequestFactory().get("/"))


# -- every way a response reaches the guard: views, Django's own answers, inner middleware --


def _file(request: HttpRequest) -> HttpResponseBase:
    return FileResponse(io.BytesIO(b"file"), filename="a.txt")


def _not_found(request: HttpRequest) -> HttpResponseBase:
    raise Http404("no such page")


def _crash(request: HttpRequest) -> HttpResponseBase:
    raise RuntimeError("the view failed")


def _etagged(request: HttpRequest) -> HttpResponseBase:
    response = HttpResponse("same")
    response["ETag"] = '"v1"'
    return response


async def _async_stream(request: HttpRequest) -> HttpResponseBase:
    async def chunks() -> Any:
        yield b"streamed"
    return StreamingHttpResponse(chunks())


urlpatterns = [
    path("stream/", lambda request: StreamingHttpResponse(iter([b"streamed"]))),
    path("file/", _file),
    path("missing/", _not_found),
    path("crash/", _crash),
    path("etag/", _etagged),
    path("async-stream/", _async_stream),
]


def tracker_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    """Sets _ga and _fbp on every response it sees, and answers /short/ itself."""
    def middleware(request: HttpRequest) -> Any:
        response = HttpResponse("short") if request.path == "/short/" else get_response(request)
        response.set_cookie("_ga", "GA1", max_age=3600, domain=".demo.test")
        response.set_cookie("_fbp", "fb", max_age=3600)
        return response
    return middleware


@pytest.mark.parametrize(("path", "status", "headers"), [
    pytest.param("/stream/", 200, {}, id="streaming"),
    pytest.param("/async-stream/", 200, {}, id="async-streaming-view"),
    pytest.param("/file/", 200, {}, id="file-response"),
    pytest.param("/missing/", 404, {}, id="http404-made-a-response"),
    pytest.param("/crash/", 500, {}, id="exception-made-a-500"),
    pytest.param("/etag/", 304, {"if-none-match": '"v1"'}, id="not-modified"),
    pytest.param("/short/", 200, {}, id="answered-by-inner-middleware"),
])
def test_every_response_path_is_enforced(path: str, status: int, headers: dict[str, str]) -> None:
    middleware = ["consentguard.django.ConsentMiddleware",
                  "django.middleware.http.ConditionalGetMiddleware",
                  f"{__name__}.tracker_middleware"]
    client = Client(raise_request_exception=False)
    client.cookies["_ga"] = "old"
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=middleware):
        response = client.get(path, headers={"host": HOST, **headers})
    assert response.status_code == status
    kept = [line for line in lines(response) if "Max-Age=0" not in line]
    assert kept == [], kept
    assert deletions(response, "_ga") == {None, "demo.test", "www.demo.test"}


def test_a_raw_set_cookie_header_is_filtered_too() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse()
        response.headers["Set-Cookie"] = "_fbp=1; Path=/"
        return response

    response = ConsentMiddleware(view)(RequestFactory().get("/", HTTP_HOST=HOST))
    assert "Set-Cookie" not in response.headers


def test_a_back_dated_response_cannot_pass_a_refused_cookie_as_a_deletion() -> None:
    # Chromium shifts Expires by (now - Date): with Date in 2001, an Expires of 2020 is
    # still 19 years ahead, so the cookie is stored, not deleted.
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse()
        response.headers["Date"] = "Mon, 01 Jan 2001 00:00:00 GMT"
        response.set_cookie("_ga", "GA1", expires="Wed, 01 Jan 2020 00:00:00 GMT")
        return response

    response = ConsentMiddleware(view)(RequestFactory().get("/", HTTP_HOST=HOST))
    assert "_ga" not in response.cookies


def test_an_outer_adapter_takes_precedence() -> None:
    from django.core.handlers.wsgi import WSGIHandler

    # A report-only guard around the whole app (wsgi.py): the middleware defers to it.
    outer = ConsentGuard(get_guard().registry, "another-key", mode="report-only")
    app = outer.wsgi(WSGIHandler())
    sent: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        sent.extend(headers)

    environ = RequestFactory().get("/", HTTP_HOST=HOST, HTTP_COOKIE="_ga=1").environ
    environ["PATH_INFO"] = "/seen/"
    body = b"".join(app(environ, start_response))
    assert json.loads(body)["cookies"] == {"_ga": "1"}
    assert not [value for name, value in sent if name == "Set-Cookie"]


def test_report_only_changes_nothing(visitor: Visitor) -> None:
    with override_settings(CONSENTGUARD={**settings_value(), "MODE": "report-only"}):
        response = visitor("get", f"{visitor.prefix}/")
    assert names(response) >= OPTIONAL


# -- the consent endpoint ---------------------------------------------------------------------


def test_endpoint_state(visitor: Visitor) -> None:
    response = visitor("get", "/_consent")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    state = response.json()
    assert [c["name"] for c in state["categories"]] == [
        "essential", "functional", "analytics", "marketing"]
    assert state["consent"] is None and state["needs_consent"] is True


def test_endpoint_head_has_the_get_headers_and_no_body(visitor: Visitor) -> None:
    get, head = visitor("get", "/_consent"), visitor("head", "/_consent")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == get["Content-Length"] == str(len(get.content))


def test_form_post_records_the_choice_and_redirects(visitor: Visitor) -> None:
    response = visitor("post", "/_consent", data="accept=analytics&next=/seen/",
                       content_type="application/x-www-form-urlencoded")
    assert response.status_code == 303 and response["Location"] == "/seen/"
    assert "cg_consent" in response.cookies
    assert response.cookies["cg_consent"]["httponly"] is True
    assert visitor("get", "/seen/").json()["analytics"] is True


def test_json_post_answers_the_new_state(visitor: Visitor) -> None:
    response = visitor("post", "/_consent", data={"accept": ["analytics"]},
                       content_type="application/json")
    assert response.status_code == 200
    accepted = {c["name"] for c in response.json()["categories"] if c["accepted"]}
    assert accepted == {"essential", "analytics"}


def test_multipart_post(visitor: Visitor) -> None:
    # The test client posts a dict as multipart/form-data, as a browser form may.
    response = visitor("post", "/_consent", data={"accept": ["analytics"], "next": "/seen/"})
    assert response.status_code == 303 and response["Location"] == "/seen/"
    assert visitor("get", "/seen/").json()["analytics"] is True


@pytest.mark.parametrize("method, kwargs, status", [
    pytest.param("delete", {}, 200, id="delete"),
    pytest.param("post", {"data": "withdraw=1&next=/", "content_type":
                          "application/x-www-form-urlencoded"}, 303, id="post-withdraw"),
])
def test_withdrawal_purges_what_is_now_refused(visitor: Visitor, method: str,
                                               kwargs: dict[str, Any], status: int) -> None:
    visitor.give("analytics")
    visitor.client.cookies["_ga"] = "GA1"
    response = visitor(method, "/_consent", **kwargs)
    assert response.status_code == status
    assert deletions(response, "_ga") == {None, "demo.test", "www.demo.test"}
    assert response.cookies["cg_consent"].value  # a fresh refusal, not a deletion
    assert visitor("get", "/seen/").json()["analytics"] is False


def test_a_coroutine_on_consent_records_under_either_chain(visitor: Visitor) -> None:
    # Under ASGI one sync-only middleware after the guard makes Django call it sync.
    records: list[Any] = []

    async def store(record: Any) -> None:
        records.append(record)

    with override_settings(CONSENTGUARD={**settings_value(), "ON_CONSENT": store}):
        response = visitor("post", "/_consent", data={"accept": ["analytics"]},
                           content_type="application/json")
    assert response.status_code == 200
    assert [record.accepted for record in records] == [("analytics",)]


def test_each_choice_is_recorded_as_proof(visitor: Visitor) -> None:
    records: list[Any] = []
    with override_settings(CONSENTGUARD={**settings_value(), "ON_CONSENT": records.append}):
        response = visitor("post", "/_consent", data={"accept": ["analytics"]},
                           content_type="application/json")
    assert response.status_code == 200
    [record] = records
    assert record.accepted == ("analytics",) and record.action == "custom"


def test_an_accepting_choice_that_cannot_be_recorded_is_not_stored(visitor: Visitor) -> None:
    def broken(record: Any) -> None:
        raise OSError("the proof store is down")

    with override_settings(CONSENTGUARD={**settings_value(), "ON_CONSENT": broken}):
        accepting = visitor("post", "/_consent", data="accept=analytics&next=/",
                            content_type="application/x-www-form-urlencoded")
        refusing = visitor("post", "/_consent", data="next=/",
                           content_type="application/x-www-form-urlencoded")
    assert accepting.status_code == 503 and not accepting.cookies
    assert refusing.status_code == 303 and "cg_consent" in refusing.cookies


@pytest.mark.parametrize("headers", [
    pytest.param({"sec-fetch-site": "cross-site"}, id="sec-fetch-site"),
    pytest.param({"origin": "https://evil.example"}, id="origin"),
])
def test_cross_site_choice_is_refused(visitor: Visitor, headers: dict[str, str]) -> None:
    response = visitor("post", "/_consent", data="accept=*",
                       content_type="application/x-www-form-urlencoded", headers=headers)
    assert response.status_code == 403
    assert not response.cookies


@pytest.mark.parametrize("next_url", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_unsafe_next_goes_home(visitor: Visitor, next_url: str) -> None:
    response = visitor("post", "/_consent", data={"next": next_url},
                       content_type="application/json", headers={"accept": "text/html"})
    assert response.status_code == 200  # JSON answers JSON
    response = visitor("post", "/_consent", data=f"next={next_url}",
                       content_type="application/x-www-form-urlencoded")
    assert response.status_code == 303 and response["Location"] == "/"


def test_endpoint_under_a_script_prefix() -> None:
    client = Client(headers={"host": HOST})
    response = client.get("/_consent", SCRIPT_NAME="/app")
    assert response.status_code == 200 and response.json()["consent"] is None


def test_banner_js_is_served(visitor: Visitor) -> None:
    response = visitor("get", "/_consent/banner.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")


# -- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize("accepted, shown", [
    pytest.param((), ["analytics off", "refused", "asks"], id="no-choice"),
    pytest.param(("analytics",), ["analytics on", "accepted", "decided"], id="analytics"),
    pytest.param(("marketing",), ["analytics off", "refused", "decided"], id="other"),
])
def test_templates_read_the_decision(visitor: Visitor, accepted: tuple[str, ...],
                                     shown: list[str]) -> None:
    if accepted:
        visitor.give(*accepted)
    page = visitor("get", f"{visitor.prefix}/").content.decode()
    for text in shown:
        assert f">{text}<" in page


def test_banner_tag_has_the_policy_url_and_the_script_prefix() -> None:
    page = Client(headers={"host": HOST}).get("/").content.decode()
    assert 'data-policy-url="/cookies/"' in page
    assert '<script src="/_consent/banner.js?v=' in page
    from django.template import Context, Template

    set_script_prefix("/app/")
    try:
        tag = Template('{% load consentguard %}{% consentguard_banner policy_url="/p" %}'
                       ).render(Context())
        action = Template("{% load consentguard %}{% consentguard_endpoint %}").render(Context())
    finally:
        clear_script_prefix()
    assert action == "/app/_consent"
    assert tag.startswith('<script src="/app/_consent/banner.js?v=')
    assert 'data-policy-url="/p"' in tag


# -- settings ---------------------------------------------------------------------------------


def settings_value() -> dict[str, Any]:
    from django.conf import settings

    value: dict[str, Any] = settings.CONSENTGUARD
    return value


def test_secret_defaults_to_secret_key_and_fallbacks_keep_consents_valid() -> None:
    from django.conf import settings

    old = settings.SECRET_KEY
    value = ConsentGuard(get_guard().registry, old).encode_consent(["analytics"])
    assert get_guard().decode_consent(value) is not None
    with override_settings(SECRET_KEY="a-new-key-after-rotation-0123456789",
                           SECRET_KEY_FALLBACKS=[old]):
        assert get_guard().decode_consent(value) is not None
        new_value = get_guard().encode_consent(["analytics"])
    with override_settings(SECRET_KEY="a-new-key-after-rotation-0123456789"):
        assert get_guard().decode_consent(value) is None  # no fallback: no longer valid
        assert get_guard().decode_consent(new_value) is not None
    with override_settings(CONSENTGUARD={**settings_value(), "SECRET_KEY": "own"}):
        assert get_guard().decode_consent(value) is None


def test_options_are_upper_case_keys(visitor: Visitor) -> None:
    with override_settings(CONSENTGUARD={**settings_value(), "UNKNOWN": "allow"}):
        response = visitor("get", f"{visitor.prefix}/")
    assert "tracker" in names(response) and "_ga" not in names(response)


@pytest.mark.parametrize("value, message", [
    pytest.param(None, "needs settings.CONSENTGUARD", id="missing"),
    pytest.param({"REGISTRY": "nowhere.toml"}, "does not load", id="no-file"),
    pytest.param({}, 'no "REGISTRY"', id="no-registry"),
    pytest.param({"REGISTRY": "x", "UNKNWON": "allow"}, "unknown key(s) 'UNKNWON'", id="typo"),
    pytest.param({"unknown": "allow"}, "unknown key(s) 'unknown'", id="lower-case"),
    pytest.param({"UNKNOWN": "sometimes"}, "unknown must be", id="bad-value"),
])
def test_wrong_settings_fail_at_start_up(value: dict[str, Any] | None, message: str) -> None:
    if value is not None and value.get("REGISTRY") != "nowhere.toml" and value:
        value = {"REGISTRY": settings_value()["REGISTRY"], **{
            k: v for k, v in value.items() if k != "REGISTRY"}}
    with override_settings(CONSENTGUARD=value), pytest.raises(ImproperlyConfigured) as caught:
        ConsentMiddleware(lambda request: HttpResponse())
    assert message in str(caught.value)


# -- the admin, with only essential cookies ---------------------------------------------------


@pytest.fixture
def admin_user(django_site: Any) -> Iterator[str]:
    from django.contrib.auth.models import User

    User.objects.create_superuser("admin", "admin@example.com", "pw-0123456789")
    yield "admin"
    User.objects.filter(username="admin").delete()


def test_admin_login_works_with_only_essential_cookies(admin_user: str) -> None:
    client = Client(enforce_csrf_checks=True, headers={"host": HOST})
    form = client.get("/admin/login/?next=/admin/")
    assert form.status_code == 200 and set(form.cookies) == {"csrftoken"}
    token = client.cookies["csrftoken"].value
    response = client.post("/admin/login/?next=/admin/", {
        "username": admin_user, "password": "pw-0123456789", "csrfmiddlewaretoken": token,
        "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert "sessionid" in response.cookies
    assert client.get("/admin/").status_code == 200


# -- the response filter, as a property -------------------------------------------------------

_names = st.sampled_from(["sessionid", "csrftoken", "theme", "_ga", "_fbp", "tracker"])
_raw_names = st.one_of(_names, st.just("x y"), st.just(""))
_lifetimes = st.sampled_from([None, 0, 3600])


@hypothesis_settings(max_examples=60, deadline=None)
@given(cookies=st.lists(st.tuples(_names, _lifetimes, st.booleans()), max_size=6),
       raw=st.one_of(st.none(), st.tuples(_raw_names, _lifetimes)),
       sent=st.lists(_names, max_size=4),
       accepted=st.lists(st.sampled_from(["functional", "analytics", "marketing"])))
def test_no_refused_cookie_is_ever_sent(cookies: list[tuple[str, int | None, bool]],
                                        raw: tuple[str, int | None] | None, sent: list[str],
                                        accepted: list[str]) -> None:
    guard = get_guard()
    pairs = [f"{name}=v" for name in sent]
    pairs.append(f"cg_consent={guard.encode_consent(accepted)}")
    decision = guard.decide("; ".join(pairs), host=HOST)
    response = HttpResponse()
    for name, max_age, on_parent in cookies:
        response.set_cookie(name, "v", max_age=max_age,
                            domain=".demo.test" if on_parent else None)
    if raw is not None:
        response.headers["Set-Cookie"] = f"{raw[0]}=v" + (
            f"; Max-Age={raw[1]}" if raw[1] is not None else "")
    filter_response(decision, response)
    out = [m.output(header="").strip() for m in response.cookies.values()]
    if "Set-Cookie" in response.headers:
        out.append(response.headers["Set-Cookie"])
    for line in out:
        entry = guard.registry.match(line.split("=", 1)[0])
        deletion = "Max-Age=0" in line
        assert deletion or (entry is not None and entry.category in decision.accepted), line
    # What the app set and may keep is still there.
    for name, _, _ in cookies:
        entry = guard.registry.match(name)
        if entry is not None and entry.category in decision.accepted:
            assert any(line.startswith(f"{name}=v") for line in out), (name, out)
    # Every refused declared cookie the browser sent is deleted, whatever the app set.
    for name in sent:
        entry = guard.registry.match(name)
        if entry is not None and entry.category not in decision.accepted:
            assert any(line.startswith(f"{name}=;") and "Max-Age=0" in line for line in out)


def test_set_cookie_line_reads_its_attributes() -> None:
    morsel = SetCookieLine("_ga=; Domain=demo.test; Max-Age=0; Path=/; HttpOnly")
    assert (morsel.key, morsel.value) == ("_ga", "")
    assert morsel["domain"] == "demo.test" and morsel["max-age"] == "0"
    assert morsel["httponly"] is True
    assert morsel.output(header="") == " _ga=; Domain=demo.test; Max-Age=0; Path=/; HttpOnly"
    # Django's cache pickles responses: the line survives as it is.
    assert pickle.loads(pickle.dumps(morsel)).output() == morsel.output()



# -- bad input never reaches the app as an error ----------------------------------------------

_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)


@hypothesis_settings(max_examples=40, deadline=None)
@given(cookie=st.lists(st.one_of(
    _header_text, st.sampled_from(["_ga=1", "sessionid=s", "cg_consent=forged.sig", ";", "="])),
    max_size=5).map("; ".join),
    gpc=st.sampled_from(["1", "0", "", "yes"]))
def test_any_cookie_header_is_answered_and_never_widens_consent(cookie: str, gpc: str) -> None:
    client = Client(headers={"host": HOST, "sec-gpc": gpc})
    response = client.get("/seen/", HTTP_COOKIE=cookie)
    assert response.status_code == 200
    seen = response.json()
    assert seen["accepted"] == ["essential"] and seen["consent"] is False
    # A nameless pair ("cg_consent" alone) is judged by the name it stands for.
    shown = {name or value for name, value in seen["cookies"].items()}
    assert shown <= {"sessionid", "csrftoken", "messages", "django_language", "cg_consent"}
