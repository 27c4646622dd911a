"""What anyone may read of an agency's messages (Open311's ``GET requests``): receipts,
topics, when each was received and the statuses the updates brought. Never the event:
its text and contact data are not public, and a delivered message no longer has them.

A list (no receipts given) holds only the requests posted over Open311: a message a
citizen wrote in the widget is found by its receipt alone, as on the status page, so
that no list tells who wrote to a small agency about what, and when (the statistics
hide such small numbers: docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from ..progress import Progress
from .updates import histories

BATCH = 500  # receipts whose updates are read in one query


@dataclass(frozen=True)
class Listed:
    receipt: str
    topic_id: str
    created_at: float  # when the outbox took it, Unix seconds
    progress: Progress


def messages(
    db: Database,
    agency_id: str,
    *,
    receipts: Sequence[str] = (),
    topics: Sequence[str] = (),
    since: float | None = None,
    until: float | None = None,
) -> Iterator[Listed]:
    """The agency's messages still in this outbox, newest first: those with
    ``receipts`` when given, else those of ``topics`` (any, when empty) received between
    ``since`` and ``until``. Each with its updates; the caller stops when it has enough."""
    where, values = ["agency_id = ?", "kind = 'message'"], [agency_id]
    if receipts:
        where.append(f"receipt IN ({', '.join('?' * len(receipts))})")
        values += receipts
    else:
        where.append("channel = 'open311'")
        if topics:
            where.append(f"topic_id IN ({', '.join('?' * len(topics))})")
            values += topics
        if since is not None:
            where.append("created_at >= ?")
            values.append(since)
        if until is not None:
            where.append("created_at <= ?")
            values.append(until)
    rows = db.execute(
        f"SELECT receipt, topic_id, created_at FROM messages WHERE {' AND '.join(where)}"
        " ORDER BY created_at DESC, receipt",
        values,
    )
    while batch := rows.fetchmany(BATCH):
        found = histories(db, agency_id, [receipt for receipt, _, _ in batch])
        for receipt, topic_id, created_at in batch:
            yield Listed(receipt, topic_id, created_at, Progress(tuple(found.get(receipt, ()))))
