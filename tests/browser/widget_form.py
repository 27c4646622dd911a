"""The widget's form inside the host page, and a citizen filling it in."""

from __future__ import annotations

import uuid

FRAME = "iframe[title='Форма обратной связи']"


def unique_text() -> str:
    return f"В столовой холодный суп, проверка {uuid.uuid4().hex[:10]}."


def fill(form, text: str, topic: str | None = "Питание", consent: bool = True) -> None:
    if topic:
        form.get_by_label(topic).check()
    form.get_by_label("Ваше сообщение").fill(text)
    form.get_by_label("Электронная почта").fill("parent@example.ru")
    if consent:
        form.get_by_label("Даю согласие").check()


def widget_frame(page):
    return next(f for f in page.frames if f.parent_frame is not None)
