"""A message as its citizen follows it: sent, answered by the central system (through
the outbox's real update path), its page read and its answer rated."""

from __future__ import annotations

import html as html_module
import re
import time
from urllib.parse import urlsplit

from tests.forms import send
from tests.updates import body_of, status_event
from widget import outbox, updates
from widget.outbox import updates as stored

# An answer as staff write them: paragraphs, a typo, an emoji, a link and markup that
# must stay text.
LONG_ANSWER = (
    "Здравствуйте, Иван Петрович!\n\n"
    "По вашему обращению проведена проверка столовой 3 декабря. Суп теперь подают "
    "горячим, повару сделанно замечание 🙏.\n"
    "Меню на неделю — на сайте школы: https://school57.example.ru/pitanie?week=49 "
    "(раздел <b>«Питание»</b>).\n\n"
    "Если вопрос не решён, позвоните завучу по телефону 8 (4862) 12-34-56.\n\n"
    "С уважением,\nадминистрация школы"
)


def sent(client, **fields) -> str:
    """The done URL (path and seal) of a new message to the school."""
    fields = {"email": "ivan.petrov@example.ru", "consent": "y", **fields}
    response = send(client, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def receipt_of(done: str) -> str:
    return urlsplit(done).path.rsplit("/", 1)[1]


def update(app, done: str, status: str = "answered", **data) -> None:
    """The central system's update of the message behind ``done``, taken as every
    intake takes one: parsed against the schema, then committed."""
    event = status_event(status, receipt=receipt_of(done), **data)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        stored.record(db, [updates.parse(body_of(event))], "http")
    finally:
        db.close()


def text_of(response) -> str:
    """What a reader sees of a page: its text, without tags, spaces joined."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<[^>]+>", " ", body)
    return " ".join(html_module.unescape(body).split())


def rating_token(client, done: str) -> str:
    page = client.get(done).get_data(as_text=True)
    form = page[page.index('id="rating"') :]
    return re.search(r'name="token" value="([^"]+)"', form).group(1)


def rate(client, done: str, token: str | None = None, **fields):
    """Post the rating form of ``done`` (its own token unless one is given)."""
    data = {"solved": "yes", "score": "5", "comment": "", "token": token}
    if token is None:
        data["token"] = rating_token(client, done)
    data.update(fields)
    return client.post(done, data={k: v for k, v in data.items() if v is not None})


def forward_all(app, transport) -> None:
    from widget import forwarder

    with forwarder.Forwarder(app.config["OUTBOX_PATH"], transport) as f:
        f.run_once(now=time.time() + 1)
