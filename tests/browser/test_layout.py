"""Usable on a small phone and at 200 % zoom (WCAG 1.4.10 reflow, 1.4.4 resize text):
nothing sticks out sideways, so nobody has to scroll left and right to read or type."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.layout import SIZES, assert_fits
from tests.browser.sites import TEST_AGENCY

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["f", "embed"])
def test_every_state_of_the_form_fits_without_sideways_scrolling(browser, sites, shoot, size, kind):
    context = browser.new_context(java_script_enabled=False, **size)
    page = context.new_page()
    page.goto(f"{sites.widget.url}/{kind}/{TEST_AGENCY}")
    expect(page.get_by_role("button", name="Отправить")).to_be_visible()
    assert_fits(page)
    shoot(page, "form")

    page.get_by_label("Ваше сообщение").fill("Очень-длинное-слово-без-пробелов-" * 8)
    page.get_by_label("Электронная почта").fill("not-an-email")
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_fits(page)
    shoot(page, "error")

    page.get_by_label("Питание").check()
    page.get_by_label("Электронная почта").fill("parent@example.ru")
    page.get_by_label("Даю согласие").check()
    page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()
    assert_fits(page)
    shoot(page, "done")
    context.close()


def test_the_pasted_snippet_is_tall_enough_for_the_form(with_js, sites, shoot):
    """The snippet's recommended height holds the whole form at the narrowest phone's
    width, so a citizen never scrolls inside the frame, and wastes little of the agency's
    page there (wider screens get more room below the button: docs/agency-tools.md)."""
    page = with_js.new_page()
    page.set_viewport_size({"width": 320, "height": 900})
    page.goto(f"{sites.host}/pasted/{TEST_AGENCY}")
    frame = page.locator("iframe")
    expect(frame.content_frame.get_by_role("button", name="Отправить")).to_be_visible()
    shoot(page, "pasted-snippet")
    outer = frame.bounding_box()["height"]
    # the form's own height (not scrollHeight: that is never less than the frame's)
    inner = next(f for f in page.frames if f.parent_frame).evaluate(
        "Math.ceil(document.body.getBoundingClientRect().bottom)"
    )
    assert inner <= outer <= inner * 1.25, (outer, inner)
