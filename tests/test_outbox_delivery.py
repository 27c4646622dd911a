"""The forwarder's statements on the outbox, called directly: leases, outcomes, retention.
What the forwarder decides (backoff, attempts) is tested in test_forwarder.py."""

from __future__ import annotations

import json
import time

import pytest

from tests.central import fill, rows
from widget import outbox
from widget.outbox import delivery

LEASE = 120.0


@pytest.fixture
def db(app):
    db = outbox.connect(app.config["OUTBOX_PATH"])
    yield db
    db.close()


def claim(db, owner: str, now: float, limit: int = 10, due_by: float | None = None):
    return delivery.claim(
        db,
        owner=owner,
        now=now,
        due_by=now if due_by is None else due_by,
        lease_until=now + LEASE,
        limit=limit,
    )


def test_a_claim_leases_due_rows_longest_due_first_with_what_to_send(app, db):
    ids = fill(app, 3)
    now = time.time()
    with db.atomic():  # the last one failed once and waits for its next attempt
        db.execute("UPDATE messages SET next_attempt_at = ? WHERE id = ?", [now - 600, ids[2]])
        db.execute("UPDATE messages SET next_attempt_at = ? WHERE id = ?", [now + 60, ids[1]])
    claimed = claim(db, "forwarder-a", now)
    assert [c.id for c in claimed] == [ids[2], ids[0]]  # the one due in a minute waits
    first = claimed[0]
    assert first.routing_key == "57.education.orel-school-57" and first.attempts == 0
    assert json.loads(first.event)["data"]["text"] == "Сообщение номер 2"
    row = rows(app)[first.id]
    assert row["lease_owner"] == "forwarder-a" and row["lease_until"] == now + LEASE

    assert [c.id for c in claim(db, "forwarder-a", now, due_by=now + 60)] == [ids[1]]


def test_a_leased_row_goes_to_no_one_else_until_its_lease_runs_out(app, db):
    fill(app, 5)
    now = time.time()
    a, b = claim(db, "a", now, limit=3), claim(db, "b", now, limit=3)
    assert len(a) == 3 and len(b) == 2 and not {c.id for c in a} & {c.id for c in b}
    assert claim(db, "c", now + LEASE - 1) == []
    taken = claim(db, "c", now + LEASE)  # a and b died: their leases ran out
    assert {c.id for c in taken} == {c.id for c in a + b}
    assert {r["lease_owner"] for r in rows(app).values()} == {"c"}


def settle_each_way(db, owner: str, now: float, delivered, retried, dead, waiting) -> None:
    """One row delivered, one to retry in 10 s, one dead, one to wait 30 s for the queue."""
    delivery.settle(
        db,
        owner,
        delivered=[(delivered, now + 1)],
        retry=[(retried, "HTTP 503 Service Unavailable", now + 10)],
        dead=[(dead, "HTTP 400 Bad Request", now)],
        wait=[(waiting, "cannot reach the queue", now + 30)],
    )


def test_settling_records_each_outcome_and_drops_the_personal_data_of_delivered_rows(app, db):
    delivered, retried, dead, waiting = fill(app, 4)
    now = time.time()
    claim(db, "a", now)
    settle_each_way(db, "a", now, delivered, retried, dead, waiting)
    found = rows(app)
    assert found[delivered]["status"] == "delivered" and found[delivered]["event"] is None
    assert found[delivered]["delivered_at"] == now + 1 and found[delivered]["attempts"] == 1
    assert found[retried]["status"] == "pending" and found[retried]["attempts"] == 1
    assert found[retried]["next_attempt_at"] == now + 10
    assert found[retried]["last_error"] == "HTTP 503 Service Unavailable"
    assert found[dead]["status"] == "dead" and found[dead]["event"]  # kept for a retry
    assert found[dead]["last_error"] == "HTTP 400 Bad Request"
    assert found[waiting]["status"] == "pending" and found[waiting]["attempts"] == 0
    assert found[waiting]["next_attempt_at"] == now + 30
    assert all(r["lease_owner"] is None and r["lease_until"] is None for r in found.values())
    assert [c.id for c in claim(db, "b", now + 30)] == [retried, waiting]


def test_a_forwarder_that_lost_its_lease_changes_nothing_but_a_delivery(app, db):
    delivered, retried, dead, waiting = fill(app, 4)
    now = time.time()
    claim(db, "slow", now)
    claim(db, "fresh", now + LEASE)  # took them all over
    settle_each_way(db, "slow", now, delivered, retried, dead, waiting)
    found = rows(app)
    assert found[delivered]["status"] == "delivered" and found[delivered]["event"] is None
    for id in (retried, dead, waiting):
        assert found[id]["status"] == "pending" and found[id]["last_error"] is None
        assert found[id]["lease_owner"] == "fresh" and found[id]["attempts"] == 0


def test_settling_a_row_delivered_already_changes_it_no_more(app, db):
    (id,) = fill(app, 1)
    now = time.time()
    claim(db, "a", now)
    delivery.settle(db, "a", delivered=[(id, now)])
    delivery.settle(db, "a", delivered=[(id, now + 9)], dead=[(id, "late", now + 9)])
    assert rows(app)[id]["delivered_at"] == now and rows(app)[id]["attempts"] == 1


def test_purge_deletes_only_delivered_rows_past_retention(app, db):
    old, recent, dead, pending = fill(app, 4)
    now = time.time()
    claim(db, "a", now)
    delivery.settle(
        db,
        "a",
        delivered=[(old, now - 31 * delivery.DAY), (recent, now - 29 * delivery.DAY)],
        dead=[(dead, "HTTP 400 Bad Request", now - 90 * delivery.DAY)],
        wait=[(pending, "cannot reach the queue", now)],
    )
    assert delivery.purge(db, 30, now) == 1
    assert set(rows(app)) == {recent, dead, pending}
    assert delivery.purge(db, 30, now) == 0
