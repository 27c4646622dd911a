"""The message's page in every state a citizen meets (received, in progress, answered
with a long answer holding a URL and markup, rated, closed), the rating's errors and the
status page: no axe violation, JavaScript off for what the citizen does, at 1280 px, at
320 px and at 200 % zoom without sideways scrolling, standalone and inside the agency's
cross-site iframe (issue 18, item 7)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.answers import LONG_ANSWER, sent, update
from tests.browser.audit import violations
from tests.browser.layout import EVERY, assert_fits
from tests.browser.sites import TEST_AGENCY
from tests.pages import check_html

pytestmark = pytest.mark.browser

FRAME = "iframe[title='Форма обратной связи']"
STATES = ["received", "in_progress", "answered", "rated", "closed", "rating-error"]


def message_in(sites, state: str) -> str:
    """The done URL (path and seal) of a new message of the test agency in ``state``."""
    app = sites.widget.app
    client = app.test_client()
    done = sent(client, path=f"/embed/{TEST_AGENCY}", text="В столовой холодный суп 🥣")
    if state != "received":
        update(app, done, "in_progress", agency_id=TEST_AGENCY, time="2026-12-02T09:00:00+03:00",
               note="Передано заместителю директора", answer_by="2027-01-20")  # fmt: skip
    if state in ("answered", "rated", "closed", "rating-error"):
        answer = {"answer": LONG_ANSWER, "answered_by": "Администрация школы"}
        update(app, done, "answered", agency_id=TEST_AGENCY, time="2026-12-03T10:15:00+03:00",
               **answer)  # fmt: skip
    if state in ("rated", "closed"):
        page = client.get(done).get_data(as_text=True)
        token = re.findall(r'name="token" value="([^"]+)"', page)[-1]
        fields = {"solved": "no", "score": "2", "comment": "Суп всё ещё холодный 😞"}
        assert client.post(done, data={**fields, "token": token}).status_code == 303
    if state == "closed":
        update(app, done, "closed", agency_id=TEST_AGENCY, time="2026-12-10T10:00:00+03:00")
    return done


def bring(page, frame, state: str) -> None:
    """Press the rating's button with nothing chosen: the error state."""
    if state == "rating-error":
        frame.get_by_role("button", name="Отправить оценку").click()
        expect(frame.get_by_role("alert")).to_be_visible()


@pytest.mark.parametrize("size", EVERY)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", ["f", "embed"])
def test_the_message_page_fits(browser, sites, shoot, kind, state, size):
    done = message_in(sites, state).replace(f"/embed/{TEST_AGENCY}", f"/{kind}/{TEST_AGENCY}", 1)
    context = browser.new_context(java_script_enabled=False, **size)
    page = context.new_page()
    page.goto(sites.widget.url + done)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    bring(page, page, state)
    check_html(page.content())
    assert_fits(page)
    shoot(page, state)
    context.close()


@pytest.mark.parametrize("state", STATES)
def test_the_message_page_has_no_violations_in_the_iframe(with_js, sites, shoot, state):
    done = message_in(sites, state)
    page = with_js.new_page()
    page.goto(sites.host_page())
    widget = next(f for f in page.frames if f.parent_frame is not None)
    widget.goto(sites.widget.url + done)
    expect(page.frame_locator(FRAME).get_by_role("heading", level=1)).to_be_visible()
    bring(page, page.frame_locator(FRAME), state)
    shoot(page, f"iframe-{state}")
    assert violations(page) == []


@pytest.mark.parametrize("state", STATES)
def test_the_message_page_has_no_violations_standalone(with_js, sites, state):
    page = with_js.new_page()
    page.goto(sites.widget.url + message_in(sites, state).replace("/embed/", "/f/", 1))
    bring(page, page, state)
    assert violations(page) == []


@pytest.mark.parametrize("size", EVERY)
def test_the_status_page(browser, sites, shoot, size):
    done = message_in(sites, "answered")
    receipt = urlsplit(done).path.rsplit("/", 1)[1]
    context = browser.new_context(**size)  # JavaScript on for axe: the page has none
    page = context.new_page()
    page.goto(f"{sites.widget.url}/f/{TEST_AGENCY}/status")
    assert_fits(page)
    page.get_by_label("Номер сообщения").fill(receipt.lower().replace("-", " "))
    page.get_by_role("button", name="Узнать статус").click()
    expect(page.get_by_role("heading", name=re.compile("Дан ответ"))).to_be_visible()
    assert "горячим" not in page.content()
    assert_fits(page)
    shoot(page, "status")
    assert violations(page) == []
    page.get_by_label("Номер сообщения").fill("K7M2-9QXD")
    page.get_by_role("button", name="Узнать статус").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_fits(page)
    shoot(page, "status-unknown")
    assert violations(page) == []
    context.close()
