"""Every page of a poll a citizen meets (the agency's list, the form, the form with its
errors, the thank-you, the results, a closed and a not-yet-open poll), in Russian and
English: JavaScript off at 1280 px, 320 px and 200 % zoom without sideways scrolling,
voting inside the agency's cross-site iframe, and no axe violation there (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.audit import violations
from tests.browser.layout import EVERY, assert_fits
from tests.browser.sites import TEST_AGENCY
from tests.pages import check_html
from tests.polls import write_poll

pytestmark = pytest.mark.browser

FRAME = "iframe[title='Форма обратной связи']"
DEMO_POLL = Path(__file__).resolve().parents[2] / "instance/polls/orel-city-admin"
STATES = ["list", "form", "form-error", "thanks", "results", "closed", "upcoming"]
# What each state's page says first, in each language.
HEADINGS = {
    "ru": {"list": "Опросы", "thanks": "Спасибо, ваш голос принят", "results": "Результаты"},
    "en": {"list": "Polls", "thanks": "Thank you, your vote is counted", "results": "Results"},
}


@pytest.fixture(scope="module")
def poll_ids(sites) -> dict[str, str]:
    """The demo poll three times over for the test agency: open, closed, not yet open."""
    body = (DEMO_POLL / "blagoustroystvo-2027.toml").read_text(encoding="utf-8")
    bodies = {
        "dvor-2027": body,
        "dvor-2026": body.replace("closes = 2030-12-31", "closes = 2026-06-30")
        .replace("Благоустройство 2027", "Двор школы: лето 2026")
        .replace("Improvements 2027", "The school's yard: summer 2026"),
        "dvor-2031": body.replace("opens = 2026-01-01", "opens = 2031-01-01")
        .replace("closes = 2030-12-31", "closes = 2031-12-31")
        .replace("Благоустройство 2027", "Спортивная площадка 2031")
        .replace("Improvements 2027", "The sports ground 2031"),
    }
    for poll_id, text in bodies.items():
        write_poll(sites.widget.instance, poll_id, text, agency_id=TEST_AGENCY)
    return {"open": "dvor-2027", "closed": "dvor-2026", "upcoming": "dvor-2031"}


def address(sites, poll_ids, state: str, lang: str, surface: str) -> str:
    base = f"{sites.widget.url}/{surface}/{TEST_AGENCY}/polls"
    if state != "list":
        base += "/" + poll_ids.get(state, poll_ids["open"])
    return f"{base}?lang={lang}"


def bring(frame, state: str) -> None:
    """From the poll's form to ``state`` by what a citizen does: press the button with
    nothing chosen (the errors), or answer and vote (the thank-you, then the results)."""
    if state == "form-error":
        frame.locator("button[type=submit]").click()
        expect(frame.get_by_role("alert")).to_be_visible()
    elif state in ("thanks", "results"):
        for fieldset in frame.locator("fieldset").all():
            fieldset.locator("input").first.check()
        frame.locator("button[type=submit]").click()
        expect(frame.locator(".panel__title")).to_be_visible()
        if state == "results":
            frame.locator("a[href*='/results']").click()
            expect(frame.locator(".votes-total")).to_be_visible()


def expect_state(frame, state: str, lang: str) -> None:
    words = HEADINGS[lang].get(state)
    heading = frame.get_by_role("heading", level=1)
    if words:
        expect(heading).to_contain_text(words)
    else:
        expect(heading).to_be_visible()
    if state in ("closed", "upcoming"):
        expect(frame.locator(".notice--state")).to_be_visible()
        expect(frame.locator("button[type=submit]")).to_have_count(0)


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("size", EVERY)
@pytest.mark.parametrize("state", STATES)
def test_every_poll_page_without_javascript_fits(
    browser, sites, poll_ids, shoot, state, size, lang
):
    context = browser.new_context(java_script_enabled=False, **size)
    page = context.new_page()
    page.goto(address(sites, poll_ids, state, lang, "f"))
    bring(page, state)
    expect_state(page, state, lang)
    assert page.locator("html").get_attribute("lang") == lang
    check_html(page.content())
    assert_fits(page)
    shoot(page, "page")
    context.close()


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("state", STATES)
def test_every_poll_page_in_the_cross_site_iframe_has_no_violations(
    with_js, sites, poll_ids, shoot, state, lang
):
    page = with_js.new_page()
    page.goto(sites.host_page())
    widget = next(f for f in page.frames if f.parent_frame is not None)
    widget.goto(address(sites, poll_ids, state, lang, "embed"))
    frame = page.frame_locator(FRAME)
    bring(frame, state)
    expect_state(frame, state, lang)
    shoot(page, f"iframe-{state}")
    assert violations(page) == []


def test_a_vote_counts_in_the_cross_site_iframe_with_javascript_off(no_js, sites, poll_ids):
    """Third-party cookies blocked and no script: the vote still reaches the tally."""
    from widget import polls

    def votes() -> int:
        with sites.widget.app.app_context():
            return polls.tallies().counts(TEST_AGENCY, poll_ids["open"]).get(("", ""), 0)

    before = votes()
    page = no_js.new_page()
    page.goto(sites.host_page())
    widget = next(f for f in page.frames if f.parent_frame is not None)
    widget.goto(address(sites, poll_ids, "form", "ru", "embed"))
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Парк у реки").check()
    frame.get_by_label("Скамейки").check()
    frame.get_by_label("4", exact=True).check()
    frame.get_by_role("button", name="Проголосовать").click()
    expect(frame.get_by_role("heading", name="Спасибо, ваш голос принят")).to_be_visible()
    assert votes() == before + 1
    assert not any(r["cookie"] for r in sites.widget.requests)  # the widget sets none
