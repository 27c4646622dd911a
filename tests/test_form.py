"""The citizen's path: open the form, write, send, get a receipt. And every way
of getting it wrong, each with a clear answer and nothing stored twice."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import g

from tests.conftest import CheckedClient, receipt_in, token_of, write_agency
from tests.forms import CITY, SCHOOL, send, summary_links
from tests.outbox_db import rows
from widget import create_app, forms


def test_the_form_shows_the_agencys_topics_and_contact_fields(client):
    html = client.get(SCHOOL).get_data(as_text=True)
    for title in ("Питание", "Учёба и расписание", "Здание и территория", "Другое"):
        assert title in html
    for name in ("topic", "text", "name", "email", "phone", "consent", "website", "token"):
        assert f'name="{name}"' in html
    assert 'name="address"' not in html  # hidden in the base
    assert "novalidate" in html


def test_required_contact_fields_are_not_marked_optional(client):
    html = client.get("/embed/orel-polyclinic-1").get_data(as_text=True)
    label = re.search(r'<label class="label" for="phone">(.*?)</label>', html, re.S).group(1)
    assert "необязательно" not in label
    label = re.search(r'<label class="label" for="email">(.*?)</label>', html, re.S).group(1)
    assert "необязательно" in label


def test_a_message_is_stored_once_and_a_receipt_shown(client, app):
    response = send(client, email="ivan@example.ru", consent="y")
    assert response.status_code == 303
    done = response.headers["Location"]
    assert re.fullmatch(r"/embed/orel-school-57/done/[0-9A-Z]{4}-[0-9A-Z]{4}\?at=[\w.-]+", done)
    page = client.get(done)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    receipt = receipt_in(done)
    assert receipt in html
    assert "Питание" in html and "Организация ответит до" in html
    (row,) = rows(app)
    assert row["receipt"] == receipt and row["status"] == "pending"
    assert row["agency_id"] == "orel-school-57" and row["topic_id"] == "food"


def test_the_done_page_opens_through_another_instance(client, app, tmp_path):
    """Behind a front with two instances, the redirect after Send may reach the one whose
    outbox does not hold the message: it shows the same page, from the sealed URL."""
    done = send(client, topic="building", email="a@example.ru", consent="y").headers["Location"]
    here = client.get(done).get_data(as_text=True)
    other_instance = tmp_path / "other"
    shutil.copytree(app.instance_path + "/agencies", other_instance / "agencies")
    other = create_app({"secret_key": app.config["SECRET_KEY"]}, instance_path=other_instance)
    other.test_client_class = CheckedClient
    page = other.test_client().get(done)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert receipt_in(done) in html and "Здание и территория" in html
    promise = re.search(r"Организация ответит до [^<]+ на почту, которую вы указали\.", here)
    assert promise.group(0) in html  # the same date and the same way, from the seal
    switch = re.search(r'href="([^"]+)" lang="en"', html).group(1).replace("&amp;", "&")
    there = other.test_client()
    assert "at=" in switch and there.get(switch).status_code == 200  # English keeps the seal
    # Without the seal, or with a seal made for another receipt, the other one cannot tell.
    path, seal = urlsplit(done).path, parse_qs(urlsplit(done).query)["at"][0]
    assert there.get(path).status_code == 404
    another = "ABCD-EFGH" if receipt_in(done) != "ABCD-EFGH" else "ABCD-EFGK"
    assert there.get(f"/embed/orel-school-57/done/{another}?at={seal}").status_code == 404
    receipt = receipt_in(done)
    assert there.get(f"/embed/orel-polyclinic-1/done/{receipt}?at={seal}").status_code == 404
    assert there.get(f"/f/orel-school-57/done/{receipt}?at={seal}").status_code == 200
    forged = seal[:-3] + ("xxx" if not seal.endswith("xxx") else "yyy")
    assert there.get(f"{path}?at={forged}").status_code == 404


def test_the_done_page_shows_the_topics_own_deadline(client, app):
    response = send(client, topic="building", email="a@example.ru", consent="y")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    created = rows(app)[0]["created_at"]
    import datetime

    due = datetime.datetime.fromtimestamp(created, datetime.UTC).date() + datetime.timedelta(14)
    assert str(due.year) in html
    months = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ]
    assert f"{due.day} {months[due.month - 1]} {due.year}" in html


def test_the_same_token_twice_gives_one_message_and_the_same_receipt(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    first = send(client, token=token, email="a@example.ru", consent="y")
    second = send(client, token=token, email="a@example.ru", consent="y")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(rows(app)) == 1


def test_each_page_view_gets_its_own_token(client):
    assert token_of(client.get(SCHOOL).get_data(as_text=True)) != token_of(
        client.get(SCHOOL).get_data(as_text=True)
    )


def test_a_missing_message_is_explained_and_linked(client, app):
    response = send(client, text="", email="a@example.ru", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r"<title>Ошибка: ", html)
    assert summary_links(html) == ["text"]
    assert "Напишите сообщение" in html
    assert 'aria-describedby="text-hint text-error"' in html
    assert rows(app) == []


def test_what_was_typed_is_kept_after_an_error(client):
    html = send(client, topic="", email="kept@example.ru", consent="y").get_data(as_text=True)
    assert 'value="kept@example.ru"' in html
    assert "В столовой холодный суп." in html
    assert summary_links(html) == ["topic"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"topic": "no-such-topic"}, "topic", "Выберите тему из списка"),
        ({"text": "я" * 5001}, "text", "не длиннее 5000 символов"),
        ({"email": "not-an-email"}, "email", "в формате name@example.ru"),
        ({"phone": "позвоните мне"}, "phone", "Укажите номер телефона"),
        ({"phone": "12"}, "phone", "Укажите номер телефона"),
        ({"name": "Иван", "consent": None}, "consent", "Отметьте согласие"),
        ({"email": None, "consent": None}, "email", "Укажите электронную почту или телефон"),
        ({"text": "привет\x00мир\x07"}, "text", "недопустимые символы"),
        ({"name": "Иван\x1b[31m"}, "name", "недопустимые символы"),
        ({"name": "x" * 201}, "name", "Слишком длинное"),
    ],
)
def test_bad_fields_get_the_form_again_with_a_clear_error(client, app, fields, field, message):
    data = {"email": "a@example.ru", "consent": "y", **fields}
    response = send(client, **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field in summary_links(html)
    assert message in html
    assert rows(app) == []


def test_a_required_contact_field_must_be_filled(client, app):
    response = send(
        client, "/embed/orel-polyclinic-1", topic="service", email="a@example.ru", consent="y"
    )
    assert response.status_code == 422
    assert summary_links(response.get_data(as_text=True)) == ["phone"]


def test_an_anonymous_message_needs_no_contact_and_no_consent(client, app):
    response = send(client, CITY, topic="roads", text="Яма на улице Ленина.")
    assert response.status_code == 303
    (row,) = rows(app)
    assert '"consent": null' in row["event"]
    assert '"contact": {}' in row["event"]


def test_the_consent_record_travels_with_the_message(client, app):
    send(client, name="Мария", email="m@example.ru", consent="y")
    import json

    event = json.loads(rows(app)[0]["event"])
    consent = event["data"]["consent"]
    # the base's wording, filled in with this agency's fields and name (docs/agencies.md)
    assert consent["version"].startswith("orel-2026-01-")
    assert re.fullmatch(r"[0-9a-f]{64}", consent["text_sha256"])
    assert event["data"]["contact"] == {"name": "Мария", "email": "m@example.ru"}


def test_invalid_utf8_is_refused_without_a_crash(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    body = b"topic=food&email=a%40example.ru&consent=y&token=" + token.encode() + b"&text=%FF%FE%FA"
    response = client.post(SCHOOL, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "Запрос не удалось прочитать" in response.get_data(as_text=True)
    assert rows(app) == []


def test_raw_bytes_that_are_not_utf8_are_refused_without_a_crash(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    body = "topic=food&email=a%40example.ru&consent=y&token=" + token + "&text="
    response = client.post(
        SCHOOL,
        data=body.encode() + "текст".encode("cp1251"),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert rows(app) == []


def test_a_percent_sign_typed_by_a_citizen_is_kept(client, app):
    # werkzeug shows undecodable bytes as literal %XX: typed ones must not look so
    text = "Тариф вырос на 50%, в квитанции написано %D0%FF"
    response = send(client, email="a@example.ru", consent="y", text=text)
    assert response.status_code == 303
    assert json.loads(rows(app)[0]["event"])["data"]["text"] == text


def test_bad_characters_are_not_echoed_back(client):
    html = send(client, text="abc\x00def", email="a@example.ru", consent="y").get_data(as_text=True)
    assert "abcdef</textarea>" in html


def test_a_body_over_the_limit_gets_the_413_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = send(client, text="я" * 20_000)
    assert response.status_code == 413
    assert "Слишком много данных" in response.get_data(as_text=True)
    assert rows(app) == []


def test_the_honeypot_is_answered_like_a_success_and_stores_nothing(client, app):
    response = send(client, website="http://spam.example", email="a@example.ru", consent="y")
    assert response.status_code == 303
    done = client.get(response.headers["Location"])
    assert done.status_code == 200
    assert "Сообщение отправлено" in done.get_data(as_text=True)
    assert rows(app) == []


def test_a_made_up_receipt_is_not_found(client, app):
    assert client.get(SCHOOL + "/done/ABCD-EFGH").status_code == 404
    assert client.get(SCHOOL + "/done/not-a-receipt").status_code == 404


def test_a_receipt_is_shown_only_under_its_own_agency(client):
    done = send(client, email="a@example.ru", consent="y").headers["Location"]
    receipt = receipt_in(done)
    assert client.get(f"/embed/orel-polyclinic-1/done/{receipt}").status_code == 404


def test_a_receipt_typed_by_hand_is_understood(client):
    done = send(client, email="a@example.ru", consent="y").headers["Location"]
    receipt = receipt_in(done)
    assert client.get(f"{SCHOOL}/done/{receipt.lower().replace('-', '')}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/embed/unknown-agency",
        "/embed/X",
        "/embed/..%2fsettings",
        "/embed/_bases",
        "/embed/a",
        "/embed/" + "a" * 65,
        "/f/orel-school-57.toml",
        "/embed/%00abc",
    ],
)
def test_unknown_or_malformed_agencies_get_the_404_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Страница не найдена" in response.get_data(as_text=True)


def test_a_broken_agency_file_breaks_that_agency_alone(client, instance):
    write_agency(instance, "broken-school", 'name = "Школа"\nregion = "57"\ntopics = "oops"\n')
    response = client.get("/embed/broken-school")
    assert response.status_code == 503
    assert "Форма временно не работает" in response.get_data(as_text=True)
    assert client.get(SCHOOL).status_code == 200


def test_an_edited_agency_file_is_served_without_a_restart(client, instance):
    path = instance / "agencies" / "orel-school-57.toml"
    path.write_text(path.read_text().replace("Питание", "Школьное питание"))
    write_agency(instance, "orel-school-57", path.read_text())
    assert "Школьное питание" in client.get(SCHOOL).get_data(as_text=True)


def test_a_deleted_agency_file_stops_being_served(client, instance):
    assert client.get(SCHOOL).status_code == 200
    (instance / "agencies" / "orel-school-57.toml").unlink()
    assert client.get(SCHOOL).status_code == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, 303),
    ],
)
def test_a_post_from_another_site_is_refused(client, app, headers, status):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    data = {
        "topic": "food",
        "text": "Текст",
        "token": token,
        "email": "a@example.ru",
        "consent": "y",
    }
    response = client.post(SCHOOL, data=data, headers=headers)
    assert response.status_code == status
    assert len(rows(app)) == (1 if status == 303 else 0)


def test_a_wrong_method_gets_the_405_page(client):
    response = client.put(SCHOOL)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_a_forged_token_gets_the_form_again_with_a_fresh_token(client, app):
    response = send(client, token="forged.token", email="kept@example.ru", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Не получилось отправить форму" in html
    assert 'value="kept@example.ru"' in html
    fresh = token_of(html)
    assert fresh != "forged.token"
    assert send(client, token=fresh, email="kept@example.ru", consent="y").status_code == 303
    assert len(rows(app)) == 1


def test_a_token_from_another_agency_is_refused(client, app):
    token = token_of(client.get("/embed/orel-polyclinic-1").get_data(as_text=True))
    response = send(client, token=token, email="a@example.ru", consent="y")
    assert response.status_code == 422
    assert rows(app) == []


@pytest.mark.parametrize("kind", ["embed", "f"])
def test_both_channels_accept_messages(client, app, kind):
    response = send(client, f"/{kind}/orel-school-57", email="a@example.ru", consent="y")
    assert response.headers["Location"].startswith(f"/{kind}/orel-school-57/done/")
    import json

    channel = json.loads(rows(app)[0]["event"])["data"]["channel"]
    assert channel == {"embed": "embed", "f": "page"}[kind]


def test_the_standalone_page_carries_link_preview_tags(client):
    html = client.get("/f/orel-school-57").get_data(as_text=True)
    assert '<meta property="og:title" content="Школа № 57: напишите нам">' in html
    assert 'property="og:description"' in html and 'name="twitter:card"' in html
    assert 'property="og:url" content="http://localhost/f/orel-school-57"' in html


def test_the_agency_stylesheet_carries_its_accent_and_caches(client):
    response = client.get("/theme/orel-school-57.css?v=1")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "#1d6f42" in response.get_data(as_text=True)
    assert "max-age=31536000" in response.headers["Cache-Control"]
    again = client.get(
        "/theme/orel-school-57.css?v=1", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("lang", "message"), [("ru", "Неверный вариант."), ("en", "Not a valid choice.")]
)
def test_wtforms_own_messages_follow_the_page_language(app, lang, message):
    # WTForms' catalogues are cached per process: each language must keep its own
    with app.test_request_context():
        g.lang = lang
        messages = forms.FeedbackForm.Meta().get_translations(None)
        assert messages.gettext("Not a valid choice.") == message


def test_a_head_request_is_answered_like_the_page_and_sends_nothing(client, app):
    """Link checkers and link-preview bots ask with HEAD: they get the page's headers,
    and use up none of the address's submissions."""
    for path in (SCHOOL, CITY):
        page = client.get(path)
        for _ in range(10):  # twice an agency's per-address limit of submissions
            head = client.head(path)
            assert head.status_code == 200 and head.data == b""
            assert head.headers["Content-Type"] == page.headers["Content-Type"]
            csp = head.headers["Content-Security-Policy"]
            assert csp == page.headers["Content-Security-Policy"]
    assert send(client, email="ivan@example.ru", consent="y").status_code == 303
    assert len(rows(app)) == 1
