"""Real-browser tests: Playwright for Python driving Debian's ``chromium`` (never a
downloaded browser). One headless browser per test session; each test gets a fresh
context and page. Without chromium the tests are skipped with a message, except in CI
(``CI=true``), where a missing browser is a failure: `make test` installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.security_headers import ATLASSIAN_SCRIPT_HOST

CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = "install Debian's chromium: `make install-chromium` (or apt-get install chromium)"


def chromium_path() -> str | None:
    """The system chromium: $TANDEM_CHROMIUM, else chromium on the PATH."""
    configured = os.environ.get("TANDEM_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"chromium is missing in CI: {INSTALL_HINT}", pytrace=False)
        pytest.skip(f"browser tests need chromium: {INSTALL_HINT}")
    return path


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page; Atlassian's all.js is refused (no network, and the panel must work
    without it) unless a test routes it itself first."""
    context = browser.new_context(viewport={"width": 1100, "height": 560})
    context.set_default_timeout(15_000)
    context.route(f"{ATLASSIAN_SCRIPT_HOST}/**", lambda route: route.abort())
    opened = context.new_page()
    yield opened
    context.close()
