"""The done page says exactly how the answer will come, from the kinds of contact the
citizen gave; a name alone is no way to answer (issue 16, item 4)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

from tests.conftest import token_of
from tests.forms import CITY, SCHOOL, send, summary_links
from tests.outbox_db import rows
from widget import forwarder, tokens
from widget.transports import open_transport

NO_WAY = "поэтому ответ придёт только сюда"
OLD_PROMISE = "на почту или по телефону, если вы их указали"


def done_page(client, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return " ".join(page.get_data(as_text=True).split())


def test_an_anonymous_message_is_told_the_answer_comes_to_its_page(client):
    html = done_page(client, send(client, CITY, topic="roads", text="Яма у дома 5 на Ленина."))
    assert NO_WAY in html and OLD_PROMISE not in html
    assert "на этой странице: вы не указали почту, телефон или адрес" in html


def test_a_name_alone_is_no_way_to_answer(client):
    response = send(client, CITY, topic="roads", text="Не горит фонарь.", name="Пётр", consent="y")
    html = done_page(client, response)
    assert NO_WAY in html and OLD_PROMISE not in html


def test_the_page_names_the_one_way_given(client):
    html = done_page(client, send(client, email="ivan@example.ru", consent="y"))
    assert "ответит до" in html and "на почту, которую вы указали" in html
    html = done_page(client, send(client, phone="+7 900 123-45-67", name="Иван", consent="y"))
    assert "по телефону, который вы указали" in html and "почту" not in html.split("дальше")[1]


def test_the_page_names_every_way_given(client):
    response = send(
        client, CITY, topic="roads", text="Яма.", email="a@example.ru",
        address="г. Орёл, ул. Ленина, 5", consent="y",
    )  # fmt: skip
    html = done_page(client, response)
    assert "одним из способов, которые вы указали: на почту или письмом на адрес" in html


def test_the_english_page_says_it_in_english(client):
    html = done_page(client, send(client, SCHOOL + "?lang=en", email="a@example.ru", consent="y"))
    assert "by e-mail, to the address you gave" in html


def test_the_seal_carries_the_kinds_of_contact_never_their_values(client):
    response = send(client, email="ivan.petrov@example.ru", phone="+79001234567", consent="y")
    seal = parse_qs(urlsplit(response.headers["Location"]).query)["at"][0]
    payload = seal.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert json.loads(decoded)[-1] == ["email", "phone"]
    assert "ivan" not in decoded and "7900" not in decoded


def test_a_seal_made_before_it_carried_the_ways_still_opens(client, app):
    done = send(client, email="a@example.ru", consent="y").headers["Location"]
    path = urlsplit(done).path
    receipt = path.rsplit("/", 1)[1]
    with app.app_context():  # the seal as the previous version made it: four items
        old = tokens._serializer(tokens.DONE_SALT).dumps(
            ["orel-school-57", receipt, "food", "2026-03-01"]
        )
    page = client.get(f"{path}?at={old}")
    assert page.status_code == 200
    html = " ".join(page.get_data(as_text=True).split())
    assert (
        "Организация ответит до 31 марта 2026 г., если вы указали почту, телефон или адрес" in html
    )


def test_a_second_post_of_the_same_token_keeps_what_was_stored(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    first = send(client, token=token, email="a@example.ru", consent="y")
    again = send(client, token=token, phone="+7 900 123-45-67", consent="y")  # edited, resent
    assert receipt_of(first) == receipt_of(again) and len(rows(app)) == 1
    assert "на почту, которую вы указали" in done_page(client, again)


def test_the_same_token_posted_after_its_message_was_delivered_gets_its_receipt(client, app):
    """Back and Send again once the forwarder has sent the message on (under `make run`,
    seconds later): the stored copy keeps no contact data by then, yet the citizen gets
    the same receipt and the page still says how the answer will come."""
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    first = send(client, token=token, email="a@example.ru", consent="y")
    transport = open_transport(app.config["QUEUE_URL"])
    assert forwarder.Forwarder(app.config["OUTBOX_PATH"], transport).run_once().delivered == 1
    again = send(client, token=token, email="a@example.ru", consent="y")
    assert again.status_code == 303 and receipt_of(first) == receipt_of(again)
    assert "на почту, которую вы указали" in done_page(client, again)


def receipt_of(response) -> str:
    return urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1]


def test_a_decoy_promises_what_a_real_page_would(client, app):
    html = done_page(
        client, send(client, website="http://spam.example", email="a@b.ru", consent="y")
    )
    assert "на почту, которую вы указали" in html
    assert rows(app) == []


def test_without_a_way_to_answer_the_error_sits_on_the_contact_fieldset(client, app):
    response = send(client, name="Иван", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    message = "Укажите электронную почту или телефон, чтобы получить ответ"
    assert summary_links(html) == ["email"]  # the first field that would do
    fieldset = re.search(r"<fieldset[^>]*\bid=\"contact\"[^>]*>", html).group(0)
    assert 'aria-describedby="contact-hint contact-error"' in fieldset
    assert re.search(rf'<p id="contact-error" class="error-message">.*{message}</p>', html)
    assert 'id="name-error"' not in html and 'value="Иван"' in html
    assert "укажите электронную почту или телефон." in html  # the hint names them too
    assert rows(app) == []
