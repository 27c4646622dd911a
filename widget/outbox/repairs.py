"""What operators do to the outbox (``flask outbox list``, ``flask outbox retry``): list
messages by status without their content, and give undelivered ones a fresh set of
attempts."""

from __future__ import annotations

import time

from sqlite_utils import Database

from .. import receipts


class NotFound(LookupError):
    pass


class NotRetryable(ValueError):
    pass


LISTED = (
    "id",
    "kind",  # a message, or the rating of one (whose receipt it names)
    "receipt",
    "agency_id",
    "topic_id",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "last_error",
)


def listing(db: Database, status: str, limit: int = 100) -> list[dict]:
    """Rows with ``status``, oldest first, without the event (no personal data)."""
    cursor = db.execute(
        f"SELECT {', '.join(LISTED)} FROM messages WHERE status = ? ORDER BY created_at LIMIT ?",
        [status, limit],
    )
    return [dict(zip(LISTED, row, strict=True)) for row in cursor.fetchall()]


def requeue(db: Database, ident: str, now: float | None = None) -> str:
    """Make one message (by event id or receipt) due now, with a fresh set of attempts.
    Returns its id."""
    now = time.time() if now is None else now
    receipt = receipts.normalize(ident) or ident
    with db.atomic():
        row = db.execute(
            "SELECT id, status, delivered_at FROM messages"
            " WHERE id = ? OR (receipt = ? AND kind = 'message')",
            [ident, receipt],
        ).fetchone()
        if row is None:
            raise NotFound(f"no message with id or receipt {ident!r}")
        id, status, delivered_at = row
        if status == "delivered":
            raise NotRetryable(
                f"{id} was delivered at {_iso(delivered_at)}; its content is gone from the"
                " outbox, so there is nothing to send again"
            )
        db.execute(
            "UPDATE messages SET status = 'pending', attempts = 0, next_attempt_at = ?,"
            " lease_until = NULL, lease_owner = NULL WHERE id = ?",
            [now, id],
        )
    return id


def requeue_dead(db: Database, now: float | None = None) -> int:
    """Give every dead message a fresh set of attempts; returns how many."""
    now = time.time() if now is None else now
    with db.atomic():
        return db.execute(
            "UPDATE messages SET status = 'pending', attempts = 0, next_attempt_at = ?,"
            " lease_until = NULL, lease_owner = NULL WHERE status = 'dead'",
            [now],
        ).rowcount


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))
