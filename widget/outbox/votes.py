"""Votes in public polls: each one's ``poll.voted.v1`` event in ``messages`` for the
forwarder, and (by default) the poll's tallies, committed together."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlite_utils import Database

from . import counts, insert_outgoing, write_transaction

Counts = dict[tuple[str, str], int]  # (question id, choice) -> votes; ("", "") -> all votes


def record(
    db: Database,
    event: dict,
    *,
    nonce: str,
    routing_key: str,
    tally: Callable[[Database], None] = lambda db: None,
    admit: Callable[[], None] = lambda: None,
) -> bool:
    """Commit the vote ``event`` holds (``synchronous=FULL``: on disk when this returns);
    ``tally(db)`` adds it to the tallies in the same transaction. A token's ``nonce``
    votes once: posted again, nothing is stored and False comes back. ``admit()`` is
    called last before the commit and may raise to refuse the vote."""
    data, now = event["data"], time.time()
    with write_transaction(db):
        if db.execute("SELECT 1 FROM messages WHERE token_nonce = ?", [nonce]).fetchone():
            return False
        insert_outgoing(
            db,
            event,
            nonce=nonce,
            agency_id=data["agency_id"],
            topic_id=data["poll_id"],
            lang=data["lang"],
            routing_key=routing_key,
            now=now,
            kind="vote",
        )
        tally(db)
        counts.vote(
            db,
            agency_id=data["agency_id"],
            region=data["region"],
            poll_id=data["poll_id"],
            at=now,
        )
        admit()
    return True


def rows_of(answers: dict) -> list[tuple[str, str]]:
    """What one vote adds to: ("", "") for the votes, (question id, "") for the votes that
    answered the question, and (question id, choice) for each answer."""
    rows = [("", "")]
    for question_id, chosen in answers.items():
        rows.append((question_id, ""))
        rows.extend((question_id, str(c)) for c in chosen)
    return rows


def add_to_tally(
    db: Database, agency_id: str, poll_id: str, answers: dict, fingerprints: dict[str, str]
) -> None:
    """Count one vote's ``answers`` (question id: [choices]) inside the caller's
    transaction, and keep each question's fingerprint if it is the poll's first vote."""
    db.conn.executemany(
        "INSERT INTO poll_tallies (agency_id, poll_id, question_id, choice, count)"
        " VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1",
        [(agency_id, poll_id, q, c) for q, c in rows_of(answers)],
    )
    db.conn.executemany(
        "INSERT OR IGNORE INTO poll_questions (agency_id, poll_id, question_id, fingerprint)"
        " VALUES (?, ?, ?, ?)",
        [(agency_id, poll_id, q, f) for q, f in fingerprints.items()],
    )


def tally(db: Database, agency_id: str, poll_id: str) -> Counts:
    return {
        (q, c): n
        for q, c, n in db.execute(
            "SELECT question_id, choice, count FROM poll_tallies"
            " WHERE agency_id = ? AND poll_id = ?",
            [agency_id, poll_id],
        )
    }


def votes(db: Database, agency_id: str, poll_id: str) -> int:
    """The poll's votes (0 before the first). Every vote adds one to them in the
    transaction that adds its answers, and nothing takes any away, so the number also
    tells one state of the whole tally from another: a kept results page is keyed by it
    (widget/web/polls.py)."""
    row = db.execute(
        "SELECT count FROM poll_tallies"
        " WHERE agency_id = ? AND poll_id = ? AND question_id = '' AND choice = ''",
        [agency_id, poll_id],
    ).fetchone()
    return row[0] if row else 0


def fingerprints(db: Database, agency_id: str, poll_id: str) -> dict[str, str]:
    return dict(
        db.execute(
            "SELECT question_id, fingerprint FROM poll_questions"
            " WHERE agency_id = ? AND poll_id = ?",
            [agency_id, poll_id],
        ).fetchall()
    )
