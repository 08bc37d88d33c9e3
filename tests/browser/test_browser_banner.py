"""The banner on screen (screenshots, 320 px, equal buttons) and its pure functions.

Screenshots of both layers, at 1280x800 and 320 px wide, land in
``artifacts/screenshots/`` (``CG_SCREENSHOTS`` overrides the folder).
The pure functions the banner exposes as ``consentguard._internals`` run in Chromium and
are checked against the server's own rules (``Cookie.matches``, ``purge_domains``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from hypothesis import given, settings
from hypothesis import strategies as st

from consentguard import Category, ConsentGuard, Cookie, Registry
from consentguard.cookies import purge_domains
from consentguard.endpoint import EndpointRequest, handle

from .browserkit import SCREENSHOTS, action, banner, category_box, js, load, wait_for

pytestmark = pytest.mark.browser

BUTTON_STYLE = ("width", "height", "fontSize", "fontWeight", "color", "backgroundColor",
                "borderTopWidth", "borderTopColor", "paddingTop", "paddingLeft")


def styled(driver: Any) -> None:
    """Wait until banner.css applies (the banner loads it itself)."""
    loaded = ("Array.prototype.some.call(document.styleSheets,"
              " function (s) { return /banner\\.css/.test(s.href || ''); })")
    wait_for(driver, lambda d: js(d, loaded), "banner.css did not load")


def settled(driver: Any) -> None:
    """Wait until the banner's CSS animations and transitions have finished."""
    driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "requestAnimationFrame(function () { Promise.all(document.getAnimations()"
        "  .map(function (a) { return a.finished; })).then(function () { done(); },"
        "  function () { done(); }); });")


def button_looks(driver: Any, name: str) -> dict[str, str]:
    """The computed look of a banner button: size, type and colours."""
    look: dict[str, str] = driver.execute_script(
        "var b = document.querySelector('#cg-banner [data-cg-action=\"' + arguments[0] + '\"]'),"
        " s = getComputedStyle(b), r = b.getBoundingClientRect(), out = {};"
        "arguments[1].forEach(function (k) { out[k] = s[k]; });"
        "out.width = Math.round(r.width) + 'px'; out.height = Math.round(r.height) + 'px';"
        "return out;", name, list(BUTTON_STYLE))
    return look


def inside_viewport(driver: Any, selector: str) -> bool:
    """Whether every element matching ``selector`` lies within the viewport's width."""
    result: bool = driver.execute_script(
        "return Array.prototype.every.call(document.querySelectorAll(arguments[0]), function (e) {"
        " var r = e.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth + 0.5;"
        "});", selector)
    return result


@pytest.mark.parametrize(("label", "width", "height"),
                         [("desktop", 1280, 800), ("320", 320, 640)])
def test_banner_layers_screenshots(browser: Any, demo: Any, label: str, width: int,
                                   height: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    try:
        load(browser, demo.url("/"))
        assert js(browser, "innerWidth") == width
        banner(browser)
        styled(browser)
        # "Accept all" and "Reject all" are equally prominent: same size, same style.
        assert button_looks(browser, "accept-all") == button_looks(browser, "reject-all")
        assert inside_viewport(browser, "#cg-banner, #cg-banner button")
        settled(browser)
        path = SCREENSHOTS / f"banner-first-{label}.png"
        assert browser.save_screenshot(str(path))

        action(browser, "customise").click()
        category_box(browser, "analytics")
        assert inside_viewport(browser, "#cg-banner, #cg-banner button, #cg-banner label")
        settled(browser)
        assert browser.save_screenshot(str(SCREENSHOTS / f"banner-settings-{label}.png"))
        assert path.stat().st_size > 1000
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# -- the banner's pure functions --------------------------------------------------------------


@pytest.fixture(scope="module")
def internals(chromium: Any, demo: Any) -> Iterator[Any]:
    """Calls ``consentguard._internals.<name>(*args)`` in a page that loaded the banner."""
    load(chromium, demo.url("/cookie-policy"))

    def call(name: str, *args: Any) -> Any:
        return chromium.execute_script(
            "return consentguard._internals[arguments[0]].apply(null, arguments[1]);",
            name, list(args))

    yield call


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    pytest.param("_ga", "_ga", True, id="exact"),
    pytest.param("_ga", "_ga_1", False, id="exact-is-not-prefix"),
    pytest.param("_ga_*", "_ga_XYZ", True, id="star-suffix"),
    pytest.param("_ga_*", "_ga_", True, id="star-matches-empty"),
    pytest.param("_ga_*", "_ga", False, id="star-needs-literal"),
    pytest.param("a*b*c", "aXbYc", True, id="two-stars"),
    pytest.param("a*b*c", "acb", False, id="two-stars-order"),
    pytest.param("_hj.*", "_hjX", False, id="dot-is-literal"),
    pytest.param("_hj.*", "_hj.x", True, id="dot-literal-matches"),
    pytest.param("x+*", "xx", False, id="plus-is-literal"),
])
def test_matches(internals: Any, pattern: str, name: str, expected: bool) -> None:
    assert internals("matches", pattern, name) is expected
    assert Cookie(pattern, category="c").matches(name) is expected  # the server agrees


ENTRIES = [{"name": "_ga_*", "category": "analytics"},
           {"name": "_ga_special", "category": "marketing"},
           {"name": "_g*", "category": "functional"}]


@pytest.mark.parametrize(("name", "category"), [
    pytest.param("_ga_special", "marketing", id="exact-beats-pattern"),
    pytest.param("_ga_1", "analytics", id="longest-literal-wins"),
    pytest.param("_gx", "functional", id="shorter-pattern"),
    pytest.param("zzz", None, id="undeclared"),
])
def test_lookup(internals: Any, name: str, category: str | None) -> None:
    found = internals("lookup", ENTRIES, name)
    assert (found or {}).get("category") == category


@pytest.mark.parametrize("host", [
    "www.demo.test", "demo.test", "www.shop.example.com", "a.b.c.d.example.com",
    "127.0.0.1", "localhost", "EXAMPLE.com.", "bad_host!",
])
def test_parent_domains_match_the_server_purge(internals: Any, host: str) -> None:
    # The banner deletes script cookies on the same domains the server purges.
    assert internals("parentDomains", host) == list(purge_domains(host)[1:])


@pytest.mark.parametrize("host", ["a.b.c.d.shop.example.co.uk", "shop.example.co.uk",
                                  "www.demo.test", "site.github.io"])
def test_the_banner_clears_the_domains_the_endpoint_names(internals: Any, host: str) -> None:
    # The endpoint's state for that Host, as the banner fetches it; then the banner's choice.
    guard = ConsentGuard(Registry([Category("essential", required=True)]), secret_key="k" * 32)
    answer = handle(guard, guard.decide(None, host=host),
                    EndpointRequest("GET", "/_consent", headers={"host": host}),
                    cookie_header=None)
    state = json.loads(answer.body)
    assert internals("domainsToClear", state, host) == list(purge_domains(host)[1:])


def test_cookie_names(internals: Any) -> None:
    assert internals("cookieNames", "a=1; b=2; a=3;  c = 4; =x; nameless") == ["a", "b", "c"]
    assert internals("cookieNames", "") == []


@settings(max_examples=150, deadline=None)
@given(pattern=st.text("_ga*.x", min_size=1, max_size=8), name=st.text("_ga.x", max_size=8))
def test_matches_agrees_with_the_server(internals: Any, pattern: str, name: str) -> None:
    assert internals("matches", pattern, name) is Cookie(pattern, category="c").matches(name), \
        json.dumps([pattern, name])
