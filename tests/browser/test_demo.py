"""The demo page (GET /demo): a fake agency site that shows the whole form in its iframe,
as the snippet page tells agencies to embed it, without a box to scroll inside."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from tests.browser.sites import DEMO_AGENCIES, serve
from widget import agencies, create_app

pytestmark = pytest.mark.browser

# The inner page's height against the frame's: a taller page scrolls inside the frame.
INNER = "() => [document.documentElement.scrollHeight, document.documentElement.clientHeight]"
# Where each element's content starts: its box's left edge plus its left padding.
CONTENT_LEFT = """(selectors) => selectors.map((selector) => {
  const element = document.querySelector(selector);
  const left = element.getBoundingClientRect().left;
  return Math.round(left + parseFloat(getComputedStyle(element).paddingLeft));
})"""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    instance = tmp_path_factory.mktemp("demo") / "instance"
    shutil.copytree(DEMO_AGENCIES, instance / "agencies")
    shutil.copytree(DEMO_AGENCIES.parent / "logos", instance / "logos")
    app = create_app({"demo": True, "ratelimit_pages": "100000 per minute"}, instance)
    server = serve(app)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("width", [1280, 360, 320])
@pytest.mark.parametrize("agency_id", agencies.all_ids(DEMO_AGENCIES))
def test_the_demo_frame_shows_the_whole_form(browser, demo_url, shoot, agency_id, width):
    """On a desktop and on the narrowest phones, the frame of the recommended height holds
    the whole form, "Отправить" included: nobody scrolls a box inside the agency's page."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": width, "height": 800}
    )
    page = context.new_page()
    page.goto(f"{demo_url}/demo/{agency_id}")
    frame = page.locator("iframe.demo__frame")
    send = frame.content_frame.get_by_role("button", name="Отправить")
    expect(send).to_be_attached()
    frame.scroll_into_view_if_needed()
    inner_height, frame_height = page.frames[1].evaluate(INNER)
    shoot(page, f"demo-{width}")
    assert inner_height <= frame_height, f"the form scrolls inside the frame: {inner_height} px"
    outer, button = frame.bounding_box(), send.bounding_box()
    assert button["y"] + button["height"] <= outer["y"] + outer["height"]
    # the header's text, the content and the footer's text start at one left edge
    lefts = page.evaluate(
        CONTENT_LEFT, [".site-header__name", "h1", ".demo__frame", ".site-footer p"]
    )
    assert len(set(lefts)) == 1, f"left edges: {lefts}"
    context.close()
