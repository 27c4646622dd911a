"""The widget inside an agency's website, as a citizen meets it: a cross-site iframe,
JavaScript off, third-party cookies blocked (Chromium's default here) or allowed."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.sites import TEST_AGENCY
from tests.browser.widget_form import FRAME, fill, unique_text, widget_frame

pytestmark = pytest.mark.browser

# The fields the error summary links to: in the summary's order, and in the page's.
SUMMARY_TARGETS = """() => {
  const links = [...document.querySelectorAll('.error-summary a')]
    .map(a => a.getAttribute('href').slice(1));
  const page_order = [...document.querySelectorAll('input, textarea, select')]
    .map(el => el.id).filter(id => links.includes(id));
  return {links, page_order};
}"""


def third_party_cookies_allowed(context, sites) -> bool:
    """Frame a cookie-setting page of another site, and see whether the cookie stuck."""
    page = context.new_page()
    try:
        page.goto(f"{sites.host}/cookie-check")
        third_party = any(c["name"] == "probe" for c in context.cookies(sites.probe_origin))
        context.clear_cookies()
        page.goto(f"{sites.probe_origin}/cookie-probe")  # the same page as a first party
        first_party = any(c["name"] == "probe" for c in context.cookies(sites.probe_origin))
        assert first_party, "the cookie probe sets no cookie even as a first party"
        return third_party
    finally:
        page.close()
        context.clear_cookies()


@pytest.fixture(params=["3pc-blocked", "3pc-allowed"])
def citizen(request, sites):
    """A page in a JavaScript-off browser, in the cookie mode the parameter names."""
    blocked = request.param == "3pc-blocked"
    context = request.getfixturevalue("no_js" if blocked else "cookie_friendly_browser")
    assert third_party_cookies_allowed(context, sites) == (not blocked)
    page = context.new_page()
    yield page
    page.close()
    context.clear_cookies()


def test_a_citizen_sends_a_message_from_inside_the_agencys_page(citizen, sites, shoot):
    page, text, asked_before = citizen, unique_text(), len(sites.widget.requests)
    page.goto(sites.host_page())
    form = page.frame_locator(FRAME)
    expect(form.get_by_role("heading", name="Написать в организацию")).to_be_visible()
    expect(page.locator("#no-script")).to_be_visible()  # JavaScript is really off
    shoot(page, "form")

    fill(form, text)
    form.get_by_role("button", name="Отправить").click()

    expect(form.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()
    shoot(page, "done")
    receipt = form.locator(".receipt").inner_text()
    assert page.url == sites.host_page(), "the agency's page stays; only the iframe moved on"
    done = urlsplit(widget_frame(page).url)
    assert f"{done.scheme}://{done.netloc}{done.path}" == (
        f"{sites.widget.url}/embed/{TEST_AGENCY}/done/{receipt}"
    )

    (row,) = sites.widget.messages(text)
    assert row["receipt"] == receipt
    data = json.loads(row["event"])["data"]
    assert data["channel"] == "embed"
    assert data["origin"] == sites.host, "the embedding page is known from the form's Referer"
    asked = sites.widget.requests[asked_before:]
    (post,) = [r for r in asked if r["method"] == "POST"]
    assert post["sec_fetch_site"] == "same-origin", "the iframe posts to its own origin"
    assert page.context.cookies(sites.widget.url) == [], "promise 2: the widget sets no cookie"
    assert [r["cookie"] for r in asked if r["cookie"]] == [], "and the browser sends none"


def test_an_error_keeps_what_was_typed_and_says_what_to_fix(citizen, sites, shoot):
    page, text = citizen, unique_text()
    page.goto(sites.host_page())
    form = page.frame_locator(FRAME)
    fill(form, text, topic=None, consent=False)
    form.get_by_role("button", name="Отправить").click()

    summary = form.get_by_role("alert")
    expect(summary).to_contain_text("Исправьте ошибки")
    expect(summary.get_by_role("link", name="Выберите тему сообщения")).to_be_visible()
    shoot(page, "error")
    frame = widget_frame(page)
    assert frame.title().startswith("Ошибка: ")
    expect(form.get_by_label("Ваше сообщение")).to_have_value(text)
    expect(form.get_by_label("Электронная почта")).to_have_value("parent@example.ru")
    assert sites.widget.messages(text) == []
    linked = frame.evaluate(SUMMARY_TARGETS)
    assert linked["links"] == ["topic", "consent"]
    assert linked["links"] == linked["page_order"], "the summary lists problems in page order"

    summary.get_by_role("link", name="Выберите тему сообщения").click()
    expect(form.locator("#topic")).to_be_focused()
    form.get_by_label("Питание").check()
    form.get_by_label("Даю согласие").check()
    form.get_by_role("button", name="Отправить").click()
    expect(form.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()
    assert len(sites.widget.messages(text)) == 1


def test_pressing_submit_twice_sends_one_message(no_js, sites, shoot):
    page, text = no_js.new_page(), unique_text()
    page.goto(sites.host_page())
    form = page.frame_locator(FRAME)
    fill(form, text)
    button = form.get_by_role("button", name="Отправить")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    sites.widget.gate.arm(2)  # hold the first POST until the second one arrives
    try:
        page.mouse.click(x, y)
        # Two clicks in one instant make one submission (the browser merges them); a
        # person's second press comes while the first is on its way, the form still shown.
        assert sites.widget.gate.arrived(1)
        page.mouse.click(x, y)
        expect(form.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()
    finally:
        sites.widget.gate.disarm()
    shoot(page, "done")
    assert len(sites.widget.gate.seen) == 2, "both presses reached the server"
    (row,) = sites.widget.messages(text)
    assert form.locator(".receipt").inner_text() == row["receipt"]


def test_the_form_does_not_show_on_a_site_the_agency_did_not_list(no_js, sites, shoot):
    page, asked_before = no_js.new_page(), len(sites.widget.requests)
    failures = []
    page.on("requestfailed", lambda r: failures.append((r.url, r.failure)))
    page.goto(sites.host_page(stranger=True))
    frame = widget_frame(page)
    expect(page.frame_locator(FRAME).locator("form")).to_have_count(0)
    assert frame.url == "chrome-error://chromewebdata/"
    shoot(page, "refused")
    asked = [r for r in sites.widget.requests[asked_before:] if r["sec_fetch_dest"] == "iframe"]
    assert len(asked) == 1, "the widget was asked, and answered"
    embed_url = f"{sites.widget.url}/embed/{TEST_AGENCY}"
    assert (embed_url, "net::ERR_BLOCKED_BY_RESPONSE") in failures, failures


def test_the_same_form_shows_on_the_listed_site(no_js, sites):
    page = no_js.new_page()
    page.goto(sites.host_page())
    assert widget_frame(page).url == f"{sites.widget.url}/embed/{TEST_AGENCY}"
