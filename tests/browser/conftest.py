"""Fixtures for the real-browser suite: the demo server and one headless Chromium.

The demo site (``python -m consentguard.demo``) runs in a subprocess with a real uvicorn
server on a free port. Chromium is Debian's ``chromium`` driven through
``chromium-driver`` (Selenium); ``bash scripts/install-browser.sh`` installs both. When
either is missing, every browser test is skipped with a message saying so.

One browser serves the whole session; each test gets a fresh tab with no cookies and no
storage. The browser resolves ``*.demo.test`` to 127.0.0.1, so a test can visit
``http://www.demo.test:PORT/`` and see cookies set on the parent domain ``demo.test``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from benchmarks.server import stop

ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `bash scripts/install-browser.sh` (apt-get install chromium chromium-driver)"
#: Set CG_REQUIRE_BROWSER=1 (CI does, once the browser is installed) to fail, not skip.
REQUIRED = os.environ.get("CG_REQUIRE_BROWSER") == "1"
if REQUIRED and importlib.util.find_spec("selenium") is None:
    raise pytest.UsageError("CG_REQUIRE_BROWSER=1 but selenium is not installed: "
                            "pip install -e '.[test]'")
PARENT = "demo.test"


def _unavailable(reason: str) -> NoReturn:
    if REQUIRED:
        pytest.fail(f"{reason} (CG_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def _find(env: str, *names: str) -> str | None:
    if os.environ.get(env):  # an explicit path, used only if it is there
        return os.environ[env] if Path(os.environ[env]).is_file() else None
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                        else None)
        if found:
            return found
    return None


class Demo:
    """The running demo server: ``url(path)`` on 127.0.0.1, ``url(path, host=...)`` elsewhere."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def parent_url(self, path: str = "/") -> str:
        """The same page on ``www.demo.test``, a host with a parent domain."""
        return self.url(path, host=f"www.{PARENT}")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo site, served by uvicorn in a subprocess on a free port."""
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    env = {**os.environ, "CONSENTGUARD_DEMO_SECRET": "browser-tests-secret-0123456789",
           "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "consentguard.demo", "--port", "0"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        port = None
        while port is None:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text(errors="replace"))
            if found:
                port = int(found.group(1))
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo server did not start:\n{log.read_text(errors='replace')}")
            else:
                time.sleep(0.05)
        yield Demo(port)
    finally:
        stop([proc])


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (Selenium WebDriver)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("browser tests need selenium: pip install -e '.[test]'")

    binary = _find("CG_CHROMIUM", "chromium", "chromium-browser")
    driver_path = _find("CG_CHROMEDRIVER", "chromedriver")
    if binary is None or driver_path is None:
        missing = " and ".join(n for n, p in (("chromium", binary), ("chromedriver", driver_path))
                               if p is None)
        _unavailable(f"browser tests need {missing}: {INSTALL_HINT}")
    profile = tempfile.mkdtemp(prefix="cg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,800", f"--user-data-dir={profile}",
                 f"--host-resolver-rules=MAP *.{PARENT} 127.0.0.1"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
    except Exception as exc:  # a broken install: say what failed rather than error each test
        shutil.rmtree(profile, ignore_errors=True)
        _unavailable(f"chromium could not start ({type(exc).__name__}: {exc}); {INSTALL_HINT}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium: Any, demo: Demo) -> Iterator[Any]:
    """The session's browser in a fresh tab: no cookies, no local or session storage,
    JavaScript on, a 1280x800 viewport."""
    driver = chromium
    old = driver.current_window_handle
    driver.switch_to.new_window("tab")  # a new tab: empty sessionStorage, no emulation left
    new = driver.current_window_handle
    driver.switch_to.window(old)
    driver.close()
    driver.switch_to.window(new)
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    for host in ("127.0.0.1", f"www.{PARENT}", PARENT):
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {
            "origin": demo.url("", host=host), "storageTypes": "local_storage,cache_storage"})
    driver.set_window_size(1280, 800)
    yield driver
