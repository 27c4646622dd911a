"""Updates the central system sent (statuses and answers), kept in the outbox by receipt.

Each is recorded once by its event id: a repeat (a redelivery, a resend) changes
nothing and says so. Every distinct update is kept, for a receipt this instance never
took too (in a deployment of several instances the message may have gone through
another). Updates arrive in any order; a receipt's history is sorted by when each
happened, and its current status is the last of it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence

from sqlite_utils import Database

from ..updates import STATUSES, Update
from . import counts, write_transaction

COLUMNS = tuple(f.name for f in dataclasses.fields(Update))


def record(
    db: Database, updates: Sequence[Update], intake: str, now: float | None = None
) -> list[bool]:
    """Commit ``updates`` in one transaction (with the outbox's ``synchronous=FULL``:
    on disk when this returns) and say, for each, whether it was new (False: its id
    was recorded before, or earlier in this batch). ``intake`` is where it came from:
    spool, amqp or http."""
    now = time.time() if now is None else now
    columns = ", ".join((*COLUMNS, "intake", "received_at"))
    marks = ", ".join("?" * (len(COLUMNS) + 2))
    statement = f"INSERT INTO updates ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
    with write_transaction(db):
        fresh = []
        for update in updates:
            new = db.execute(statement, [*dataclasses.astuple(update), intake, now]).rowcount == 1
            if new:
                counts.updates(db, update.agency_id, update.receipt)
            fresh.append(new)
        return fresh


def history(db: Database, agency_id: str, receipt: str) -> list[Update]:
    """Every update of one message, in the order they happened. Two with the same time
    are in the order of their statuses (``STATUSES``), then of their ids, so that the
    order never depends on which arrived first."""
    rows = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM updates WHERE agency_id = ? AND receipt = ?",
        [agency_id, receipt],
    ).fetchall()
    return in_order(Update(*row) for row in rows)


def versions(db: Database, agency_id: str, receipt: str) -> tuple[tuple, ...]:
    """What tells one state of a message's updates from another, read without their
    texts (decoding an answer took most of reading its rows): each update's id, since
    an update is never changed once recorded, and whether its answer and note are still
    there, which ``forget_answers`` drops. A new update or a forgotten answer is a new
    value. What a page kept rendered is known by (widget/web/answers.py)."""
    return tuple(
        db.execute(
            "SELECT id, answer IS NULL, note IS NULL FROM updates"
            " WHERE agency_id = ? AND receipt = ? ORDER BY id",
            [agency_id, receipt],
        ).fetchall()
    )


def histories(db: Database, agency_id: str, receipts: Sequence[str]) -> dict[str, list[Update]]:
    """``history`` of each of ``receipts`` (one query; a receipt without updates has none)."""
    marks = ", ".join("?" * len(receipts))
    rows = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM updates WHERE agency_id = ? AND receipt IN ({marks})",
        [agency_id, *receipts],
    ).fetchall()
    found: dict[str, list[Update]] = {}
    for update in in_order(Update(*row) for row in rows):
        found.setdefault(update.receipt, []).append(update)
    return found


def in_order(updates: Iterable[Update]) -> list[Update]:
    return sorted(updates, key=lambda u: (u.happened_at, STATUSES.index(u.status), u.id))


def current(db: Database, agency_id: str, receipt: str) -> Update | None:
    """The update that happened last: the message's status now (None: no update yet)."""
    updates = history(db, agency_id, receipt)
    return updates[-1] if updates else None


DAY = 86400.0


def forget_answers(db: Database, retention_days: float, now: float | None = None) -> int:
    """Drop the answers and staff's notes (free text, personal data) of messages closed
    more than ``retention_days`` ago: their last update is ``closed`` and happened before
    then. The statuses, dates and who answered stay, for the page's history and for
    statistics. Returns how many messages lost them. (The only change made to an update
    once recorded: ``versions`` tells the pages kept rendered.)"""
    now = time.time() if now is None else now
    with write_transaction(db):
        forgotten = db.execute(
            """
            UPDATE updates SET answer = NULL, note = NULL
            WHERE (answer IS NOT NULL OR note IS NOT NULL) AND EXISTS (
                SELECT 1 FROM updates closing
                WHERE closing.agency_id = updates.agency_id
                  AND closing.receipt = updates.receipt
                  AND closing.status = 'closed' AND closing.happened_at < ?
                  AND NOT EXISTS (
                      SELECT 1 FROM updates later
                      WHERE later.agency_id = closing.agency_id
                        AND later.receipt = closing.receipt
                        AND later.happened_at > closing.happened_at
                  )
            )
            RETURNING agency_id, receipt
            """,
            [now - retention_days * DAY],
        ).fetchall()
    return len(set(forgotten))
