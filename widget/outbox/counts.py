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
from datetime import UTC, date, datetime, timedelta

from sqlite_utils import Database

DAY = 86400

Contribution = frozenset[tuple[str, str]]  # (month, figure)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _month(timestamp: float) -> str:
    return _utc(timestamp).strftime("%Y-%m")


def add(
    db: Database,
    agency_id: str,
    region: str,
    changes: list[tuple[str, str, int]],
    instance: str = "",
):
    """Add ``(month, figure, by)`` to the agency's, its region's and the instance's counts,
    inside the caller's transaction, and note the agency as changed (for sharing).
    ``instance``: a peer's id, for its counts merged in (``merge``)."""
    rows = [
        (scope, key, month, figure, instance, row_region, by)
        for month, figure, by in changes
        for scope, key, row_region in (
            ("agency", agency_id, region),
            ("region", region, region),
            ("instance", "", ""),
        )
        # an agency's topics are its own: no page shows them for a region or the instance
        if scope == "agency" or not figure.startswith("topic:")
    ]
    if not rows:
        return
    db.conn.executemany(
        "INSERT INTO stats_counts (scope, key, month, figure, instance, region, count)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count",
        rows,
    )
    if not instance:
        db.execute(
            "INSERT INTO stats_changed (agency_id, version) VALUES (?, 1)"
            " ON CONFLICT DO UPDATE SET version = version + 1",
            [agency_id],
        )
    for month in sorted({month for month, figure, _ in changes if figure == "ratings"}):
        small_ratings(db, region, month)


def small_ratings(db: Database, region: str, month: str) -> None:
    """Work out again the ratings of the region's agencies that had 1 to 4 in ``month``,
    from the counts of every instance."""
    (small,) = db.execute(
        # (by its index: grouping by key, the planner would scan every agency)
        "SELECT coalesce(sum(n), 0) FROM (SELECT sum(count) AS n FROM stats_counts"
        " INDEXED BY stats_counts_ratings"
        " WHERE scope = 'agency' AND region = ? AND month = ? AND figure = 'ratings'"
        " GROUP BY key) WHERE n BETWEEN 1 AND 4",
        [region, month],
    ).fetchone()
    db.execute(
        "INSERT INTO stats_small (region, month, ratings) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET ratings = excluded.ratings",
        [region, month, small],
    )


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
    fact = _fact(db, agency_id, receipt, "message")
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
    _replace(db, agency_id, receipt, "message", region, old, frozenset(new))


def rating(
    db: Database, *, agency_id: str, region: str, receipt: str, score: int, solved: str, at: float
) -> None:
    """Count a rating (in its transaction): it takes the place of the message's earlier
    rating taken here, if any."""
    new = frozenset({(_month(at), "ratings"), (_month(at), f"score:{score}:{solved}")})
    row = _fact(db, agency_id, receipt, "rating")
    if row is None:
        db.execute(
            "INSERT INTO stats_facts (agency_id, receipt, part, region, counted)"
            " VALUES (?, ?, 'rating', ?, ?)",
            [agency_id, receipt, region, _dump(new)],
        )
        _move(db, agency_id, region, frozenset(), new)
        return
    region_then, _, _, counted = row
    _replace(db, agency_id, receipt, "rating", region_then, _load(counted), new)


def vote(db: Database, *, agency_id: str, region: str, poll_id: str, at: float) -> None:
    """Count a vote (in its transaction): the votes, and the poll as held that month."""
    month = _month(at)
    add(db, agency_id, region, [(month, "votes", 1), (month, f"poll:{agency_id}/{poll_id}", 1)])


def _fact(db: Database, agency_id: str, receipt: str, part: str):
    return db.execute(
        "SELECT region, received_at, answer_by, counted FROM stats_facts"
        " WHERE agency_id = ? AND receipt = ? AND part = ?",
        [agency_id, receipt, part],
    ).fetchone()


def _replace(db, agency_id, receipt, part, region, old: Contribution, new: Contribution):
    """Keep ``new`` as what the fact adds, and move the counts from ``old`` to it."""
    if new == old:
        return
    db.execute(
        "UPDATE stats_facts SET counted = ? WHERE agency_id = ? AND receipt = ? AND part = ?",
        [_dump(new), agency_id, receipt, part],
    )
    _move(db, agency_id, region, old, new)


def _dump(contribution: Contribution) -> str:
    return json.dumps(sorted(contribution), separators=(",", ":"))


def _load(counted: str) -> Contribution:
    return frozenset(tuple(pair) for pair in json.loads(counted))


# Reading (widget.stats): the counts of every instance, summed.

Rows = list[tuple[str, str, str, int]]  # (key, month, figure, count)

