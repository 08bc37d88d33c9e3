"""What a visitor sees through either adapter: each scenario runs through the WSGI and the
ASGI middleware (the ``send`` fixture of ``conftest.py``), over an app that sets one cookie
per category plus an undeclared one and echoes the Cookie header and consent it saw.

What only one protocol has (WSGI's ``write()``, ``exc_info`` and iterables; ASGI's header
types, several Cookie headers, websockets, lifespan, streaming) stays in ``test_wsgi.py``
and ``test_asgi.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from apps import (
    ALL_BROWSER_COOKIES,
    APP_SET_COOKIES,
    Driver,
    cookie_header,
    deleted,
    deletions_of,
    expected,
    stored_names,
)
from support import FrozenClock, make_guard, make_registry

from consentguard import ConsentGuard, UndeclaredCookieError, Violation


def with_consent(guard: ConsentGuard, accepted: list[str], more: str = "") -> dict[str, str]:
    """Request headers carrying a consent cookie of ``guard`` accepting ``accepted``."""
    return {"Cookie": f"cg_consent={guard.encode_consent(accepted)}{more}"}


def test_without_consent_only_required_cookies_reach_the_browser(send: Driver) -> None:
    reply = send(make_guard())
    assert stored_names(reply.set_cookies) == expected()
    assert reply.json()["has_consent_key"] and reply.json()["consent"] is None


@pytest.mark.parametrize("accepted", [["analytics"], ["functional", "marketing"], ["*"]],
                         ids=["analytics", "functional+marketing", "all"])
def test_consent_lets_its_categories_cookies_pass(send: Driver, accepted: list[str]) -> None:
    guard = make_guard()
    value = guard.encode_consent(accepted)
    reply = send(guard, headers={"Cookie": f"cg_consent={value}"})
    optional = ["functional", "analytics", "marketing"] if accepted == ["*"] else accepted
    assert stored_names(reply.set_cookies) == expected(*optional)
    assert reply.json()["consent"] == guard.decode_consent(value).id  # type: ignore[union-attr]


def _other_key_value(guard: ConsentGuard) -> str:
    return ConsentGuard(make_registry(), "another-key").encode_consent(["*"])


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(_other_key_value, id="forged-other-key"),
        pytest.param(lambda g: g.encode_consent(["*"])[:-3] + "AAA", id="tampered-signature"),
        pytest.param(lambda g: g.encode_consent(["*"])[:20], id="truncated"),
        pytest.param(lambda g: "not-a-consent", id="garbage"),
        pytest.param(lambda g: '"\\303\\251t\\303\\251"', id="quoted-non-ascii"),
    ],
)
def test_invalid_consent_falls_back_to_required_only(
    send: Driver, make_value: Callable[[ConsentGuard], str],
) -> None:
    guard = make_guard()
    reply = send(guard, headers={"Cookie": f"cg_consent={make_value(guard)}"})
    assert stored_names(reply.set_cookies) == expected()
    assert reply.json()["consent"] is None


def test_expired_consent_falls_back_to_required_only(send: Driver) -> None:
    clock = FrozenClock()
    guard = make_guard(clock=clock, max_age=3600)
    headers = with_consent(guard, ["analytics"])
    clock.advance(3599)
    assert stored_names(send(guard, headers=headers).set_cookies) == expected("analytics")
    clock.advance(2)
    reply = send(guard, headers=headers)
    assert stored_names(reply.set_cookies) == expected()
    assert reply.json()["consent"] is None


def test_rotated_out_key_falls_back_and_rotation_keeps_old_consents(send: Driver) -> None:
    old = ConsentGuard(make_registry(), "old-key", clock=FrozenClock())
    headers = with_consent(old, ["analytics"])
    rotating = ConsentGuard(make_registry(), ["new-key", "old-key"], clock=FrozenClock())
    rotated_out = ConsentGuard(make_registry(), ["new-key"], clock=FrozenClock())
    assert stored_names(send(rotating, headers=headers).set_cookies) == expected("analytics")
    assert stored_names(send(rotated_out, headers=headers).set_cookies) == expected()
    # The newest key signs: a value made by the rotating guard fails under the old key alone.
    assert old.decode_consent(rotating.encode_consent(["analytics"])) is None


def test_unknown_block_removes_and_logs_once_per_name(
        send: Driver, caplog: pytest.LogCaptureFixture) -> None:
    guard = make_guard(unknown="block")
    with caplog.at_level(logging.WARNING, logger="consentguard"):
        reply = send(guard)
        send(guard)
    assert "mystery" not in stored_names(reply.set_cookies)
    logged = [r for r in caplog.records if "mystery" in r.getMessage()]
    assert len(logged) == 1


def test_unknown_allow_lets_undeclared_cookies_pass(send: Driver) -> None:
    reply = send(make_guard(unknown="allow"))
    assert stored_names(reply.set_cookies) == [*expected(), "mystery"]


def test_unknown_raise_raises_into_the_app(send: Driver) -> None:
    with pytest.raises(UndeclaredCookieError, match="mystery"):
        send(make_guard(unknown="raise"))


def test_report_only_changes_nothing_and_reports_everything(send: Driver) -> None:
    violations: list[Violation] = []
    guard = make_guard(mode="report-only", on_violation=violations.append)
    browser = cookie_header(ALL_BROWSER_COOKIES)
    reply = send(guard, headers={"Cookie": browser})
    assert reply.set_cookies == list(APP_SET_COOKIES)
    assert reply.all("cache-control") == []
    assert reply.json()["cookie"] == browser
    reported = {(v.kind, v.name, v.category, v.action) for v in violations}
    assert reported == {
        ("request-cookie", "lang", "functional", "reported"),
        ("request-cookie", "_ga", "analytics", "reported"),
        ("request-cookie", "_ga_XYZ", "analytics", "reported"),
        ("request-cookie", "stats", "analytics", "reported"),
        ("request-cookie", "_fbp", "marketing", "reported"),
        ("request-cookie", "mystery", None, "reported"),
        ("set-cookie", "lang", "functional", "reported"),
        ("set-cookie", "_ga", "analytics", "reported"),
        ("set-cookie", "_ga_XYZ", "analytics", "reported"),
        ("set-cookie", "_fbp", "marketing", "reported"),
        ("set-cookie", "mystery", None, "reported"),
    }


def test_enforce_reports_removed_cookies_with_the_path(send: Driver) -> None:
    violations: list[Violation] = []
    send(make_guard(on_violation=violations.append), path="/shop", headers={"Cookie": "_fbp=1"})
    assert Violation("request-cookie", "_fbp", "marketing", "removed", "_fbp=1", "/shop") in (
        violations)
    assert {v.name for v in violations if v.kind == "set-cookie"} == {
        "lang", "_ga", "_ga_XYZ", "_fbp", "mystery"}


def test_refused_cookies_the_browser_holds_are_hidden_and_purged(send: Driver) -> None:
    reply = send(make_guard(), headers={"Cookie": cookie_header(ALL_BROWSER_COOKIES)})
    values = reply.set_cookies
    assert reply.json()["cookie"] == "session=s3cr3t"
    # _ga lives on .example.com: host-only, the declared domain and the host's parents.
    assert deletions_of("_ga", values) == [
        {"expires": "Thu, 01 Jan 1970 00:00:00 GMT", "max-age": "0", "path": "/"},
        {"domain": "example.com", "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
         "max-age": "0", "path": "/"},
        {"domain": "www.example.com", "expires": "Thu, 01 Jan 1970 00:00:00 GMT",
         "max-age": "0", "path": "/"},
    ]
    # stats was declared with path /blog: every deletion carries it.
    assert {d["path"] for d in deletions_of("stats", values)} == {"/blog"}
    assert {d.get("domain") for d in deletions_of("stats", values)} == {
        None, "www.example.com", "example.com"}
    # Required and undeclared cookies are not purged (we cannot know their path).
    assert deletions_of("session", values) == [] and deletions_of("mystery", values) == []
    purged = {v.split("=", 1)[0] for v in deleted(values)}
    assert purged == {"lang", "_ga", "_ga_XYZ", "stats", "_fbp"}
    # A purge makes the response personal: shared caches must not keep it.
    assert reply.all("cache-control") == ["private"]


def test_parent_domains_purged_up_to_two_labels(send: Driver) -> None:
    reply = send(make_guard(), host="a.shop.example.com", headers={"Cookie": "_fbp=1"})
    domains = [d.get("domain") for d in deletions_of("_fbp", reply.set_cookies)]
    assert domains == [None, "a.shop.example.com", "shop.example.com", "example.com"]


@pytest.mark.parametrize(("accepted", "sent", "seen"), [
    pytest.param("functional", 'session=a; _ga=x; lang="fr ch"; {consent}; session=b;mystery=1;'
                 "  lang=\t; _fbp=z", 'session=a; lang="fr ch"; {consent}; session=b; lang=',
                 id="spacing-and-empty-values"),
    pytest.param("analytics", '_ga=1; session=a; lang=fr; _ga="two words"; {consent}; '
                 "session=b; _fbp=x", '_ga=1; session=a; _ga="two words"; {consent}; session=b',
                 id="quoted-value"),
])
def test_accepted_cookies_reach_the_app_verbatim_in_order_with_duplicates(
        send: Driver, accepted: str, sent: str, seen: str) -> None:
    guard = make_guard()
    consent = f"cg_consent={guard.encode_consent([accepted])}"
    reply = send(guard, headers={"Cookie": sent.format(consent=consent)})
    assert reply.json()["cookie"] == seen.format(consent=consent)


def test_unchanged_cookie_header_is_passed_byte_identical(send: Driver) -> None:
    guard = make_guard()
    sent = f"session=a;lang=fr ;  cg_consent={guard.encode_consent(['functional'])}"
    assert send(guard, headers={"Cookie": sent}).json()["cookie"] == sent


@pytest.mark.parametrize("name", ["Set-Cookie", "SET-COOKIE", "set-cookie"])
def test_set_cookie_header_names_matched_case_insensitively(send: Driver, name: str) -> None:
    # Django's ASGI handler sends the header name capitalised.
    reply = send(make_guard(), app_headers=[(name, "_ga=1; Path=/"), (name, "session=1; Path=/")])
    assert [(n, v) for n, v in reply.headers if n.lower() == "set-cookie"] == [
        (name, "session=1; Path=/")]


@pytest.mark.parametrize(
    ("cache_control", "cookies", "accepted", "want"),
    [
        pytest.param(None, ["_ga=1"], ["analytics"], ["private"], id="consent-cookie-added"),
        pytest.param("public, max-age=60", ["_ga=1"], ["analytics"], ["max-age=60, private"],
                     id="public-made-private"),
        pytest.param("no-store", ["_ga=1"], ["analytics"], ["no-store"], id="no-store-kept"),
        pytest.param("private, max-age=5", ["_ga=1"], ["analytics"], ["private, max-age=5"],
                     id="private-kept"),
        pytest.param("public, max-age=60", ["session=1"], ["analytics"],
                     ["public, max-age=60"], id="required-only-untouched"),
        pytest.param("public, max-age=60", ["_ga=1"], [], ["public, max-age=60"],
                     id="refused-cookie-removed-untouched"),
        pytest.param(None, [], ["analytics"], [], id="no-cookie-no-header"),
    ],
)
def test_cache_control_private_when_a_consent_only_cookie_passes(
    send: Driver, cache_control: str | None, cookies: list[str], accepted: list[str],
    want: list[str],
) -> None:
    guard = make_guard()
    answer = [("Set-Cookie", c) for c in cookies]
    if cache_control is not None:
        answer.insert(0, ("Cache-Control", cache_control))
    reply = send(guard, headers=with_consent(guard, accepted), app_headers=answer)
    assert reply.all("cache-control") == want


def test_cache_control_option_off(send: Driver) -> None:
    guard = make_guard(cache_control=False)
    reply = send(guard, headers=with_consent(guard, ["analytics"]),
                 app_headers=[("Cache-Control", "public"), ("Set-Cookie", "_ga=1")])
    assert reply.all("cache-control") == ["public"]


def test_consent_cookie_not_renewed_on_ordinary_pages(send: Driver) -> None:
    guard = make_guard()
    values = send(guard, headers=with_consent(guard, ["analytics"])).set_cookies
    assert not [v for v in values if v.startswith("cg_consent=")]
    assert stored_names(values) == expected("analytics")


def test_endpoint_served_by_the_adapter_and_disabled_with_none(send: Driver) -> None:
    reply = send(make_guard(), path="/_consent")
    assert reply.status == 200
    assert reply.json()["needs_consent"] is True
    reply = send(make_guard(endpoint=None), path="/_consent")
    assert reply.json()["has_consent_key"] is True  # the app answered
