"""What the forwarder does to the outbox: claim due rows with a lease, settle what
became of them, purge delivered rows past retention. When, how often and what counts
as delivered is the forwarder's to decide; the statements are here."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import NamedTuple

from sqlite_utils import Database

DAY = 86400.0


class Claimed(NamedTuple):
    id: str
    routing_key: str
    event: str | None  # None: nothing left to send (a row broken by hand)
    attempts: int


def claim(
    db: Database, *, owner: str, now: float, due_by: float, lease_until: float, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` pending rows due by ``due_by`` to ``owner`` until
    ``lease_until``, the longest due first. One statement takes them, so several
    forwarders never hold one row at the same time; a lease that ran out by ``now``
    (its forwarder died) is taken over."""
    with db.atomic():
        rows = db.execute(
            """
            UPDATE messages SET lease_until = :until, lease_owner = :owner
            WHERE id IN (
                SELECT id FROM messages
                WHERE status = 'pending' AND next_attempt_at <= :due
                  AND (lease_until IS NULL OR lease_until <= :now)
                ORDER BY next_attempt_at LIMIT :limit
            )
            RETURNING id, routing_key, event, attempts, next_attempt_at
            """,
            {"until": lease_until, "owner": owner, "now": now, "due": due_by, "limit": limit},
        ).fetchall()
    rows.sort(key=lambda row: row[4])
    return [Claimed(*row[:4]) for row in rows]


def settle(
    db: Database,
    owner: str,
    *,
    delivered: Iterable[tuple[str, float]] = (),
    retry: Iterable[tuple[str, str, float]] = (),
    dead: Iterable[tuple[str, str, float]] = (),
    wait: Iterable[tuple[str, str, float]] = (),
) -> None:
    """Record, in one transaction, what became of rows that ``owner`` claimed.

    ``delivered`` holds (id, when) for rows the queue confirmed: they lose their event (the
    personal data; a rating its comment too), whoever holds the lease now, since delivered
    is good news either way. The others hold (id, reason, when) and change a row only while
    ``owner`` still holds its lease, so a forwarder whose lease was taken over does not undo
    the new holder's work: ``retry`` uses up an attempt and is due again at ``when``;
    ``dead`` uses up the last one; ``wait`` (the queue could not even be tried) is due again
    at ``when`` with its attempts untouched."""
    delivered = list(delivered)
    failed = [("pending", *row) for row in retry] + [("dead", *row) for row in dead]
    with db.atomic():
        db.conn.executemany(
            """
            UPDATE messages SET status = 'delivered', event = NULL, delivered_at = ?,
                attempts = attempts + 1, last_error = NULL,
                lease_until = NULL, lease_owner = NULL
            WHERE id = ? AND status = 'pending'
            """,
            [(when, id) for id, when in delivered],
        )
        # A rating's comment is personal data, gone from the outbox once delivered too.
        db.conn.executemany(
            "UPDATE ratings SET comment = NULL WHERE id = ? AND comment IS NOT NULL",
            [(id,) for id, _when in delivered],
        )
        db.conn.executemany(
            """
            UPDATE messages SET status = ?, last_error = ?, next_attempt_at = ?,
                attempts = attempts + 1, lease_until = NULL, lease_owner = NULL
            WHERE id = ? AND status = 'pending' AND lease_owner = ?
            """,
            [(status, reason, when, id, owner) for status, id, reason, when in failed],
        )
        db.conn.executemany(
            """
            UPDATE messages SET last_error = ?, next_attempt_at = ?,
                lease_until = NULL, lease_owner = NULL
            WHERE id = ? AND status = 'pending' AND lease_owner = ?
            """,
            [(reason, when, id, owner) for id, reason, when in wait],
        )


def purge(db: Database, retention_days: float, now: float | None = None) -> int:
    """Delete delivered rows older than ``retention_days``; dead rows stay until an
    operator retries them (they are undelivered messages, not history)."""
    now = time.time() if now is None else now
    with db.atomic():
        return db.execute(
            "DELETE FROM messages WHERE status = 'delivered' AND delivered_at < ?",
            [now - retention_days * DAY],
        ).rowcount
