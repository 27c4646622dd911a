"""axe-core finds no WCAG 2.2 A/AA violation (nor a best-practice one) in any state a
citizen meets: the form, the error state, the done page and the 429 page; inside the
cross-site iframe and on the standalone page of every demo agency, in its language.

The demo agencies list Russian and English, but the app renders an agency's first
language only (there is no language switch yet), so each standalone page is audited
in the language the app renders for it: Russian for all three. When the app learns to
render another language, add it to the parameters here.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.audit import violations
from tests.browser.sites import DEMO_AGENCIES, FLOOD_HEADER
from widget import agencies

pytestmark = pytest.mark.browser

DEMO = {
    agency_id: agencies.read(DEMO_AGENCIES, agency_id)[0]
    for agency_id in agencies.all_ids(DEMO_AGENCIES)
}
STATES = ["form", "error", "done", "429"]
FRAME = "iframe[title='Форма обратной связи']"


def reach(page, url: str, state: str, form=None):
    """Open ``url`` and bring the form (``form``: the page or the iframe) to ``state``."""
    if state == "429":
        page.set_extra_http_headers({FLOOD_HEADER: "1"})
    page.goto(url)
    form = form(page) if form else page
    if state == "429":
        expect(form.get_by_role("heading", name="Слишком много сообщений")).to_be_visible()
        return
    button = form.get_by_role("button", name="Отправить")
    expect(button).to_be_visible()
    if state == "error":
        form.get_by_label("Электронная почта").fill("not-an-email")
        button.click()
        expect(form.get_by_role("alert")).to_be_visible()
    elif state == "done":
        form.locator("input[name=topic]").first.check()
        form.get_by_label("Ваше сообщение").fill("Проверка доступности.")
        if form.get_by_label("Я согласен(на)").count():
            form.get_by_label("Электронная почта").fill("a11y@example.ru")
            phone = form.get_by_label("Телефон")
            if phone.count():
                phone.fill("+7 900 123-45-67")
            form.get_by_label("Я согласен(на)").check()
        button.click()
        expect(form.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()


@pytest.mark.parametrize("state", STATES)
def test_the_form_in_the_agencys_page_has_no_violations(with_js, sites, shoot, state):
    page = with_js.new_page()
    reach(page, sites.host_page(), state, form=lambda p: p.frame_locator(FRAME))
    shoot(page, "audited")
    assert len(page.frames) == 2, "the audit covers the host page and the widget's iframe"
    assert violations(page) == []


# The 429 page does not depend on the agency (the error page shows no agency data),
# so it is audited once.
STANDALONE = [
    *((agency_id, state) for agency_id in sorted(DEMO) for state in STATES if state != "429"),
    (sorted(DEMO)[0], "429"),
]


@pytest.mark.parametrize(("agency_id", "state"), STANDALONE)
def test_the_standalone_page_has_no_violations(with_js, sites, shoot, agency_id, state):
    page = with_js.new_page()
    reach(page, f"{sites.widget.url}/f/{agency_id}", state)
    shoot(page, "audited")
    assert page.locator("html").get_attribute("lang") == DEMO[agency_id].language
    assert violations(page) == []


def test_the_audit_finds_a_violation_inside_the_iframe(with_js, sites):
    """The audit can fail: an unlabelled field inside the cross-site frame is found."""
    page = with_js.new_page()
    page.goto(sites.host_page())
    widget = next(f for f in page.frames if f.parent_frame is not None)
    widget.evaluate("document.querySelector('label[for=email]').remove()")
    found = violations(page)
    assert any(line.startswith("label ") and "#email" in line for line in found), found