# The figures a table row needs: not the breakdowns by topic, channel and day (written
# as the index stats_counts_rows is, so that SQLite uses it).
ROW_FIGURES = "substr(figure, 1, 4) NOT IN ('topi', 'chan', 'day:')"


def of_scope(db: Database, scope: str, key: str, first: str, last: str) -> Rows:
    return db.execute(
        "SELECT key, month, figure, sum(count) FROM stats_counts"
        " WHERE scope = ? AND key = ? AND month BETWEEN ? AND ? GROUP BY month, figure",
        [scope, key, first, last],
    ).fetchall()


def of_rows(db: Database, scope: str, region: str | None, first: str, last: str):
    """The table figures of every region (``region`` None) or of a region's agencies:
    (key, figure, count) over the period, and (key, month, ratings) per month."""
    where, args = ("", []) if region is None else (" AND region = ?", [region])
    args = [scope, *args, first, last]
    sums = db.execute(
        "SELECT key, figure, sum(count) FROM stats_counts"
        f" WHERE scope = ?{where} AND month BETWEEN ? AND ? AND {ROW_FIGURES}"
        " GROUP BY key, figure",
        args,
    ).fetchall()
    ratings = db.execute(
        "SELECT key, month, sum(count) FROM stats_counts"
        f" WHERE scope = ?{where} AND month BETWEEN ? AND ? AND figure = 'ratings'"
        " GROUP BY key, month",
        args,
    ).fetchall()
    return sums, ratings


def small(db: Database, first: str, last: str) -> dict[tuple[str, str], int]:
    """(region, month): the ratings of its agencies with 1 to 4 that month."""
    return {
        (region, month): n
        for region, month, n in db.execute(
            "SELECT region, month, ratings FROM stats_small WHERE month BETWEEN ? AND ?",
            [first, last],
        )
    }


def regions(db: Database) -> list[str]:
    """The regions with any count."""
    return [
        r for (r,) in db.execute("SELECT DISTINCT key FROM stats_counts WHERE scope = 'region'")
    ]


def region_counted(db: Database, region: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM stats_counts WHERE scope = 'region' AND key = ? LIMIT 1", [region]
        ).fetchone()
    )


def agency_names(db: Database, region: str | None = None, agency_id: str | None = None):
    """Agency id -> name, as counted: of a region's agencies, or of one."""
    column, value = ("region", region) if agency_id is None else ("agency_id", agency_id)
    return dict(
        db.execute(
            f"SELECT agency_id, name FROM stats_agencies WHERE {column} = ?", [value]
        ).fetchall()
    )


def totals(db: Database) -> dict[str, int]:
    """This instance's own counts of every month (Prometheus: each instance reports its
    own, and a sum over instances is the deployment's)."""
    return dict(
        db.execute(
            "SELECT figure, sum(count) FROM stats_counts WHERE scope = 'instance'"
            " AND instance = '' AND figure IN ('messages', 'answered', 'on_time', 'ratings')"
            " GROUP BY figure"
        ).fetchall()
    )


# Sharing (widget.stats.sharing): this instance's counts of an agency out, a peer's in.


def changed(db: Database, limit: int) -> list[tuple[str, int]]:
    """Agencies whose counts changed since they were last shared, with their version."""
    return db.execute("SELECT agency_id, version FROM stats_changed LIMIT ?", [limit]).fetchall()


def own(db: Database, agency_id: str) -> tuple[str | None, list[tuple[str, str, int]]]:
    """This instance's own counts of one agency: its region and (month, figure, count)."""
    rows = db.execute(
        "SELECT region, month, figure, count FROM stats_counts"
        " WHERE scope = 'agency' AND key = ? AND instance = '' AND count != 0",
        [agency_id],
    ).fetchall()
    return (rows[0][0] if rows else None), [(m, f, n) for _, m, f, n in rows]


def shared(db: Database, sent: list[tuple[str, int]]) -> None:
    """Forget the changes sent, unless the agency changed again meanwhile (in the
    caller's transaction)."""
    db.conn.executemany("DELETE FROM stats_changed WHERE agency_id = ? AND version = ?", sent)


def merge(db: Database, instance: str, agency_id: str, region: str, rows) -> None:
    """Take a peer's counts of one agency in place of those it sent before (in the
    caller's transaction)."""
    before = {
        (m, f): n
        for m, f, n in db.execute(
            "SELECT month, figure, count FROM stats_counts"
            " WHERE scope = 'agency' AND key = ? AND instance = ?",
            [agency_id, instance],
        )
    }
    after = {(m, f): n for m, f, n in rows}
    changes = [
        (m, f, after.get((m, f), 0) - before.get((m, f), 0))
        for m, f in sorted(before.keys() | after.keys())
        if after.get((m, f), 0) != before.get((m, f), 0)
    ]
    add(db, agency_id, region, changes, instance=instance)
