"""Take the screenshots in this folder: the form in Russian and English, light and dark;
the message's page answered, rated, closed (in the demo's iframe) and with the rating's
errors, and the status page; the demo poll's form, its errors and its results (in
Russian: its agency's only language).

    .venv/bin/python docs/screenshots/take.py

Serves the demo instance's agencies from a throw-away instance on a free port and drives
Debian's Chromium (/usr/bin/chromium) with Playwright, JavaScript off. The message is sent
and answered as in the tests (tests/answers.py: the real form, the real update path).
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

from tests.answers import LONG_ANSWER, rate, receipt_of, sent, update  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.layout import DESKTOP, PHONE  # noqa: E402
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
            "demo": True,
            "public_url": "https://otklik.example.ru",  # what "save this link" shows
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
                shoot_the_way_back(browser, base, app)
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


def shoot_the_way_back(browser, base: str, app) -> None:
    """The message's page as its citizen follows it, and the status page."""
    client = app.test_client()
    done = sent(client, path=f"/f/{AGENCY}", text="В столовой холодный суп, и так уже неделю 🥣")
    answer = {"answer": LONG_ANSWER, "answered_by": "Администрация школы"}
    update(app, done, "in_progress", time="2026-12-02T09:00:00+03:00", answer_by="2027-01-20",
           note="Передано заместителю директора")  # fmt: skip
    update(app, done, "answered", time="2026-12-03T10:15:00+03:00", **answer)

    def page_at(size: dict, path: str, name: str, press: str | None = None) -> None:
        context = browser.new_context(java_script_enabled=False, **size)
        page = context.new_page()
        page.goto(base + path)
        if press:
            page.get_by_role("button", name=press).click()
        page.screenshot(path=HERE / f"{name}.png", full_page=True)
        context.close()

    page_at(DESKTOP, done, "message-answered-1280")
    page_at(DESKTOP, done, "message-rating-error-1280", press="Отправить оценку")
    rated = rate(client, done, solved="no", score="2", comment="Суп всё ещё холодный 😞")
    assert rated.status_code == 303, rated.status_code
    page_at(PHONE, rated.headers["Location"], "message-rated-320")
    page_at(PHONE, f"/f/{AGENCY}/status?receipt={receipt_of(done)}", "status-320")

    update(app, done, "closed", time="2026-12-10T10:00:00+03:00")
    # script on only to point the demo's frame at the message: the pages run none
    context = browser.new_context(viewport={"width": 900, "height": 1650})
    page = context.new_page()
    page.goto(f"{base}/demo/{AGENCY}")
    frame = page.frame_locator("iframe.demo__frame")
    frame.locator("body").wait_for()
    embedded = done.replace("/f/", "/embed/", 1)
    page.locator("iframe.demo__frame").evaluate("(f, url) => { f.src = url; }", base + embedded)
    frame.get_by_role("heading", name="Ваше сообщение").wait_for()
    page.screenshot(path=HERE / "message-closed-iframe.png")
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
