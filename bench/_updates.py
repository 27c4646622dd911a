"""``feedback.status.v1`` events as the central system sends them, for the benchmarks
of the message's page and of the listener (bench/answers.py, bench/listener.py)."""

from __future__ import annotations

import json
import uuid

from bench._compare import AGENCY

# An answer as staff write them: several paragraphs, a typo, an emoji, a link and markup
# that must stay text (about 1,400 characters).
ANSWER = (
    "Здравствуйте!\n\n"
    "По вашему обращению о горячей воде в столовой на втором этаже сообщаем: 3 декабря "
    "проведена проверка, в ходе которой выяснилось, что неисправен водонагреватель. "
    "Заявка на ремонт передана в управление образования, мастер приходил 5 декабря, "
    "водонагреватель заменён. Горячая вода есть с 6 декабря, повару и завхозу сделанно "
    "замечание о том, что о неисправности нужно было сообщить сразу 🙏.\n\n"
    "Мы также проверили, как в столовой моют посуду и руки: нарушений не найдено. Журнал "
    "температуры воды теперь заполняется дважды в день, его можно посмотреть у дежурного "
    "администратора.\n"
    "Меню на неделю и график работы столовой — на сайте школы: "
    "https://school57.example.ru/pitanie?week=49 (раздел <b>«Питание»</b>).\n\n"
    "Если горячей воды снова не будет, сообщите, пожалуйста, дежурному администратору "
    "или позвоните завучу по хозяйственной части по телефону 8 (4862) 12-34-56, "
    "с 8:00 до 16:00 по будним дням.\n\n"
    "Спасибо, что написали: без вашего сообщения мы узнали бы об этом позже.\n\n"
    "С уважением,\nадминистрация школы № 57"
)


def status_event(receipt: str, status: str, time: str, **data) -> dict:
    """A valid update of ``receipt``; ``data`` adds fields to its ``data``."""
    fields = {"receipt": receipt, "agency_id": AGENCY, "status": status, **data}
    if status == "answered":
        fields.setdefault("answer", ANSWER)
        fields.setdefault("answered_by", "Администрация школы")
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "feedback.status.v1",
        "source": "/central/57",
        "subject": receipt,
        "time": time,
        "datacontenttype": "application/json",
        "data": fields,
    }


def answered_history(receipt: str) -> list[dict]:
    """A message's updates from receipt to answer, in the order they happened."""
    return [
        status_event(receipt, "received", "2026-12-01T09:30:00+03:00"),
        status_event(
            receipt, "in_progress", "2026-12-02T11:00:00+03:00", note="Передано завхозу школы"
        ),
        status_event(receipt, "answered", "2026-12-08T15:04:05+03:00"),
    ]


def body_of(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()
