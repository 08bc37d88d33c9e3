"""A Django page in a real Chromium: accept, reject and withdraw, with the test project
(tests/djangoproject) under uvicorn. The page sets an HttpOnly ``_ga`` on the parent
domain ``demo.test``; withdrawing through the page's own form deletes it from the jar.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")
pytest.importorskip("django")

from djangoserver import project_env, serve
from selenium.webdriver.common.by import By

from .browserkit import action, cookie_jar, cookie_names, load, wait_banner_hidden, wait_for

pytestmark = pytest.mark.browser

ESSENTIAL = {"sessionid", "csrftoken", "cg_consent"}
OPTIONAL = {"_ga", "theme", "_fbp"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test project's origin on www.demo.test (the browser maps it to 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("django-browser")
    with serve("uvicorn", project_env(folder / "db.sqlite3"), folder / "log") as port:
        yield f"http://www.demo.test:{port}"


@pytest.fixture
def page(chromium: Any, site: str) -> Any:
    """The session's browser with no cookies, on the Django page."""
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    load(chromium, f"{site}/")
    return chromium


def shown(driver: Any) -> str:
    text: str = driver.find_element(By.ID, "analytics").text
    return text


def test_accept_then_withdraw_purges_httponly_parent_domain_cookies(page: Any,
                                                                     site: str) -> None:
    assert cookie_names(page) <= ESSENTIAL and shown(page) == "analytics off"
    action(page, "accept-all").click()
    wait_banner_hidden(page)
    load(page, f"{site}/")
    assert shown(page) == "analytics on"
    held = {(c["name"], c["domain"].lstrip("."), c["httpOnly"]) for c in cookie_jar(page)}
    assert {("_ga", "demo.test", True), ("theme", "www.demo.test", False),
            ("_fbp", "www.demo.test", False)} <= held, held

    page.find_element(By.ID, "withdraw").click()  # the page's no-JavaScript form
    wait_for(page, lambda d: shown(d) == "analytics off", "the withdrawal did not show")
    assert not cookie_names(page) & OPTIONAL, cookie_jar(page)
    assert "cg_consent" in cookie_names(page)


def test_reject_keeps_only_essential_cookies(page: Any, site: str) -> None:
    action(page, "reject-all").click()
    wait_banner_hidden(page)
    load(page, f"{site}/")
    assert shown(page) == "analytics off"
    assert cookie_names(page) == ESSENTIAL, cookie_jar(page)
