"""A broken agency file, seen from the agency's own site: the citizen meets a page
inside the iframe (never a blank frame), and a form already served stays up."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.sites import TEST_AGENCY
from tests.browser.widget_form import FRAME, fill, unique_text, widget_frame
from tests.conftest import write_agency

pytestmark = pytest.mark.browser


def agency_file(sites, agency_id: str) -> str:
    test_agency = sites.widget.instance / "agencies" / f"{TEST_AGENCY}.toml"
    return test_agency.read_text(encoding="utf-8").replace(TEST_AGENCY, agency_id)


def test_a_file_broken_from_the_start_shows_its_503_page_inside_the_agencys_iframe(
    no_js, sites, shoot
):
    agency_id = f"browser-broken-{uuid.uuid4().hex[:8]}"
    body = agency_file(sites, agency_id).replace("[[topics]]", "[[topic]]")  # a typo
    write_agency(sites.widget.instance, agency_id, body)
    page = no_js.new_page()
    failures = []
    page.on("requestfailed", lambda r: failures.append((r.url, r.failure)))
    page.goto(sites.host_page(agency_id))
    frame = page.frame_locator(FRAME)
    expect(frame.get_by_role("heading", name="Форма временно не работает")).to_be_visible()
    expect(frame.get_by_role("link", name="Перейти на Госуслуги")).to_be_visible()
    assert widget_frame(page).url == f"{sites.widget.url}/embed/{agency_id}"
    assert failures == []
    shoot(page, "broken")


def test_a_form_already_served_stays_up_after_a_broken_edit(no_js, sites, shoot):
    agency_id = f"browser-edited-{uuid.uuid4().hex[:8]}"
    good = agency_file(sites, agency_id)
    write_agency(sites.widget.instance, agency_id, good)
    page, text = no_js.new_page(), unique_text()
    page.goto(sites.host_page(agency_id))
    form = page.frame_locator(FRAME)
    expect(form.get_by_role("heading", name="Написать в организацию")).to_be_visible()
    # Staff save an edit with a colour that is not one; the citizen, unaware, reloads.
    write_agency(sites.widget.instance, agency_id, good.replace('"#1d6f42"', '"зелёный"'))
    page.reload()
    expect(form.get_by_role("heading", name="Написать в организацию")).to_be_visible()
    fill(form, text)
    form.get_by_role("button", name="Отправить").click()
    expect(form.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()
    shoot(page, "sent")
    (row,) = sites.widget.messages(text)
    assert row["agency_id"] == agency_id


def test_the_503_page_of_a_broken_english_form_is_in_english(no_js, sites):
    agency_id = f"browser-broken-en-{uuid.uuid4().hex[:8]}"
    body = agency_file(sites, agency_id).replace("[[topics]]", "[[topic]]")  # a typo
    write_agency(sites.widget.instance, agency_id, 'languages = ["en", "ru"]\n' + body)
    page = no_js.new_page()
    page.goto(sites.host_page(agency_id))
    frame = page.frame_locator(FRAME)
    heading = frame.get_by_role("heading", name="The form is not working at the moment")
    expect(heading).to_be_visible()
    expect(frame.locator("html")).to_have_attribute("lang", "en")
