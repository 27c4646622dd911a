"""The HTTP intake transport against a small real HTTP server on 127.0.0.1: what the
intake receives, and what each of its answers does to the outbox. No message is lost."""

from __future__ import annotations

import hashlib
import hmac
import time
from email.utils import formatdate

import pytest

from tests.central import Intake, fill, rows, valid_event
from tests.services import free_port
from widget import forwarder
from widget.transports import open_transport

SECRET = "intake-secret"


@pytest.fixture
def intake():
    server = Intake()
    yield server
    server.close()


def make(app, url, **options) -> forwarder.Forwarder:
    transport = open_transport(url, secret=SECRET, timeout=options.pop("timeout", 5.0))
    return forwarder.Forwarder(app.config["OUTBOX_PATH"], transport, **options)


def received_ids(intake) -> set[str]:
    return {valid_event(body)["id"] for body in intake.bodies()}


def test_each_event_is_posted_signed_with_its_id_as_idempotency_key(app, intake):
    ids = fill(app, 3)
    with make(app, intake.url) as sender:
        assert sender.run_once().delivered == 3
    assert len(intake.requests) == 3
    for headers, body in intake.requests:
        event = valid_event(body)
        assert headers["Idempotency-Key"] == event["id"]
        assert headers["Content-Type"].startswith("application/cloudevents+json")
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Otklik-Signature"] == f"sha256={expected}"
        assert event["data"]["contact"]["name"] == "Иван Петров"
    assert received_ids(intake) == set(ids)
    assert all(r["status"] == "delivered" and r["event"] is None for r in rows(app).values())


def test_409_means_the_intake_has_it_already(app, intake):
    fill(app, 2)
    intake.answer = lambda n, body: (409, {}, 0)
    with make(app, intake.url) as sender:
        assert sender.run_once().delivered == 2


def test_400_is_dead_at_once_and_the_rest_of_the_batch_still_goes(app, intake):
    ids = fill(app, 3)
    intake.answer = lambda n, body: (400, {}, 0) if n == 0 else (200, {}, 0)
    with make(app, intake.url) as sender:
        totals = sender.run_once()
    assert (totals.dead, totals.delivered) == (1, 2)
    first = rows(app)[valid_event(intake.bodies()[0])["id"]]
    assert first["status"] == "dead" and first["attempts"] == 1
    assert first["last_error"] == "HTTP 400 Bad Request"
    assert first["event"] is not None  # kept: an operator can fix the intake and retry
    assert received_ids(intake) == set(ids)


def test_500_is_retried_later_and_then_delivered(app, intake):
    ids = fill(app, 3)
    intake.answer = lambda n, body: (500, {}, 0) if n == 1 else (204, {}, 0)
    with make(app, intake.url, backoff_base=30) as sender:
        now = time.time()
        totals = sender.run_once(now)
        assert (totals.delivered, totals.retried) == (2, 1)  # a 500 does not stop the batch
        failed = next(r for r in rows(app).values() if r["status"] == "pending")
        assert failed["attempts"] == 1 and failed["last_error"] == "HTTP 500 Internal Server Error"
        assert now + 15 <= failed["next_attempt_at"] <= now + 30
        assert sender.run_once(now + 1).claimed == 0  # not yet due
        assert sender.run_once(now + 31).delivered == 1
    assert received_ids(intake) == set(ids)
    assert all(r["status"] == "delivered" for r in rows(app).values())


@pytest.mark.parametrize("retry_after", ["120", "date"])
def test_429_honours_retry_after_and_holds_back_the_rest_of_the_batch(app, intake, retry_after):
    ids = fill(app, 4)
    header = formatdate(time.time() + 120, usegmt=True) if retry_after == "date" else "120"
    intake.answer = lambda n, body: (429, {"Retry-After": header}, 0)
    with make(app, intake.url) as sender:
        now = time.time()
        totals = sender.run_once(now)
        assert (totals.retried, totals.unsent, totals.delivered) == (1, 3, 0)
        assert len(intake.requests) == 1  # the intake said slow down: nothing more sent
        waiting = rows(app).values()
        assert all(now + 110 <= r["next_attempt_at"] <= now + 122 for r in waiting)
        assert sorted(r["attempts"] for r in waiting) == [0, 0, 0, 1]
        intake.answer = lambda n, body: (202, {}, 0)
        assert sender.run_once(now + 60).claimed == 0
        assert sender.run_once(now + 125).delivered == 4
    assert received_ids(intake) == set(ids)


def test_a_timeout_is_retried_and_nothing_is_lost(app, intake):
    ids = fill(app, 2)
    intake.answer = lambda n, body: (200, {}, 1.5 if n == 0 else 0)
    with make(app, intake.url, timeout=0.3, backoff_base=1) as sender:
        now = time.time()
        totals = sender.run_once(now)
        assert totals.retried == 1 and totals.unsent == 1 and totals.delivered == 0
        timed_out = [r for r in rows(app).values() if r["attempts"] == 1]
        assert "within 0.3 s" in timed_out[0]["last_error"]
        assert sender.run_once(now + 120).delivered == 2
    # the slow first answer may have been counted by the intake too: duplicates, no loss
    assert received_ids(intake) == set(ids)


def test_a_redirect_is_not_followed(app, intake):
    fill(app, 1)
    intake.answer = lambda n, body: (301, {"Location": "http://example.invalid/"}, 0)
    with make(app, intake.url) as sender:
        totals = sender.run_once()
    assert totals.retried == 1 and len(intake.requests) == 1
    (row,) = rows(app).values()
    assert "redirects are not followed" in row["last_error"]


def test_an_unreachable_intake_uses_no_attempts_and_everything_goes_when_it_is_back(app):
    ids = fill(app, 5)
    port = free_port()
    with make(app, f"http://127.0.0.1:{port}/intake") as sender:
        totals = sender.run_once()
    assert totals.unsent == 5 and "cannot reach" in totals.problem
    assert all(r["attempts"] == 0 and r["status"] == "pending" for r in rows(app).values())

    intake = Intake()
    try:
        with make(app, intake.url) as sender:
            assert sender.run_once(time.time() + 120).delivered == 5
        assert received_ids(intake) == set(ids)
    finally:
        intake.close()


def test_forward_once_tries_each_message_at_most_once_however_slow_the_intake(app, intake):
    ids = fill(app, 3)
    intake.answer = lambda n, body: (500, {}, 0.7)  # slower than the shortest backoff
    with make(app, intake.url, backoff_base=1, batch_size=1) as sender:
        totals = sender.run_once()
    assert totals.retried == 3 and len(intake.requests) == 3
    assert all(r["attempts"] == 1 for r in rows(app).values())
    assert received_ids(intake) == set(ids)
