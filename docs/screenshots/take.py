"""Take the screenshots in this folder: the widget in Russian and English, light and dark,
and the demo poll's form, its errors and its results (in Russian: its agency's only language).

    .venv/bin/python docs/screenshots/take.py

Serves the demo instance's agencies from a throw-away instance on a free port and drives
Debian's Chromium (/usr/bin/chromium) with Playwright, JavaScript off.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from widget import create_app  # noqa: E402

AGENCY = "orel-school-57"
POLL = "orel-city-admin/polls/blagoustroystvo-2027"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        shutil.copytree(ROOT / "instance" / "agencies", instance / "agencies")
        shutil.copytree(ROOT / "instance" / "logos", instance / "logos")
        shutil.copytree(ROOT / "instance" / "polls", instance / "polls")
        settings = {
            "secret_key": "screenshots",
            "token_min_seconds": 0,
            "public_url": "https://otklik.example.ru",  # only the pages' Open Graph links
        }
        app = create_app(settings, instance_path=instance)
        server = make_server("127.0.0.1", 0, app)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for lang in ("ru", "en"):
                    for scheme in ("light", "dark"):
                        shoot(browser, base, lang, scheme)
                        if lang == "ru":  # the city's administration offers Russian only
                            shoot_poll(browser, base, lang, scheme)
                browser.close()
        finally:
            server.shutdown()


def shoot(browser, base: str, lang: str, scheme: str) -> None:
    context = browser.new_context(
        viewport={"width": 400, "height": 900}, color_scheme=scheme, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{base}/embed/{AGENCY}?lang={lang}")
    page.screenshot(path=HERE / f"form-{lang}-{scheme}.png", full_page=True)
    page.locator("button[type=submit]").first.click()  # an empty form: the error state
    page.screenshot(path=HERE / f"error-{lang}-{scheme}.png", full_page=True)
    context.close()


def shoot_poll(browser, base: str, lang: str, scheme: str) -> None:
    context = browser.new_context(
        viewport={"width": 400, "height": 900}, color_scheme=scheme, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{base}/embed/{POLL}?lang={lang}")
    page.screenshot(path=HERE / f"poll-{lang}-{scheme}.png", full_page=True)
    page.locator("button[type=submit]").click()  # nothing chosen: the errors
    page.screenshot(path=HERE / f"poll-error-{lang}-{scheme}.png", full_page=True)
    for fieldset in page.locator("fieldset").all():
        fieldset.locator("input").nth(1).check()
    page.locator("button[type=submit]").click()
    page.locator("a[href*='/results']").click()
    page.screenshot(path=HERE / f"poll-results-{lang}-{scheme}.png", full_page=True)
    context.close()


if __name__ == "__main__":
    main()
