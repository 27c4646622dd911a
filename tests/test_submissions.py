"""The intake path, called as every intake calls it: what was posted in, the outcome out,
with no request and no HTTP. The pages' tests (test_form.py, test_limits.py, ...) check
how each outcome is answered."""

from __future__ import annotations

import json
import sqlite3

import flask
import pytest
from limits import parse
from sqlite_utils import Database
from werkzeug.datastructures import MultiDict

from tests.outbox_db import rows
from widget import agencies, consent, outbox, submissions, tokens
from widget.web import uploads
from widget.web.limits import LimitReached

TEXT = "Здравствуйте! В столовой опять холодный суп 🥶, дети жалуюца уже неделю."


class Hits:
    """The rate limits' part, as the intake sees it: counts each hit, and refuses once
    ``room`` is used up (the limits themselves need a request: test_limits.py)."""

    def __init__(self, counter: str, room: int = 1000):
        self.counter, self.room, self.count = counter, room, 0

    def __call__(self, _agency) -> None:
        if self.count >= self.room:
            raise LimitReached(600, self.counter, parse("5 per hour"))
        self.count += 1


@pytest.fixture
def school(app):
    with app.app_context():
        assert not flask.has_request_context()
        yield agencies.extension(app).get("orel-school-57")


def intake(app, *, attempts=None, messages=None, db=None) -> submissions.Intake:
    return submissions.Intake(
        secret_key=app.config["SECRET_KEY"],
        outbox_db=db or outbox.get_db,
        attempt=attempts or Hits("attempts"),
        message=messages or Hits("per-ip"),
        limit_reached=LimitReached,
        take_files=uploads.take,
    )


def post(agency, token: str | None = None, lang: str = "ru", **fields) -> submissions.Post:
    data = {
        "topic": "food",
        "text": TEXT,
        "token": tokens.issue(agency.id) if token is None else token,
        "website": "",
        "name": "Мария Ивановна",
        "email": "maria.ivanovna@example.ru",
        "consent": "y",
    }
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return submissions.Post(agency, MultiDict(data), MultiDict(), submissions.EMBED, lang)


def test_a_message_is_accepted_stored_with_its_consent_and_counted(app, school):
    messages = Hits("per-ip")
    outcome = intake(app, messages=messages).take(post(school))
    assert isinstance(outcome, submissions.Accepted) and not outcome.decoy
    assert outcome.topic_id == "food" and outcome.ways == ("email",)
    (row,) = rows(app)
    data = json.loads(row["event"])["data"]
    assert data["receipt"] == outcome.receipt and data["text"] == TEXT
    assert data["channel"] == "embed" and data["contact"]["name"] == "Мария Ивановна"
    assert data["consent"]["version"] == consent.wording(school, "ru")[1]
    assert messages.count == 1


def test_the_same_token_again_is_a_repeat_with_the_first_receipt(app, school):
    sent = post(school)
    messages = Hits("per-ip")
    first = intake(app, messages=messages).take(sent)
    again = intake(app, messages=messages).take(sent)
    assert isinstance(again, submissions.Repeat)
    assert again.receipt == first.receipt and again.ways == ("email",)
    assert len(rows(app)) == 1 and messages.count == 1  # a repeat is not a new message


def test_a_mistake_gives_the_form_back_with_everything_typed(app, school):
    messages = Hits("per-ip")
    outcome = intake(app, messages=messages).take(post(school, text="", consent=None))
    assert isinstance(outcome, submissions.GivenBack) and outcome.status == 422
    assert not outcome.token_refused
    assert outcome.form.text.errors and outcome.form.consent.errors
    assert outcome.form.name.data == "Мария Ивановна"
    assert rows(app) == [] and messages.count == 0


def test_a_forged_token_gives_the_form_back_with_a_fresh_one(app, school):
    outcome = intake(app).take(post(school, token="forged"))
    assert isinstance(outcome, submissions.GivenBack) and outcome.token_refused
    assert tokens.verify(outcome.form.token.data, school.id).agency_id == school.id
    assert outcome.form.text.data == TEXT and rows(app) == []


def test_switching_the_language_gives_the_form_back_without_errors(app, school):
    outcome = intake(app).take(post(school, lang="en", text="", switch_language="en"))
    assert isinstance(outcome, submissions.GivenBack) and outcome.status == 200
    assert not outcome.form.text.errors and rows(app) == []


def test_too_many_attempts_are_limited_before_anything_else(app, school):
    attempts = Hits("attempts", room=0)
    outcome = intake(app, attempts=attempts).take(post(school))
    assert isinstance(outcome, submissions.Limited)
    assert outcome.reached.counter == "attempts" and outcome.form.text.data == TEXT
    assert rows(app) == []


def test_a_message_over_the_limit_is_limited_and_not_stored(app, school):
    messages = Hits("per-ip", room=1)
    assert isinstance(intake(app, messages=messages).take(post(school)), submissions.Accepted)
    outcome = intake(app, messages=messages).take(post(school, text="И ещё: нет хлеба."))
    assert isinstance(outcome, submissions.Limited) and outcome.reached.counter == "per-ip"
    assert outcome.form.text.data == "И ещё: нет хлеба." and len(rows(app)) == 1


def test_a_read_only_outbox_makes_the_intake_unavailable(app, school):
    path = app.config["OUTBOX_PATH"]
    read_only = Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    outcome = intake(app, db=lambda: read_only).take(post(school))
    assert isinstance(outcome, submissions.Unavailable)
    assert outcome.form.text.data == TEXT  # given back to the citizen, not lost
    assert rows(app) == []


def test_the_honeypot_gets_a_decoy_receipt_and_nothing_is_stored(app, school):
    messages = Hits("per-ip")
    outcome = intake(app, messages=messages).take(post(school, website="http://spam.example"))
    assert isinstance(outcome, submissions.Accepted) and outcome.decoy
    assert rows(app) == []
    assert messages.count == 1  # counted like the message it pretends to be


def test_the_honeypot_is_checked_last(app, school):
    outcome = intake(app).take(post(school, text="", website="http://spam.example"))
    assert isinstance(outcome, submissions.GivenBack) and outcome.status == 422
