"""Helpers for the browser tests: the browser's own cookie jar and storage, the banner.

Cookies are read with the DevTools protocol (``Network.getAllCookies``), which sees
HttpOnly cookies and cookies of every domain, not only what ``document.cookie`` shows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 15
#: Where screenshots land (CI keeps this folder as an artifact); CG_SCREENSHOTS overrides it.
SCREENSHOTS = Path(os.environ.get("CG_SCREENSHOTS")
                   or Path(__file__).resolve().parents[2] / "artifacts" / "screenshots")

#: Cookies the demo site may store before any choice (category essential).
ESSENTIAL = {"session", "cg_consent"}
ANALYTICS_COOKIES = {"_ga", "_ga_DEMO123", "_gid"}
ANALYTICS_STORAGE = {"localStorage": {"ajs_anonymous_id"}, "sessionStorage": {"_hjSession_123"}}


def cookie_jar(driver: WebDriver) -> list[dict[str, Any]]:
    """Every cookie the browser holds, of every domain, HttpOnly ones included."""
    cookies: list[dict[str, Any]] = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    return cookies


def cookie_names(driver: WebDriver) -> set[str]:
    """The names of every cookie the browser holds."""
    return {c["name"] for c in cookie_jar(driver)}


def cookies_named(driver: WebDriver, name: str) -> list[dict[str, Any]]:
    """The cookies called ``name`` (one per domain/path the browser holds it on)."""
    return [c for c in cookie_jar(driver) if c["name"] == name]


def storage_keys(driver: WebDriver, kind: str) -> set[str]:
    """The keys of ``localStorage`` or ``sessionStorage`` for the current page's origin."""
    keys: list[str] = driver.execute_script(
        f"var s = window.{kind}, k = []; for (var i = 0; i < s.length; i++) k.push(s.key(i));"
        " return k;")
    return set(keys)


T = TypeVar("T")


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T | None],
             message: str = "", timeout: float = TIMEOUT) -> T:
    """Wait until ``condition(driver)`` is truthy; return its value.

    An element missing or gone stale (the page is being replaced) counts as "not yet".
    """
    found = WebDriverWait(
        driver, timeout, poll_frequency=0.05,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(condition, message)
    assert found is not None  # (until returns only a truthy value)
    return found


def load(driver: WebDriver, url: str) -> Any:
    """Open ``url`` and wait until the banner has read the consent state (``ready``)."""
    driver.get(url)
    return wait_ready(driver)


def wait_ready(driver: WebDriver) -> Any:
    """Wait for ``consentguard.ready``; return the state's ``needs_consent``."""
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "var t = setInterval(function () { if (!window.consentguard) return; clearInterval(t);"
        "  consentguard.ready.then(function (s) { done({needs: s.needs_consent}); },"
        "                          function (e) { done({error: String(e)}); }); }, 20);")
    assert "error" not in result, f"the banner failed to load its state: {result['error']}"
    return result["needs"]


def banner(driver: WebDriver) -> WebElement:
    """The banner dialog, once shown."""
    return wait_for(driver, lambda d: _displayed(d, "#cg-banner"), "the banner did not show")


def _displayed(driver: WebDriver, selector: str) -> WebElement | None:
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    try:
        return found[0] if found and found[0].is_displayed() else None
    except StaleElementReferenceException:
        return None


def banner_hidden(driver: WebDriver) -> bool:
    """Whether no banner is on screen."""
    return _displayed(driver, "#cg-banner") is None


def wait_banner_hidden(driver: WebDriver) -> None:
    """Wait until the banner has gone (a choice was saved)."""
    wait_for(driver, banner_hidden, "the banner did not close")


def action(driver: WebDriver, name: str) -> WebElement:
    """The banner button ``[data-cg-action=name]`` of the layer on screen."""
    return wait_for(driver, lambda d: _displayed(d, f'#cg-banner [data-cg-action="{name}"]'),
                    f"no {name} button in the banner")


def category_box(driver: WebDriver, category: str) -> WebElement:
    """The settings layer's checkbox for ``category``."""
    return wait_for(
        driver,
        lambda d: _displayed(d, f'#cg-banner input[type=checkbox][data-cg-category="{category}"]'),
        f"no checkbox for {category}")


def mark_page(driver: WebDriver) -> None:
    """Tag the current document so :func:`wait_reloaded` can tell a new one."""
    driver.execute_script("window.__cgOldPage = true;")


def wait_reloaded(driver: WebDriver) -> None:
    """Wait until the page marked with :func:`mark_page` was replaced and has loaded."""
    wait_for(driver, lambda d: d.execute_script(
        "return !window.__cgOldPage && document.readyState === 'complete';"),
        "the page did not reload")


def active(driver: WebDriver) -> dict[str, Any]:
    """What has the keyboard focus: its tag, action, category and whether it is in the dialog."""
    info: dict[str, Any] = driver.execute_script(
        "var a = document.activeElement;"
        "return {tag: a.tagName.toLowerCase(), action: a.getAttribute('data-cg-action'),"
        " category: a.getAttribute('data-cg-category'),"
        " inDialog: !!a.closest('#cg-banner')};")
    return info


def js(driver: WebDriver, expression: str) -> Any:
    """The value of a JavaScript expression in the page."""
    return driver.execute_script(f"return ({expression});")
