"""Bots without CAPTCHAs: the honeypot, the least fill time and the most token age.
A bot learns nothing about which check caught it; a citizen who was too quick or too
slow gets the form back with the text kept and a fresh token that works."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.agency_files import limit_school
from tests.conftest import receipt_in, token_of
from tests.forms import SCHOOL, send
from tests.outbox_db import rows
from widget import tokens

TEXT = "Уникальный текст 5a1b: в классе холодно."


def without_token(html: str) -> str:
    return re.sub(r'name="token" value="[^"]+"', 'name="token" value=""', html)


def post_with(client, app, token: str, **config):
    app.config.update(config)
    try:
        return send(client, token=token, text=TEXT, email="kept@example.ru", consent="y")
    finally:
        app.config.update(TOKEN_MIN_SECONDS=0, TOKEN_MAX_AGE=4 * 3600)


def fresh_token(client, path=SCHOOL, **headers) -> str:
    return token_of(client.get(path, headers=headers).get_data(as_text=True))


@pytest.fixture(autouse=True)
def many_posts_from_one_address(instance):
    """These tests post more often than the school's 5 an hour allow (see test_limits.py)."""
    limit_school(instance, "100 per hour")


# --- hostile input first -------------------------------------------------------


def test_every_token_problem_looks_the_same_from_outside(client, app):
    """Forged, foreign, too old and too young: one status, one page, one message."""
    foreign = fresh_token(client, "/embed/orel-polyclinic-1")
    answers = {
        "forged": post_with(client, app, "Zm9v.YmFy"),
        "foreign": post_with(client, app, foreign),
        "too old": post_with(client, app, fresh_token(client), TOKEN_MAX_AGE=0),
        "too young": post_with(client, app, fresh_token(client), TOKEN_MIN_SECONDS=3600),
        "too long": post_with(client, app, "a" * 5000),
    }
    pages = {name: without_token(r.get_data(as_text=True)) for name, r in answers.items()}
    assert {r.status_code for r in answers.values()} == {422}
    assert len(set(pages.values())) == 1, "a bot could tell the checks apart"
    page = pages["forged"]
    assert "Не получилось отправить форму" in page
    assert "слишком давно" not in page and "слишком быстро" not in page
    assert TEXT in page and 'value="kept@example.ru"' in page
    assert rows(app) == []


def test_the_honeypot_is_not_told_apart_from_the_other_checks(client, app):
    for token in ("forged", fresh_token(client)):
        for text in ("", TEXT):
            base = dict(token=token, text=text, email="a@example.ru", consent="y")
            plain = send(client, **base)
            trapped = send(client, website="http://spam.example", **base)
            if plain.status_code == 303:  # a complete, valid message
                assert trapped.status_code == 303
                assert re.fullmatch(  # shaped as a real one's: the receipt, then a seal
                    r"/embed/orel-school-57/done/[0-9A-Z]{4}-[0-9A-Z]{4}\?at=[\w.-]+",
                    trapped.headers["Location"],
                )
            else:
                assert trapped.status_code == plain.status_code == 422
                assert without_token(trapped.get_data(as_text=True)) == without_token(
                    plain.get_data(as_text=True)
                )
    assert len(rows(app)) == 1  # only the one without the honeypot


def test_a_trapped_bot_sees_what_a_citizen_would(client, app):
    token = fresh_token(client)
    fields = dict(token=token, topic="building", email="a@example.ru", consent="y")
    first = send(client, website="x", **fields)
    again = send(client, website="x", **fields)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]  # like a double press
    done = client.get(first.headers["Location"])
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "Здание и территория" in html and "Организация ответит до" in html  # its own topic
    assert rows(app) == []
    other = send(client, website="x", token=fresh_token(client), email="a@example.ru", consent="y")
    assert other.headers["Location"] != first.headers["Location"]


def test_a_token_posted_again_a_day_later_gives_the_same_url_decoy_or_real(client, app):
    """A bot that keeps a token past midnight and posts it again, once with the honeypot
    and once without, sees the same thing both times: each done page's URL is sealed with
    the day the form was opened, whenever it is posted."""
    app.config.update(TOKEN_MAX_AGE=3 * 86400)
    yesterday = time.time() - 86400

    def opened_yesterday() -> str:
        with app.app_context(), mock.patch("time.time", return_value=yesterday):
            return tokens.issue("orel-school-57")

    def day_in(location: str) -> str:
        seal = parse_qs(urlsplit(location).query)["at"][0]
        payload = seal.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[3]

    opened = datetime.fromtimestamp(yesterday, UTC).date().isoformat()
    for honeypot in ("", "x"):
        token = opened_yesterday()
        fields = dict(token=token, text=TEXT, email="a@example.ru", consent="y")
        first = send(client, website=honeypot, **fields).headers["Location"]
        with mock.patch("time.time", return_value=time.time() + 3600):
            again = send(client, website=honeypot, **fields).headers["Location"]
        assert first == again and day_in(first) == opened
    assert len(rows(app)) == 1


def test_a_decoy_receipt_is_good_only_for_its_own_agency(client):
    decoy = send(client, website="x", email="a@example.ru", consent="y").headers["Location"]
    receipt = receipt_in(decoy)
    assert client.get(f"/embed/orel-city-admin/done/{receipt}").status_code == 404


# --- the citizen's side --------------------------------------------------------


@pytest.mark.parametrize("timing", [{"TOKEN_MAX_AGE": 0}, {"TOKEN_MIN_SECONDS": 3600}])
def test_a_citizen_too_slow_or_too_fast_sends_on_the_second_press(client, app, timing):
    response = post_with(client, app, fresh_token(client), **timing)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert TEXT in html
    again = send(client, token=token_of(html), text=TEXT, email="kept@example.ru", consent="y")
    assert again.status_code == 303
    assert len(rows(app)) == 1


def test_the_fresh_token_keeps_the_page_that_framed_the_form(client, app):
    framed = fresh_token(client, Referer="https://school57.example.ru/contacts")
    response = post_with(client, app, framed, TOKEN_MIN_SECONDS=3600)
    with app.app_context():
        fresh = tokens.verify(token_of(response.get_data(as_text=True)), "orel-school-57")
    assert fresh.origin == "https://school57.example.ru"
