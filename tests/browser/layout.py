"""What "fits" means at the sizes a citizen reads at (WCAG 1.4.10 reflow, 1.4.4 resize
text): a 320 px phone and a 1280 px window at 200 % zoom, where nothing may stick out
sideways, so nobody has to scroll left and right to read or type."""

from __future__ import annotations

import pytest

# Each a browser context's keyword arguments.
PHONE = {"viewport": {"width": 320, "height": 640}, "device_scale_factor": 1}
# a 1280 × 800 window at 200 % zoom: 640 CSS pixels wide, two device pixels each
ZOOM_200 = {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}

SMALL = [pytest.param(PHONE, id="320px"), pytest.param(ZOOM_200, id="zoom200")]
EVERY = [pytest.param(DESKTOP, id="1280px"), *SMALL]

# Elements whose right edge is past the viewport, ignoring the visually hidden ones and
# the insides of a wide data table in its own scrolling box (.table-scroll, focusable):
# WCAG 1.4.10 excepts data tables, whose meaning needs their two dimensions; the box
# itself must fit.
STICKING_OUT = """() => {
  const skipped = '.visually-hidden, .skip-link, .table-scroll table';
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || el.closest(skipped)) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} [${Math.round(box.left)}, ` +
               `${Math.round(box.right)}] in ${width}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, out};
}"""


def assert_fits(page) -> None:
    found = page.evaluate(STICKING_OUT)
    assert found["out"] == [], f"sticks out sideways: {found['out']}"
    assert found["scrollWidth"] <= found["width"], f"scrolls sideways: {found}"
