"""What operators do to the outbox, called directly: list by status, queue again."""

from __future__ import annotations

import time

import pytest

from tests.central import fill, rows
from widget import outbox
from widget.outbox import delivery, repairs


@pytest.fixture
def db(app):
    db = outbox.connect(app.config["OUTBOX_PATH"])
    yield db
    db.close()


def settle_all(db, now: float, **outcomes) -> None:
    delivery.claim(db, owner="a", now=now, due_by=now, lease_until=now + 120, limit=100)
    delivery.settle(db, "a", **outcomes)


def test_a_listing_shows_one_status_oldest_first_without_the_message(app, db):
    ids = fill(app, 4)
    now = time.time()
    settle_all(db, now, dead=[(id, "HTTP 400 Bad Request", now) for id in ids[:3]])
    listed = repairs.listing(db, "dead", limit=2)
    assert [row["id"] for row in listed] == ids[:2]
    assert listed[0]["status"] == "dead" and listed[0]["attempts"] == 1
    assert listed[0]["last_error"] == "HTTP 400 Bad Request"
    assert listed[0]["receipt"] == rows(app)[ids[0]]["receipt"]
    shown = repr(repairs.listing(db, "dead") + repairs.listing(db, "pending"))
    assert "Иван" not in shown and "example.ru" not in shown and "Сообщение" not in shown
    assert [row["id"] for row in repairs.listing(db, "pending")] == ids[3:]
    assert repairs.listing(db, "delivered") == []


def test_a_message_is_queued_again_by_its_receipt_as_a_person_types_it(app, db):
    (id,) = fill(app, 1)
    now = time.time()
    settle_all(db, now, dead=[(id, "HTTP 400 Bad Request", now)])
    typed = rows(app)[id]["receipt"].lower().replace("-", " ").replace("0", "o")
    assert repairs.requeue(db, typed, now + 60) == id
    row = rows(app)[id]
    assert row["status"] == "pending" and row["attempts"] == 0 and row["event"]
    assert row["next_attempt_at"] == now + 60
    assert repairs.requeue(db, id, now + 90) == id  # by its event id too


def test_requeue_says_why_it_cannot(app, db):
    (id,) = fill(app, 1)
    now = time.time()
    settle_all(db, now, delivered=[(id, now)])
    with pytest.raises(repairs.NotRetryable, match="nothing to send again"):
        repairs.requeue(db, id)
    with pytest.raises(repairs.NotFound, match="ZZZZ-ZZZZ"):
        repairs.requeue(db, "ZZZZ-ZZZZ")
    assert rows(app)[id]["status"] == "delivered"


def test_every_dead_message_is_queued_again_at_once(app, db):
    dead, also_dead, pending = fill(app, 3)
    now = time.time()
    settle_all(
        db,
        now,
        dead=[(id, "HTTP 400 Bad Request", now) for id in (dead, also_dead)],
        retry=[(pending, "HTTP 503 Service Unavailable", now + 600)],
    )
    assert repairs.requeue_dead(db, now + 1) == 2
    found = rows(app)
    assert all(found[id]["status"] == "pending" for id in (dead, also_dead, pending))
    assert found[dead]["attempts"] == 0 and found[dead]["next_attempt_at"] == now + 1
    assert found[pending]["attempts"] == 1  # not dead: left as it was
    assert found[pending]["next_attempt_at"] == now + 600
    assert repairs.requeue_dead(db, now + 2) == 0
