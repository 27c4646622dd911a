"""The statistics' counts (``stats_counts``), kept in the transaction of each fact: a
message committed (``enqueue``), an update taken in (``updates.record``), a rating, a
vote. widget.stats reads them; nothing here reads a message's text or contact.

Each message's contribution (the figures it adds to, by month) is kept beside it in
``stats_facts``; a later fact works out the message's contribution again from what is
known now and changes the counts by the difference. So an update arriving out of order
(an extension sent before the answer but taken in after it), a repeat, or a changed
rating leaves the counts as if the facts had come in order, once each.

Months: a message and everything about its answer count in the month it was received
(its cohort: "of January's messages, how many were answered on time"); a rating in the
month it was given (the latest one of the message, on this instance); a vote in the
month it was cast. All in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlite_utils import Database

DAY = 86400

Contribution = frozenset[tuple[str, str]]  # (month, figure)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _month(timestamp: float) -> str:
    return _utc(timestamp).strftime("%Y-%m")


def add(db: Database, agency_id: str, region: str, changes: Iterable[tuple[str, str, int]]):
    """Add ``(month, figure, by)`` to the agency's, its region's and the instance's counts,
    inside the caller's transaction, and note the agency as changed (for sharing)."""
    rows = [
        (scope, key, month, figure, row_region, by)
        for month, figure, by in changes
        for scope, key, row_region in (
            ("agency", agency_id, region),
            ("region", region, region),
            ("instance", "", ""),
        )
    ]
    if not rows:
        return
    db.conn.executemany(
        "INSERT INTO stats_counts (scope, key, month, figure, region, count)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count",
        rows,
    )
    db.execute("INSERT OR IGNORE INTO stats_changed (agency_id) VALUES (?)", [agency_id])


def _move(db: Database, agency_id: str, region: str, old: Contribution, new: Contribution):
    add(
        db,
        agency_id,
        region,
        [(m, f, -1) for m, f in sorted(old - new)] + [(m, f, 1) for m, f in sorted(new - old)],
    )


def message(
    db: Database,
    *,
    agency_id: str,
    region: str,
    name: str,
    receipt: str,
    topic_id: str,
    channel: str,
    received_at: float,
    answer_within_days: int,
) -> None:
    """Count a message just committed (in its transaction)."""
    received = _utc(received_at)
    answer_by = (received.date() + timedelta(days=answer_within_days)).isoformat()
    month = received.strftime("%Y-%m")
    counted = frozenset(
        {
            (month, "messages"),
            (month, f"day:{received.day:02d}"),
            (month, f"topic:{topic_id}"),
            (month, f"channel:{channel}"),
        }
    )
    db.execute(
        "INSERT INTO stats_facts (agency_id, receipt, part, region, received_at, answer_by,"
        " counted) VALUES (?, ?, 'message', ?, ?, ?, ?)",
        [agency_id, receipt, region, received_at, answer_by, _dump(counted)],
    )
    db.execute(
        "INSERT INTO stats_agencies (agency_id, region, name) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET region = excluded.region, name = excluded.name"
        " WHERE region != excluded.region OR name != excluded.name",
        [agency_id, region, name],
    )
    add(db, agency_id, region, [(m, f, 1) for m, f in sorted(counted)])


def updates(db: Database, agency_id: str, receipt: str) -> None:
    """Count what the updates of one message say now (in the transaction that took a new
    one in). Only the instance that holds the message counts it: every instance takes
    every update in, and the others have no row for it here."""
    fact = db.execute(
        "SELECT region, received_at, answer_by, counted FROM stats_facts"
        " WHERE agency_id = ? AND receipt = ? AND part = 'message'",
        [agency_id, receipt],
    ).fetchone()
    if fact is None:
        return
    region, received_at, answer_by, counted = fact
    history = db.execute(
        "SELECT happened_at, status, answer_by FROM updates WHERE agency_id = ? AND receipt = ?"
        " ORDER BY happened_at",
        [agency_id, receipt],
    ).fetchall()
    old = _load(counted)
    month = _month(received_at)
    new = {(m, f) for m, f in old if not f.startswith(("answered", "on_time", "days:"))}
    answered = next((at for at, status, _ in history if status == "answered"), None)
    if answered is not None:
        # The answer-by date in force when it was answered: the last extension made by then.
        extensions = [by for at, _, by in history if by and at <= answered]
        deadline = date.fromisoformat(extensions[-1] if extensions else answer_by)
        days = max(0, int((answered - received_at) // DAY))
        new |= {(month, "answered"), (month, f"days:{days}")}
        if _utc(answered).date() <= deadline:
            new.add((month, "on_time"))
    new = frozenset(new)
    if new != old:
        db.execute(
            "UPDATE stats_facts SET counted = ? WHERE agency_id = ? AND receipt = ?"
            " AND part = 'message'",
            [_dump(new), agency_id, receipt],
        )
        _move(db, agency_id, region, old, new)


def rating(
    db: Database, *, agency_id: str, region: str, receipt: str, score: int, solved: str, at: float
) -> None:
    """Count a rating (in its transaction): it takes the place of the message's earlier
    rating taken here, if any."""
    new = frozenset({(_month(at), f"score:{score}:{solved}")})
    row = db.execute(
        "SELECT region, counted FROM stats_facts"
        " WHERE agency_id = ? AND receipt = ? AND part = 'rating'",
        [agency_id, receipt],
    ).fetchone()
    if row is None:
        db.execute(
            "INSERT INTO stats_facts (agency_id, receipt, part, region, counted)"
            " VALUES (?, ?, 'rating', ?, ?)",
            [agency_id, receipt, region, _dump(new)],
        )
        _move(db, agency_id, region, frozenset(), new)
        return
    region_then, counted = row
    db.execute(
        "UPDATE stats_facts SET counted = ? WHERE agency_id = ? AND receipt = ?"
        " AND part = 'rating'",
        [_dump(new), agency_id, receipt],
    )
    _move(db, agency_id, region_then, _load(counted), new)


def vote(db: Database, *, agency_id: str, region: str, poll_id: str, at: float) -> None:
    """Count a vote (in its transaction): the votes, and the poll as held that month."""
    month = _month(at)
    add(db, agency_id, region, [(month, "votes", 1), (month, f"poll:{agency_id}/{poll_id}", 1)])


def _dump(contribution: Contribution) -> str:
    return json.dumps(sorted(contribution), separators=(",", ":"))


def _load(counted: str) -> Contribution:
    return frozenset(tuple(pair) for pair in json.loads(counted))
