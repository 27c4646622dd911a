"""What a field holds once it is read: blank is empty, whatever blank is made of, and the
single-line fields hold one line of visible text (issue 16, items 2 and 14)."""

from __future__ import annotations

import json
import re

import pytest

from tests.central import VALIDATOR
from tests.conftest import token_of, write_agency
from tests.forms import CITY, send, summary_links
from tests.outbox_db import rows

POLYCLINIC = "/embed/orel-polyclinic-1"
# Blank, as citizens and bots send it: spaces and newlines, a no-break space pasted from
# a web page, zero-width characters, a byte-order mark, a Hangul filler (a "letter" that
# shows as nothing, used to fake a filled name).
BLANKS = [" \n ", "\r\n\t", "\xa0\xa0", "\u200b", " \u200b\u2060\ufeff ", "\u3164", "\u200e"]
EVERY_FIELD_REQUIRED = """name = "МБУ «Библиотека № 3», г. Орёл"
region = "57"
routing_key = "57.culture.orel-library-3"

[contact]
name = "required"
email = "required"
phone = "required"
address = "required"

[[topics]]
id = "books"
title = "Книги"

[[topics]]
id = "other"
title = "Другое"
"""
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji: three joined by U+200D
FILLED = {
    "topic": "books",
    "text": "Верните, пожалуйста, абонемент.",
    "name": "Анна Сергеевна",
    "email": "anna@example.ru",
    "phone": "+7 900 123-45-67",
    "address": "г. Орёл, ул. Ленина, д. 1, кв. 2",
    "consent": "y",
}
REQUIRED_MESSAGE = {
    "topic": "Выберите тему сообщения",
    "text": "Напишите сообщение",
    "name": "Укажите имя",
    "email": "Укажите электронную почту",
    "phone": "Укажите телефон",
    "address": "Укажите адрес",
}


def event_of(app) -> dict:
    (row,) = rows(app)
    event = json.loads(row["event"])
    VALIDATOR.validate(event)  # what an intake that validates would do
    return event


@pytest.mark.parametrize("blank", BLANKS)
def test_a_blank_message_is_refused(client, app, blank):
    response = send(client, text=blank, email="ivan@example.ru", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert summary_links(html) == ["text"]
    assert "Напишите сообщение" in html
    assert rows(app) == []


@pytest.mark.parametrize("blank", ["  ", "\u200b", "\xa0", "\t"])
def test_a_blank_required_phone_is_refused(client, app, blank):
    response = send(
        client, POLYCLINIC, topic="service", phone=blank, email="ivan@example.ru", consent="y"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert summary_links(html) == ["phone"]
    assert "Укажите телефон" in html
    assert rows(app) == []


@pytest.mark.parametrize("field", list(REQUIRED_MESSAGE))
@pytest.mark.parametrize("blank", [" ", "\u200b\xa0", "\u3164"])
def test_every_field_blank_gets_its_own_required_error(client, app, instance, field, blank):
    write_agency(instance, "orel-library-3", EVERY_FIELD_REQUIRED)
    response = send(client, "/embed/orel-library-3", **{**FILLED, field: blank})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert summary_links(html) == [field]
    assert f"</span> {REQUIRED_MESSAGE[field]}</p>" in html  # not "in the format ..."
    assert rows(app) == []
    # filled in, the same message goes
    assert send(client, "/embed/orel-library-3", **FILLED).status_code == 303
    assert event_of(app)["data"]["contact"]["address"] == FILLED["address"]


def test_an_optional_field_of_invisible_characters_is_left_out(client, app):
    response = send(client, phone="\u200b\u200b", email="ivan@example.ru", name="\xa0", consent="y")
    assert response.status_code == 303
    assert event_of(app)["data"]["contact"] == {"email": "ivan@example.ru"}


def test_a_blank_contact_is_no_way_to_answer(client, app):
    response = send(client, email="\u200b", phone=" ", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="contact-error"' in html and "в формате" not in html
    assert rows(app) == []


@pytest.mark.parametrize(
    ("field", "typed", "kept"),
    [
        ("name", "Иван\u202eвортеП", "ИванвортеП"),  # reversed on screen by the override
        ("name", "Иван\r\nПетров", "Иван Петров"),
        ("name", "Мария\u200bИвановна", "МарияИвановна"),
        ("phone", "+7 900\n123-45-67", "+7 900 123-45-67"),
        ("phone", "\u202a+7 900 123-45-67\u202c", "+7 900 123-45-67"),  # copied from a messenger
        ("email", "ivan@example.ru\u200b", "ivan@example.ru"),
        ("email", "iv\u2066an@example.ru", "ivan@example.ru"),
    ],
)
def test_control_and_bidi_characters_are_taken_out_of_one_line_fields(
    client, app, field, typed, kept
):
    fields = {"email": "a@example.ru", "consent": "y", field: typed}
    response = send(client, **fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field in summary_links(html)
    assert "Мы убрали из этого поля переносы строк и невидимые символы" in html
    assert f'value="{kept}"' in html
    assert rows(app) == []
    # sent again as shown, it goes through with what the citizen saw
    again = send(client, token=token_of(html), **{**fields, field: kept})
    assert again.status_code == 303
    assert event_of(app)["data"]["contact"][field] == kept


def test_an_address_is_one_line_too(client, app):
    response = send(
        client, CITY, topic="roads", text="Яма.", address="ул. Ленина,\r\nд. 5\u202e", consent="y"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert summary_links(html) == ["address"]
    assert 'value="ул. Ленина, д. 5"' in html


def test_the_message_keeps_its_lines_and_emoji_but_loses_bidi_overrides(client, app):
    text = (
        f"Добрый день!\n\nВо дворе {FAMILY} играют дети, "
        "а машины ездят по тротуару.\n\u2066Спасибо\u2069"
    )
    response = send(client, text=text, email="a@example.ru", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert summary_links(html) == ["text"]
    assert "Мы убрали из сообщения невидимые символы, которые меняют направление текста" in html
    shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S).group(1)
    assert shown == text.replace("\u2066", "").replace("\u2069", "")
    again = send(client, token=token_of(html), text=shown, email="a@example.ru", consent="y")
    assert again.status_code == 303
    forwarded = event_of(app)["data"]["text"]
    assert forwarded == shown and "\n\n" in forwarded
    assert FAMILY in forwarded


def test_an_ordinary_message_with_typos_and_emoji_goes_through_untouched(client, app):
    text = (
        "Здраствуйте! В столовой опять холодный суп 🥶🥶, дети жалуются.\r\n"
        "Можно что-то сделать?? 🙏\r\nСпасибо."
    )
    response = send(client, text=text, name="Ольга", email="olga@example.ru", consent="y")
    assert response.status_code == 303
    assert event_of(app)["data"]["text"] == text.replace("\r\n", "\n")
