"""Keyboard only, from the agency's page into the iframe and out again: every control
is reached in the order it is read, each shows where the focus is, and Enter sends."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FRAME = "iframe[title='Форма обратной связи']"

# What has the focus, as "id" or "tag:text", and how it looks; the iframe when the
# focus is inside it.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const name = el.id || `${el.tagName.toLowerCase()}:${el.textContent.trim().slice(0, 30)}`;
  const s = getComputedStyle(el);
  return {name, frame: el.tagName === 'IFRAME', look: {
    outline: s.outlineStyle === 'none' || s.outlineWidth === '0px' ? 'none'
      : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
    shadow: s.boxShadow, background: s.backgroundColor, color: s.color}};
}"""
# How the same element looks when it does not have the focus.
UNFOCUSED = """(name) => {
  document.activeElement.blur();
  const [tag, text] = name.split(':');
  const el = document.getElementById(name) || [...document.querySelectorAll(tag)]
    .find(e => e.textContent.trim().startsWith(text));
  const s = getComputedStyle(el);
  return {outline: s.outlineStyle === 'none' || s.outlineWidth === '0px' ? 'none'
      : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
    shadow: s.boxShadow, background: s.backgroundColor, color: s.color};
}"""

WIDGET_ORDER = [
    "a:Официальное обращение по закон",  # the notice's link to the portal for formal appeals
    "topic",  # the radio group is one stop; arrows move within it
    "text",
    "name",
    "email",
    "phone",
    "consent",
    "a:Политика обработки персональны",  # the agency's policy, beside the consent
    "button:Отправить",
    "button:English",  # the language switch: posts the form back in English
]


def focused(page) -> dict | None:
    top = page.evaluate(FOCUSED)
    if top and top["frame"]:
        widget = next(f for f in page.frames if f.parent_frame is not None)
        inner = widget.evaluate(FOCUSED)
        return inner and {**inner, "in_widget": True}
    return top and {**top, "in_widget": False}


def tab(page, key: str = "Tab") -> dict | None:
    """Press Tab and return what has the focus once it has moved: into or out of a
    cross-site iframe the focus crosses processes, and that takes a moment."""
    before = focused(page)
    page.keyboard.press(key)
    deadline = time.monotonic() + 2
    now = focused(page)
    while (now is None or now == before) and time.monotonic() < deadline:
        time.sleep(0.02)
        now = focused(page)
    return now


def visible_change(focused_look: dict, unfocused_look: dict) -> bool:
    outline = focused_look["outline"]
    outline_shown = outline != "none" and "rgba(0, 0, 0, 0)" not in outline
    return (outline_shown and outline != unfocused_look["outline"]) or any(
        focused_look[k] != unfocused_look[k] for k in ("shadow", "background")
    )


SUMMARY_LINKS = [  # the error state's summary, for a form sent empty
    "Выберите тему сообщения",
    "Напишите сообщение",
    "Укажите электронную почту или телефон, чтобы получить ответ",
]


@pytest.mark.parametrize("state", ["form", "error"])
def test_tab_reaches_every_control_in_reading_order_with_a_visible_focus(
    no_js, sites, shoot, state
):
    page = no_js.new_page()
    page.goto(sites.host_page())
    expected = WIDGET_ORDER
    if state == "error":
        page.frame_locator(FRAME).get_by_role("button", name="Отправить").click()
        expect(page.frame_locator(FRAME).get_by_role("alert")).to_be_visible()
        expected = [f"a:{text[:30]}" for text in SUMMARY_LINKS] + WIDGET_ORDER
    page.locator("header a").focus()  # start on the agency's own first link
    stops = [focused(page)]
    for _ in range(len(expected) + 1):
        stops.append(tab(page))
        if stops[-1] and stops[-1]["in_widget"]:
            shoot(page.locator(FRAME), f"focus-{len(stops):02d}")

    names = [s["name"] if s else None for s in stops]
    assert names == ["a:Главная страница школы", *expected, "a:Контакты"]
    assert [s["in_widget"] for s in stops] == [False] + [True] * len(expected) + [False]

    widget = next(f for f in page.frames if f.parent_frame is not None)
    invisible = [
        s["name"]
        for s in stops[1:-1]
        if not visible_change(s["look"], widget.evaluate(UNFOCUSED, s["name"]))
    ]
    assert invisible == [], "focus must be visible (WCAG 2.4.7)"


def test_a_message_can_be_written_and_sent_with_the_keyboard_alone(no_js, sites, shoot):
    page, text = no_js.new_page(), f"Сломан замок в раздевалке, {uuid.uuid4().hex[:10]}."
    page.goto(sites.host_page())
    keys = page.keyboard
    for _ in range(3):  # the school's link, the portal link, the first topic
        tab(page)
    keys.press("ArrowDown")  # the second topic, chosen as it gets the focus
    tab(page)
    keys.type(text)
    tab(page)
    keys.type("Анна")
    tab(page)
    keys.type("anna@example.ru")
    tab(page)
    tab(page)
    keys.press("Space")  # the consent
    tab(page, "Shift+Tab")
    assert tab(page, "Shift+Tab")["name"] == "email"
    keys.press("Enter")  # sends the form from a text field, as people do

    form = page.frame_locator(FRAME)
    expect(form.get_by_role("heading", name="Сообщение отправлено")).to_be_visible()
    shoot(page, "done")
    (row,) = sites.widget.messages(text)
    assert row["topic_id"] == "lessons"
    receipt = form.locator(".receipt").inner_text()
    assert receipt == row["receipt"]
