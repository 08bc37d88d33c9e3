"""The visitor's side, proven in a real Chromium against the demo server.

Every assertion about cookies reads the browser's own cookie jar through the DevTools
protocol (HttpOnly cookies and parent-domain cookies included) and the page's storage.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .browserkit import (
    ANALYTICS_COOKIES,
    ANALYTICS_STORAGE,
    ESSENTIAL,
    action,
    active,
    banner,
    banner_hidden,
    category_box,
    cookie_jar,
    cookie_names,
    cookies_named,
    js,
    load,
    mark_page,
    storage_keys,
    wait_banner_hidden,
    wait_for,
    wait_ready,
    wait_reloaded,
)

pytestmark = pytest.mark.browser


def assert_nothing_optional(driver: Any) -> None:
    """Only essential cookies in the jar, no declared storage key, no gated script ran."""
    assert cookie_names(driver) <= ESSENTIAL, cookie_jar(driver)
    assert storage_keys(driver, "localStorage") == set()
    assert storage_keys(driver, "sessionStorage") == set()
    assert js(driver, "window.analyticsRan") is None
    assert js(driver, "window.marketingRan") is None
    assert driver.find_element(By.ID, "analytics-status").text == "not run"


def test_first_visit_stores_only_essential_cookies(browser: Any, demo: Any) -> None:
    assert load(browser, demo.url("/")) is True  # needs_consent
    dialog = banner(browser)
    assert dialog.get_attribute("role") == "dialog"
    assert dialog.get_attribute("aria-labelledby")
    assert active(browser)["inDialog"], "focus is not inside the dialog when it opens"
    assert dialog.find_element(By.CSS_SELECTOR, 'a[href="/cookie-policy"]').is_displayed()
    # The server tried all of them; only the essential session cookie reached the browser.
    assert cookie_names(browser) == {"session"}
    (session,) = cookies_named(browser, "session")
    assert session["httpOnly"]
    assert_nothing_optional(browser)


def test_reject_all_stores_nothing_more(browser: Any, demo: Any) -> None:
    load(browser, demo.parent_url("/"))
    banner(browser)
    action(browser, "reject-all").click()
    wait_banner_hidden(browser)
    assert cookie_names(browser) == {"session", "cg_consent"}
    assert load(browser, demo.parent_url("/")) is False  # the choice is remembered
    assert banner_hidden(browser)
    assert_nothing_optional(browser)
    load(browser, demo.parent_url("/flask/"))
    assert browser.find_element(By.ID, "flask-analytics").text == "analytics not accepted"
    assert cookie_names(browser) == {"session", "cg_consent"}
    # consentguard.open() reopens the settings, showing the stored refusal.
    browser.execute_script("consentguard.open();")
    assert not category_box(browser, "analytics").is_selected()
    assert active(browser)["inDialog"]


def test_accept_analytics_through_customise(browser: Any, demo: Any) -> None:
    load(browser, demo.parent_url("/"))
    banner(browser)
    action(browser, "customise").click()
    boxes = {name: category_box(browser, name)
             for name in ("essential", "functional", "analytics", "marketing")}
    assert boxes["essential"].is_selected() and not boxes["essential"].is_enabled()
    assert not any(boxes[n].is_selected() for n in ("functional", "analytics", "marketing")), \
        "optional categories must never be pre-ticked"
    browser.execute_script(
        "window.__changes = []; consentguard.on('change', function (s) {"
        "  window.__changes.push(s.categories.filter(function (c) { return c.accepted; })"
        "    .map(function (c) { return c.name; })); });")
    boxes["analytics"].click()
    action(browser, "save").click()
    wait_banner_hidden(browser)

    # Right away, without a reload: the gated analytics block ran, the marketing one did not.
    wait_for(browser, lambda d: js(d, "window.analyticsRan === true"), "analytics block idle")
    assert js(browser, "window.marketingRan") is None
    assert js(browser, "window.__changes") == [["essential", "analytics"]]
    assert js(browser, "consentguard.allows('analytics')") is True
    assert js(browser, "consentguard.allows('marketing')") is False
    updates = js(browser, "dataLayer.filter(function (a) { return a[0] === 'consent' "
                          "&& a[1] === 'update'; }).map(function (a) { return a[2]; })")
    assert updates and updates[-1]["analytics_storage"] == "granted"
    assert updates[-1]["ad_storage"] == "denied"

    # The next page load: the server's analytics cookies pass, HttpOnly one included.
    load(browser, demo.parent_url("/"))
    assert banner_hidden(browser)
    names = cookie_names(browser)
    assert names >= ANALYTICS_COOKIES, names
    assert not names & {"_fbp", "_gcl_au", "theme", "tracker_uid"}, names
    (ga,) = cookies_named(browser, "_ga")
    assert ga["httpOnly"] and ga["domain"].lstrip(".") == "demo.test"
    assert browser.find_element(By.ID, "analytics-status").text == "ran"
    assert browser.find_element(By.ID, "marketing-status").text == "not run"
    for kind, keys in ANALYTICS_STORAGE.items():
        assert storage_keys(browser, kind) == keys
    # The Flask half shares the consent cookie.
    load(browser, demo.parent_url("/flask/"))
    assert browser.find_element(By.ID, "flask-analytics").text == "analytics accepted"
    assert browser.find_element(By.ID, "flask-marketing").text == "marketing not accepted"
    assert "_ga_FLASK" in cookie_names(browser)
    browser.execute_script("consentguard.open();")
    assert category_box(browser, "analytics").is_selected()
    assert not category_box(browser, "marketing").is_selected()


def test_withdrawal_removes_server_and_script_cookies_and_storage(browser: Any,
                                                                   demo: Any) -> None:
    load(browser, demo.parent_url("/"))
    banner(browser)
    action(browser, "accept-all").click()
    wait_banner_hidden(browser)
    load(browser, demo.parent_url("/flask/"))
    load(browser, demo.parent_url("/"))
    wait_for(browser, lambda d: js(d, "window.marketingRan === true"), "marketing block idle")
    held = {(c["name"], c["domain"].lstrip(".")) for c in cookie_jar(browser)}
    # Server-set (HttpOnly _ga on the parent domain) and script-set (_gid on the parent
    # domain) cookies of every category are there before the withdrawal.
    expected = {("_ga", "demo.test"), ("_gid", "demo.test"), ("_ga_FLASK", "demo.test"),
                ("_ga_DEMO123", "www.demo.test"), ("_fbp", "www.demo.test"),
                ("theme", "www.demo.test"), ("_gcl_au", "www.demo.test")}
    assert expected <= held, held
    assert storage_keys(browser, "localStorage") == {"ajs_anonymous_id", "lang"}
    assert storage_keys(browser, "sessionStorage") == {"_hjSession_123"}

    # Withdraw: the footer link reopens the settings; "Reject all" withdraws and reloads.
    mark_page(browser)
    browser.find_element(By.CSS_SELECTOR, "footer [data-cg-open]").click()
    banner(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#cg-banner input[data-cg-category]"), \
        "the reopen link should open the settings layer"
    action(browser, "reject-all").click()
    wait_reloaded(browser)
    assert wait_ready(browser) is False

    assert cookie_names(browser) == {"session", "cg_consent"}, cookie_jar(browser)
    assert storage_keys(browser, "localStorage") == set()
    assert storage_keys(browser, "sessionStorage") == set()
    assert js(browser, "window.analyticsRan") is None
    assert js(browser, "consentguard.allows('analytics')") is False


def test_withdrawal_through_the_endpoint_purges_httponly_parent_domain_cookie(
        browser: Any, demo: Any) -> None:
    load(browser, demo.parent_url("/"))
    browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch('/_consent', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({accept: ['analytics']})}).then(function (r) { done(r.status); });")
    load(browser, demo.parent_url("/"))
    assert [c["domain"].lstrip(".") for c in cookies_named(browser, "_ga")] == ["demo.test"]
    status = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch('/_consent', {method: 'DELETE', headers: {Accept: 'application/json'}})"
        ".then(function (r) { done(r.status); });")
    assert status == 200
    # The DELETE answer alone deleted them: HttpOnly, parent domain, pattern cookie.
    assert not cookie_names(browser) & ANALYTICS_COOKIES, cookie_jar(browser)


def test_keyboard_only(browser: Any, demo: Any) -> None:
    load(browser, demo.url("/"))
    banner(browser)
    assert active(browser)["inDialog"]

    def press(key: str) -> None:
        browser.switch_to.active_element.send_keys(key)

    # Tab cycles within the dialog's buttons; every action is reachable.
    seen = []
    for _ in range(6):
        now = active(browser)
        assert now["inDialog"], f"Tab left the dialog: {now}"
        seen.append(now["action"])
        press(Keys.TAB)
    assert {"accept-all", "reject-all", "customise"} <= set(seen), seen

    def tab_to(key: str, value: str) -> None:
        """Tab until the focused element's ``key`` is ``value`` (at most 12 presses)."""
        for _ in range(12):
            if active(browser)[key] == value:
                return
            press(Keys.TAB)
        assert active(browser)[key] == value, f"Tab never reached {key}={value}"

    tab_to("action", "customise")
    press(Keys.ENTER)
    category_box(browser, "analytics")
    assert active(browser)["inDialog"], "focus left the dialog when the settings opened"
    tab_to("category", "analytics")
    press(Keys.SPACE)
    assert category_box(browser, "analytics").is_selected()
    tab_to("action", "save")
    press(Keys.ENTER)
    wait_banner_hidden(browser)
    wait_for(browser, lambda d: js(d, "window.analyticsRan === true"), "analytics block idle")
    assert js(browser, "consentguard.allows('marketing')") is False
    load(browser, demo.url("/"))
    assert "_ga" in cookie_names(browser)


