"""The message's page (the done URL): the receipt, the status and its history, the
answer as plain text; the status page by receipt alone, which never shows the answer;
robots.txt and noindex."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.answers import LONG_ANSWER, forward_all, rate, receipt_of, sent, text_of, update
from widget.transports import open_transport


def test_a_new_message_says_save_this_link_near_the_top(client):
    done = sent(client)
    response = client.get(done)
    html = response.get_data(as_text=True)
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert html.index("Сохраните эту ссылку") < html.index("Статус: Получено")
    address = re.search(r'id="address" type="text" readonly value="([^"]+)"', html).group(1)
    assert address.replace("&amp;", "&") == "http://localhost" + done


def test_an_anonymous_message_is_told_the_answer_comes_to_this_page(client):
    response = client.post(
        "/f/orel-city-admin",
        data={
            "topic": "roads", "text": "Яма у дома 5 на Ленина, объехать нельзя 😡",
            "token": re.search(
                r'name="token" value="([^"]+)"', client.get("/f/orel-city-admin").get_data(True)
            ).group(1),
        },
    )  # fmt: skip
    page = text_of(client.get(response.headers["Location"]))
    assert "ответит до" in page and "на этой странице" in page
    assert "вы не указали почту, телефон или адрес, поэтому ответ придёт только сюда" in page


def test_the_answer_is_text_with_its_line_breaks_and_no_links(client, app):
    done = sent(client)
    update(app, done, "in_progress", time="2026-12-02T09:00:00+03:00", note="Передано завучу")
    update(
        app, done, "answered", time="2026-12-03T10:15:00+03:00", answer=LONG_ANSWER,
        answered_by="Администрация школы",
    )  # fmt: skip
    html = client.get(done).get_data(as_text=True)
    assert "<b>" not in html and "&lt;b&gt;«Питание»&lt;/b&gt;" in html
    assert 'href="https://school57' not in html  # a link in an answer is no link
    assert "https://school57.example.ru/pitanie?week=49" in html
    assert html.count('class="answer__text"') == 4  # its paragraphs
    assert "горячим, повару сделанно замечание 🙏.\nМеню" in html  # its line breaks
    page = text_of(client.get(done))
    assert "Статус: Дан ответ" in page and "Кто ответил: Администрация школы" in page
    assert "Ссылки в ответах показаны как текст" in page
    history = page[page.index("История") :]
    assert history.index("2 декабря 2026 г. — Рассматривается Передано завучу") < history.index(
        "3 декабря 2026 г. — Дан ответ"
    )


def test_an_extended_deadline_and_a_redirect_are_shown(client, app):
    done = sent(client)
    update(app, done, "in_progress", time="2026-12-02T09:00:00+03:00", answer_by="2027-01-20")
    update(app, done, "redirected", time="2026-12-05T09:00:00+03:00")
    page = text_of(client.get(done))
    assert "Ответ до 20 января 2027 г. (срок продлён)" in page
    assert "Статус: Передано в другую организацию" in page
    assert "Передано в другую организацию: Управление образования г. Орла" in page
    assert "Отправить оценку" not in page  # no answer to rate


def test_updates_arriving_out_of_order_and_twice_show_once_in_time_order(client, app):
    done = sent(client)
    update(app, done, "answered", id="4a1e3c2e-0000-4000-8000-000000000002",
           time="2026-12-03T10:15:00+03:00")  # fmt: skip
    update(app, done, "in_progress", id="4a1e3c2e-0000-4000-8000-000000000001",
           time="2026-12-02T09:00:00+03:00")  # fmt: skip
    update(app, done, "in_progress", id="4a1e3c2e-0000-4000-8000-000000000001",
           time="2026-12-02T09:00:00+03:00")  # fmt: skip
    page = text_of(client.get(done))
    assert page.count("— Рассматривается") == 1 and "Статус: Дан ответ" in page


def test_the_english_page_says_it_in_english(client, app):
    done = sent(client)
    update(app, done, "answered")
    path, query = urlsplit(done).path, urlsplit(done).query
    page = text_of(client.get(f"{path}?lang=en&{query}"))
    assert "Save this link" in page and "Status: Answered" in page
    assert "Was your question solved?" in page


def test_without_its_seal_the_page_shows_no_answer(client, app):
    done = sent(client)
    update(app, done, "answered")
    page = text_of(client.get(urlsplit(done).path))
    assert "Статус: Дан ответ" in page and "суп теперь подают горячим" not in page
    assert "Сохраните эту ссылку" not in page and "Отправить оценку" not in page
    assert client.post(urlsplit(done).path, data={"solved": "yes"}).status_code == 404


# -- the status page, by receipt alone ------------------------------------------------


def status_of(client, typed: str, surface: str = "embed"):
    return client.get(f"/{surface}/orel-school-57/status", query_string={"receipt": typed})


def test_the_status_page_asks_for_a_receipt(client):
    response = client.get("/embed/orel-school-57/status")
    assert response.status_code == 200 and response.headers["X-Robots-Tag"].startswith("noindex")
    html = response.get_data(as_text=True)
    assert '<label class="label label--bold" for="receipt">Номер сообщения</label>' in html


@pytest.mark.parametrize("typed", ["ABCD", "K7M2-9QXD-1", "ыыыы-ыыыы"])
def test_a_receipt_that_is_no_receipt_gets_a_clear_404(client, typed):
    response = status_of(client, typed)
    assert response.status_code == 404
    page = text_of(response)
    assert "Ошибка:" in page and "8 букв и цифр" in page
    assert f'value="{typed}"' in response.get_data(as_text=True)  # kept, to correct


def test_an_unknown_receipt_says_what_to_check(client):
    response = status_of(client, "K7M2-9QXD")
    assert response.status_code == 404
    assert "Сообщение с номером K7M2-9QXD не найдено. Проверьте номер и организацию" in text_of(
        response
    )


def cyrillic_typing(receipt: str) -> str:
    """The receipt as typed on a Russian keyboard: look-alikes, lower case, spaces."""
    looks = str.maketrans("ABEKMHOPCTX", "АВЕКМНОРСТХ")
    typed = receipt.translate(looks).lower()
    return f" {typed[:2]} {typed[2:4]}–{typed[5:]} ".replace("–", " - ")


def test_the_status_shows_dates_never_the_answer(client, app):
    done = sent(client)
    update(app, done, "answered", answer=LONG_ANSWER, answer_by="2027-01-20")
    assert rate(client, done, solved="no", score="1", comment="Не помогло 😞").status_code == 303
    receipt = receipt_of(done)
    for typed in (receipt, receipt.lower().replace("-", ""), cyrillic_typing(receipt)):
        response = status_of(client, typed, "f")
        assert response.status_code == 200, typed
        page = text_of(response)
        assert f"Сообщение № {receipt}: Дан ответ" in page
        assert "20 января 2027 г. (срок продлён)" in page
        for secret in ("Иван Петрович", "горячим", "Не помогло", "Администрация", "оценк"):
            assert secret not in page, secret


def test_robots_keep_crawlers_off_messages_and_status_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    rules = response.get_data(as_text=True).splitlines()
    for rule in ("/embed/*/done/", "/f/*/done/", "/embed/*/status", "/f/*/status"):
        assert f"Disallow: {rule}" in rules
    assert "Disallow: /embed/" not in rules and "Disallow: /f/" not in rules
    assert "X-Robots-Tag" not in client.get("/f/orel-school-57").headers  # previews need it


# -- what a receipt or a link gives away ------------------------------------------------


def test_a_seal_of_another_message_or_a_forged_one_shows_no_answer(client, app):
    mine, theirs = sent(client), sent(client, text="Во дворе школы не убран снег ❄️")
    update(app, mine, "answered", answer=LONG_ANSWER)
    seal = urlsplit(theirs).query  # at=<the other message's seal>
    forged = urlsplit(mine).query[:-3] + "xyz"
    for query in (seal, forged):
        response = client.get(f"{urlsplit(mine).path}?{query}")
        page = text_of(response)
        assert "Статус: Дан ответ" in page, query
        assert "Иван Петрович" not in page and "Отправить оценку" not in page
        assert client.post(f"{urlsplit(mine).path}?{query}", data={}).status_code == 404


def test_a_receipt_alone_shows_no_note_staff_wrote(client, app):
    """A note is free text for the citizen: like the answer, only their link shows it."""
    done = sent(client)
    note = "Иван Петрович, перезвоните завучу по номеру 8 (4862) 12-34-56"
    update(app, done, "in_progress", note=note, answer_by="2027-01-20")
    assert note in text_of(client.get(done))
    unsealed = text_of(client.get(urlsplit(done).path))
    by_receipt = text_of(client.get(f"/f/orel-school-57/status?receipt={receipt_of(done)}"))
    for page in (unsealed, by_receipt):
        assert "Рассматривается" in page and "20 января 2027 г." in page
        assert "Иван Петрович" not in page and "12-34-56" not in page


def test_every_private_page_says_noindex_its_errors_too(client, app):
    done = sent(client)
    update(app, done, "answered")
    path = urlsplit(done).path
    answers = {
        "the page": client.get(done),
        "without its seal": client.get(path),
        "an unknown receipt": client.get("/f/orel-school-57/done/K7M2-9QXD"),
        "a rating with nothing chosen": client.post(done, data={"token": "x"}),
        "the status page": client.get(f"/f/orel-school-57/status?receipt={receipt_of(done)}"),
        "an unknown status": client.get("/f/orel-school-57/status?receipt=K7M2-9QXD"),
    }
    assert {what: r.status_code for what, r in answers.items()} == {
        "the page": 200,
        "without its seal": 200,
        "an unknown receipt": 404,
        "a rating with nothing chosen": 422,
        "the status page": 200,
        "an unknown status": 404,
    }
    for what, response in answers.items():
        assert response.headers.get("X-Robots-Tag") == "noindex, nofollow", what


def test_no_answer_note_or_comment_in_logs_or_metrics(client, app, caplog, tmp_path):
    caplog.set_level("DEBUG")
    done = sent(client)
    update(app, done, "in_progress", note="Передано Марье Ивановне, завучу")
    update(app, done, "answered", answer=LONG_ANSWER, answered_by="Администрация школы")
    client.get(done)
    assert (
        rate(client, done, solved="no", score="1", comment="Суп всё ещё холодный 😞").status_code
        == 303
    )
    assert rate(client, done, token="forged", solved="no", score="9").status_code == 422
    forward_all(app, open_transport(f"spool:{tmp_path / 'central'}"))
    said = caplog.text + client.get("/metrics").get_data(as_text=True)
    for secret in ("Иван Петрович", "Марье Ивановне", "холодный", "горячим"):
        assert secret not in said, secret


def test_a_page_kept_between_visits_changes_with_each_update_and_rating(client, app):
    # the page is rendered once and kept while its facts stay the same (pages.py): each
    # visit still gets a token of its own, and a new update or rating shows at once
    done = sent(client)
    update(app, done, "in_progress", time="2026-12-02T09:00:00+03:00")
    assert "Статус: Рассматривается" in text_of(client.get(done))
    update(app, done, "answered", time="2026-12-03T10:15:00+03:00", answer=LONG_ANSWER)
    first, second = (client.get(done).get_data(as_text=True) for _ in range(2))
    token = re.compile(r'name="token" value="([^"]+)"')
    assert token.search(first).group(1) != token.search(second).group(1)
    assert token.sub("", first) == token.sub("", second)  # the rest is the same page
    assert "Статус: Дан ответ" in text_of(client.get(done))
    english = text_of(client.get(f"{done}&lang=en"))
    assert "Status: Answered" in english, english
    assert rate(client, done, solved="partly", score="4").status_code == 303
    page = text_of(client.get(done))
    assert "Ваша оценка: вопрос решён — частично; ответ — 4 — доволен." in page
    assert rate(client, done, solved="no", score="2").status_code == 303
    assert "вопрос решён — нет; ответ — 2 — недоволен." in text_of(client.get(done))
    update(app, done, "closed", time="2026-12-09T10:00:00+03:00")
    page = text_of(client.get(done))
    assert "Статус: Закрыто" in page and "Отправить оценку" not in page
