"""Reflow checks shared by the browser tests: a 320 px phone and 200 % zoom (WCAG 1.4.10
reflow, 1.4.4 resize text), and what sticks out sideways."""

from __future__ import annotations

import pytest

SIZES = [
    # a 320 px wide phone
    pytest.param({"viewport": {"width": 320, "height": 640}, "device_scale_factor": 1}, id="320px"),
    # a 1280 × 800 window at 200 % zoom: 640 CSS pixels wide, two device pixels each
    pytest.param(
        {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}, id="zoom200"
    ),
]

# Elements whose right edge is past the viewport, ignoring the visually hidden ones.
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || el.closest('.visually-hidden, .skip-link')) continue;
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