def test_escape_leaves_the_settings_layer(browser: Any, demo: Any) -> None:
    load(browser, demo.url("/"))
    banner(browser)
    action(browser, "customise").click()
    category_box(browser, "analytics")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    action(browser, "accept-all")  # back on the first layer: a choice is still needed
    assert not browser.find_elements(By.CSS_SELECTOR, "#cg-banner input[data-cg-category]")
    assert active(browser)["inDialog"]


def test_consent_form_without_javascript(browser: Any, demo: Any) -> None:
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(demo.url("/consent"))
        assert not browser.find_elements(By.ID, "cg-banner")
        assert browser.find_element(By.ID, "accepted").text == "essential"
        browser.find_element(By.CSS_SELECTOR, 'input[name=accept][value="analytics"]').click()
        browser.find_element(By.XPATH, "//button[normalize-space()='Save my choice']").click()
        wait_for(browser, lambda d: d.find_element(By.ID, "accepted").text
                 == "analytics, essential", "the form's choice was not recorded")
        assert browser.current_url == demo.url("/consent")
        browser.get(demo.url("/"))
        assert {"_ga", "_ga_DEMO123"} <= cookie_names(browser)
        assert browser.find_element(By.ID, "analytics-status").text == "not run"

        browser.get(demo.url("/consent"))
        browser.find_element(By.XPATH,
                             "//button[normalize-space()='Withdraw my consent']").click()
        wait_for(browser, lambda d: d.find_element(By.ID, "accepted").text == "essential",
                 "the withdrawal was not recorded")
        assert cookie_names(browser) == {"session", "cg_consent"}
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_live_panel_lists_removed_set_cookie(browser: Any, demo: Any) -> None:
    # A query string of its own: only the panel's polling can show this very response.
    load(browser, demo.url("/?panel"))
    panel = browser.find_element(By.ID, "cg-demo-removed")
    wait_for(browser, lambda d: panel.text.startswith("GET /?panel → 200"),
             "the panel does not show the last response")
    last = panel.find_element(By.CSS_SELECTOR, ".response").text
    assert "removed Set-Cookie: _ga=" in last and "HttpOnly" in last
    assert "removed Set-Cookie: tracker_uid=" in last and "[undeclared]" in last
    assert "removed Set-Cookie: _fbp=" in last and "[marketing]" in last
    assert "sent: session=" in last

    # A withdrawal's answer shows the deletions the server sent.
    action(browser, "accept-all").click()
    wait_banner_hidden(browser)
    load(browser, demo.url("/"))
    status = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch('/_consent', {method: 'DELETE', headers: {Accept: 'application/json'}})"
        ".then(function (r) { done(r.status); });")
    assert status == 200
    wait_for(browser, lambda d: panel_first(d).startswith("DELETE /_consent → 200"),
             "the panel does not show the withdrawal")
    assert "sent: _ga=; Expires=" in panel_first(browser)


def panel_first(driver: Any) -> str:
    """The text of the newest response in the live panel."""
    found = driver.find_elements(By.CSS_SELECTOR, "#cg-demo-removed .response")
    return found[0].text if found else ""


def test_gated_scripts_added_after_load_follow_the_choice(browser: Any, demo: Any) -> None:
    add = ("var s = document.createElement('script'); s.type = 'text/plain';"
           " s.setAttribute('data-consent-category', arguments[0]);"
           " s.text = 'window.lateRan = (window.lateRan || []).concat([' +"
           " JSON.stringify(arguments[0]) + ']);';"
           " document.body.appendChild(s);")
    load(browser, demo.url("/"))
    banner(browser)
    action(browser, "customise").click()
    category_box(browser, "analytics").click()
    action(browser, "save").click()
    wait_banner_hidden(browser)
    browser.execute_script(add, "analytics")
    browser.execute_script(add, "marketing")
    wait_for(browser, lambda d: js(d, "window.lateRan") == ["analytics"],
             "the late analytics block did not run")
    assert js(browser, "window.lateRan") == ["analytics"]  # marketing stays inert
    inert = browser.find_elements(
        By.CSS_SELECTOR, 'script[type="text/plain"][data-consent-category="marketing"]')
    assert inert
