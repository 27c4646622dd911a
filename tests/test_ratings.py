"""The rating of an answer: bad input first (each gets the form again with a clear
summary, nothing typed lost), then what is stored, forwarded and shown back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.answers import rate, rating_token, receipt_of, sent, text_of, update
from tests.central import valid_event
from tests.forms import summary_links
from tests.outbox_db import disk_full_for, rows
from widget import tokens
from widget.transports import open_transport

COMMENT = "Суп правда стал горячим, спасибо! Но компот по-прежнему холодный 🥶"


@pytest.fixture
def answered(client, app) -> str:
    done = sent(client, email="ivan.petrov@example.ru", consent="y")
    update(app, done, "in_progress", time="2026-12-02T09:00:00+03:00")
    update(app, done, "answered", time="2026-12-03T10:15:00+03:00")
    return done


def summary_of(response) -> str:
    html = response.get_data(as_text=True)
    block = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", block.group(0)).split()) if block else ""


def ratings_stored(app) -> list[dict]:
    return [row for row in rows(app) if row["kind"] == "rating"]


def test_a_message_not_answered_yet_cannot_be_rated(client, app):
    done = sent(client)
    update(app, done, "in_progress")
    assert 'id="rating"' not in client.get(done).get_data(as_text=True)  # no form offered
    with app.test_request_context():
        token = tokens.issue(tokens.for_message("orel-school-57", receipt_of(done)))
    response = rate(client, done, token, comment=COMMENT)
    assert response.status_code == 422
    assert "ещё не ответили" in summary_of(response)
    assert ratings_stored(app) == []


def test_a_closed_message_cannot_be_rated_again(client, app, answered):
    token = rating_token(client, answered)
    update(app, answered, "closed", time="2026-12-10T10:00:00+03:00")
    response = rate(client, answered, token, solved="partly", score="3", comment=COMMENT)
    assert response.status_code == 422
    assert "Сообщение закрыто" in summary_of(response)
    assert ratings_stored(app) == []
    page = text_of(client.get(answered))
    assert "Статус: Закрыто" in page and "Отправить оценку" not in page


@pytest.mark.parametrize(
    "fields, error, field",
    [
        ({"score": "0"}, "Выберите оценку от 1 до 5", "score"),
        ({"score": "6"}, "Выберите оценку от 1 до 5", "score"),
        ({"score": None}, "Выберите оценку от 1 до 5", "score"),
        ({"solved": None}, "Ответьте, решён ли ваш вопрос", "solved"),
        ({"solved": "maybe"}, "Ответьте, решён ли ваш вопрос", "solved"),
        ({"comment": "Очень длинно. " * 80}, "не длиннее 1000 символов", "comment"),
    ],
)
def test_bad_answers_get_the_form_again_with_everything_typed(
    client, app, answered, fields, error, field
):
    data = {"solved": "partly", "score": "4", "comment": COMMENT, **fields}
    response = rate(client, answered, **data)
    assert response.status_code == 422
    assert error in summary_of(response) and summary_links(response.get_data(as_text=True)) == [
        field
    ]
    html = response.get_data(as_text=True)
    assert (data["comment"] or "")[:60] in html.replace("&#39;", "'")
    if fields.get("solved", "partly") == "partly":
        assert re.search(r'value="partly" checked', html)
    assert ratings_stored(app) == []


@pytest.mark.parametrize("kind", ["forged", "another message", "the form's own"])
def test_a_forged_or_foreign_token_is_refused_and_the_answers_kept(client, app, answered, kind):
    other = sent(client, text="Во дворе школы не убран снег.")
    update(app, other, "answered")
    token = rating_token(client, answered)
    if kind == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif kind == "another message":
        token = rating_token(client, other)
    else:
        token = re.search(
            r'name="token" value="([^"]+)"',
            client.get("/embed/orel-school-57").get_data(as_text=True),
        ).group(1)
    response = rate(client, answered, token, solved="no", score="2", comment=COMMENT)
    assert response.status_code == 422
    assert "Не получилось отправить форму" in summary_of(response)
    html = response.get_data(as_text=True)
    assert COMMENT in html and 'value="no" checked' in html and 'value="2" checked' in html
    assert ratings_stored(app) == []
    assert rate(client, answered, rating_token_of(html)).status_code == 303  # the fresh one works


def rating_token_of(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html[html.index('id="rating"') :]).group(1)


def test_one_token_twice_stores_one_rating(client, app, answered):
    token = rating_token(client, answered)
    first = rate(client, answered, token, solved="yes", score="5", comment=COMMENT)
    again = rate(client, answered, token, solved="yes", score="5", comment=COMMENT)
    assert first.status_code == again.status_code == 303  # a second press: the same thanks
    assert len(ratings_stored(app)) == 1
    other = rate(client, answered, token, solved="no", score="1", comment="Передумал.")
    assert other.status_code == 422
    assert "уже отправлена" in summary_of(other)
    assert "Передумал." in other.get_data(as_text=True)
    assert len(ratings_stored(app)) == 1


def test_a_full_disk_keeps_the_rating_in_the_form(client, app, answered):
    token = rating_token(client, answered)
    with disk_full_for(app, "ratings"):
        response = rate(client, answered, token, solved="partly", score="3", comment=COMMENT)
    assert response.status_code == 503
    assert COMMENT in response.get_data(as_text=True)
    assert ratings_stored(app) == []


def test_a_rating_is_stored_before_the_thanks_and_shown_back(client, app, answered):
    response = rate(client, answered, solved="partly", score="4", comment=COMMENT)
    assert response.status_code == 303 and response.headers["Location"].endswith("#rating")
    (row,) = ratings_stored(app)
    assert row["receipt"] == receipt_of(answered) and row["routing_key"].endswith(".rated")
    page = text_of(client.get(response.headers["Location"]))
    assert "Спасибо! Ваша оценка сохранена" in page
    assert "вопрос решён — частично; ответ — 4 — доволен" in page
    assert COMMENT in page and "Изменить оценку" in page


def test_the_latest_rating_counts_and_is_changeable_until_closed(client, app, answered):
    assert rate(client, answered, solved="no", score="2").status_code == 303
    page = text_of(client.get(answered))
    assert "вопрос решён — нет" in page
    assert "Написать новое сообщение" in page  # "not solved" offers a follow-up
    assert rate(client, answered, solved="yes", score="5").status_code == 303
    page = text_of(client.get(answered))
    assert "вопрос решён — да; ответ — 5 — очень доволен" in page
    assert "Написать новое сообщение" not in page
    assert len(ratings_stored(app)) == 2


def test_the_rating_is_forwarded_as_a_rated_event(client, app, answered, tmp_path):
    assert rate(client, answered, solved="partly", score="3", comment=COMMENT).status_code == 303
    folder = tmp_path / "central"
    from tests.answers import forward_all

    forward_all(app, open_transport(f"spool:{folder}"))
    events = [valid_event(p.read_bytes()) for p in sorted(Path(folder).glob("*.json"))]
    rated = [e for e in events if e["type"] == "feedback.rated.v1"]
    (event,) = rated
    message = next(e for e in events if e["type"] == "feedback.submitted.v1")
    assert event["subject"] == receipt_of(answered)
    assert event["data"] | {"rated_at": None} == {
        "receipt": receipt_of(answered),
        "agency_id": "orel-school-57",
        "message_id": message["id"],
        "solved": "partly",
        "score": 3,
        "comment": COMMENT,
        "lang": "ru",
        "channel": "embed",
        "rated_at": None,
    }
    # Delivered, the comment leaves the outbox, like the message's text.
    assert all(row["event"] is None for row in rows(app))
    page = text_of(client.get(answered))
    assert COMMENT not in page and "вопрос решён — частично" in page
    assert COMMENT not in json.dumps(rows(app), ensure_ascii=False)


def test_not_solved_offers_a_new_message_pointing_to_the_old_receipt(client, app, answered):
    assert rate(client, answered, solved="no", score="1", comment=COMMENT).status_code == 303
    page = client.get(answered).get_data(as_text=True)
    link = re.search(r'href="([^"]*follows=[^"]+)"', page).group(1).replace("&amp;", "&")
    form = client.get(link).get_data(as_text=True)
    old = receipt_of(answered)
    assert f'name="follows" value="{old}"' in form and f"к сообщению № {old}" in text_of(
        client.get(link)
    )
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    fields = {"text": "Компот опять холодный!", "token": token, "follows": old}
    response = client.post(
        "/embed/orel-school-57",
        data={"topic": "food", "email": "ivan.petrov@example.ru", "consent": "y", **fields},
    )
    assert response.status_code == 303
    (new,) = [r for r in rows(app) if r["kind"] == "message" and r["receipt"] != old]
    assert json.loads(new["event"])["data"]["follows"] == old
    valid_event(new["event"])
