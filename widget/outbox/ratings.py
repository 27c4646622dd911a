"""The citizens' ratings of answers: every one kept (the latest counts), each with its
``feedback.rated.v1`` event in ``messages`` for the forwarder, committed together."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlite_utils import Database

from ..ratings import Rating
from . import counts, insert_outgoing, write_transaction


def record(
    db: Database,
    event: dict,
    *,
    rated_at: float,
    nonce: str,
    topic_id: str,
    region: str,
    routing_key: str,
    admit: Callable[[], None] = lambda: None,
) -> tuple[bool, Rating]:
    """Commit the rating ``event`` holds with its event (``synchronous=FULL``: on disk
    when this returns). A rating token's ``nonce`` is used once: posted again, nothing
    is stored and the rating it was used for comes back, with False. ``admit()`` is
    called last before the commit and may raise to refuse it."""
    data = event["data"]
    with write_transaction(db):
        existing = db.execute(
            "SELECT r.solved, r.score, r.comment, r.rated_at FROM messages m"
            " JOIN ratings r ON r.id = m.id WHERE m.token_nonce = ?",
            [nonce],
        ).fetchone()
        if existing:
            return False, Rating(*existing)
        now = time.time()  # when it was queued; ``rated_at`` is when it was given
        insert_outgoing(
            db,
            event,
            nonce=nonce,
            agency_id=data["agency_id"],
            topic_id=topic_id,
            lang=data["lang"],
            routing_key=routing_key,
            now=now,
            kind="rating",
        )
        db.execute(
            "INSERT INTO ratings (id, receipt, agency_id, solved, score, comment, lang,"
            " channel, rated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                event["id"],
                data["receipt"],
                data["agency_id"],
                data["solved"],
                data["score"],
                data["comment"],
                data["lang"],
                data["channel"],
                rated_at,
            ],
        )
        counts.rating(
            db,
            agency_id=data["agency_id"],
            region=region,
            receipt=data["receipt"],
            score=data["score"],
            solved=data["solved"],
            at=rated_at,
        )
        admit()
    return True, Rating(data["solved"], data["score"], data["comment"], rated_at)


def latest(db: Database, agency_id: str, receipt: str) -> Rating | None:
    """The rating that counts: the last one given."""
    row = db.execute(
        "SELECT solved, score, comment, rated_at FROM ratings"
        " WHERE agency_id = ? AND receipt = ? ORDER BY rated_at DESC, rowid DESC LIMIT 1",
        [agency_id, receipt],
    ).fetchone()
    return Rating(*row) if row else None
