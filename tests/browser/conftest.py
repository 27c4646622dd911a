"""Real-browser fixtures: Debian's Chromium driven by Playwright, one set of servers
and one browser per xdist worker, a fresh context per test.

Without Chromium the browser tests skip with a loud reason; under CI=true that is a
failure. Never `playwright install`: it downloads a browser, which cannot work here.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.sites import Sites, running

# Not an OTKLIK_ variable: those are the service's settings.
CHROMIUM = os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Tall enough that the host page's 1500 px iframe is on screen: Chromium paints an
# out-of-process iframe only within the viewport, so screenshots would be cut off.
VIEWPORT = {"width": 900, "height": 1650}


def missing(message: str):
    loud = f"BROWSER TESTS NOT RUN: {message}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{loud} (and CI=true makes that a failure)")
    pytest.skip(loud)


@pytest.fixture(scope="session")
def playwright():
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium; see docs/browser-tests.md)")
    manager = sync_playwright().start()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def browser(playwright):
    """Chromium as it comes: third-party cookies blocked (cookie_controls_mode = 1)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def cookie_friendly_browser(playwright, tmp_path_factory):
    """A persistent Chromium profile whose preferences allow third-party cookies."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    (profile / "Default").mkdir()
    preferences = {"profile": {"cookie_controls_mode": 0}}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        java_script_enabled=False,
        viewport=VIEWPORT,
    )
    yield context
    context.close()


@pytest.fixture(scope="session")
def sites(tmp_path_factory) -> Sites:
    with running(tmp_path_factory.mktemp("browser") / "instance") as sites:
        yield sites


@pytest.fixture
def no_js(browser):
    """A fresh context with JavaScript disabled: how the promises are kept."""
    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def with_js(browser):
    """A context with JavaScript on, only for tools that need it (axe-core). The pages
    have no script of their own, so they behave the same."""
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def shoot(request):
    """``shoot(page, "state")`` saves a full-page screenshot to tests/browser/artifacts/;
    ``shoot(locator, "state")`` one of that element only."""
    ARTIFACTS.mkdir(exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def shoot(target, state: str) -> Path:
        path = ARTIFACTS / f"{prefix}--{state}.png"
        if hasattr(target, "main_frame"):
            target.screenshot(path=path, full_page=True)
        else:
            target.screenshot(path=path)
        return path

    return shoot
