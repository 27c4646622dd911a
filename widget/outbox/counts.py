"""The statistics' counts (``stats_rows``, ``stats_counts``), kept in the transaction of
each fact: a message committed (``enqueue``), an update taken in (``updates.record``), a
rating, a vote. widget.stats reads them; nothing here reads a message's text or contact.

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
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlite_utils import Database

DAY = 86400

Contribution = frozenset[tuple[str, str]]  # (month, figure)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _month(timestamp: float) -> str:
    return _utc(timestamp).strftime("%Y-%m")


# Where each figure is kept. The figures of a table row (a region's agencies, the
# instance's regions) are columns of ``stats_rows``, one row per scope, key and month, so
# that a region's page sums a few thousand rows, not a hundred thousand; an agency's
# answer times there are the list of whole days each answer took (``days``). The
# breakdowns that only a scope's own page shows are rows of ``stats_counts``.
ROW_FIGURES = ("messages", "answered", "on_time", "ratings", "votes")
# ... and the ratings' scores summed, and how many said "solved" (from "score:<s>:<solved>")
ROW_COLUMNS = (*ROW_FIGURES, "score_sum", "solved")
# Breakdowns kept for the agency only (no page shows them for a region), and for a
# region only (an agency's are in its row's list of days).
AGENCY_ONLY = ("topic:",)
REGION_ONLY = ("days:",)


def _scopes(agency_id: str, region: str) -> tuple[tuple[str, str], ...]:
    """Where a fact of the agency counts: (scope, key)."""
    return (("agency", agency_id), ("region", region))


def add(
    db: Database,
    agency_id: str,
    region: str,
    changes: list[tuple[str, str, int]],
    instance: str = "",
):
    """Add ``(month, figure, by)`` to the agency's and its region's counts, inside the
    caller's transaction, and note the agency as changed (for sharing). The instance's
    figures are its regions' summed. ``instance``: a peer's id, for its counts merged in
    (``merge``)."""
    if not changes:
        return
    columns: dict[str, Counter] = defaultdict(Counter)  # month -> column -> by
    days: dict[str, Counter] = defaultdict(Counter)  # month -> whole days -> by
    breakdowns = []
    for month, figure, by in changes:
        if figure in ROW_FIGURES:
            columns[month][figure] += by
            continue
        if figure.startswith("score:"):  # "score:<s>:<solved>": the row's mean and share
            _, score, solved = figure.split(":")
            columns[month]["score_sum"] += int(score) * by
            columns[month]["solved"] += by if solved == "yes" else 0
        elif figure.startswith("days:"):
            days[month][int(figure[5:])] += by
        for scope, key in _scopes(agency_id, region):
            if not figure.startswith(AGENCY_ONLY if scope == "region" else REGION_ONLY):
                breakdowns.append((scope, key, month, figure, instance, region, by))
    rows = []  # every month changed, even by a breakdown only: its rows count the change
    for month in sorted({month for month, _, _ in changes}):
        by = [columns[month][name] for name in ROW_COLUMNS]
        rows += [(s, region, key, month, instance, *by) for s, key in _scopes(agency_id, region)]
    db.conn.executemany(
        "INSERT INTO stats_rows (scope, region, key, month, instance, messages, answered,"
        " on_time, ratings, votes, score_sum, solved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,"
        " answered = answered + excluded.answered, on_time = on_time + excluded.on_time,"
        " ratings = ratings + excluded.ratings, votes = votes + excluded.votes,"
        " score_sum = score_sum + excluded.score_sum, solved = solved + excluded.solved,"
        " changes = changes + 1",
        rows,
    )
    for month, by_days in sorted(days.items()):
        _change_days(db, (region, agency_id, month, instance), by_days)
    if breakdowns:
        db.conn.executemany(
            "INSERT INTO stats_counts (scope, key, month, figure, instance, region, count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET count = count + excluded.count",
            breakdowns,
        )
    if not instance:
        db.execute(
            "INSERT INTO stats_changed (agency_id, version) VALUES (?, 1)"
            " ON CONFLICT DO UPDATE SET version = version + 1",
            [agency_id],
        )
    for month in sorted({month for month, figure, _ in changes if figure == "ratings"}):
        small_ratings(db, region, month)


def _change_days(db: Database, row: tuple[str, str, str, str], by_days: Counter) -> None:
    """Add to (or take from) the list of days of an agency's row (region, key, month,
    instance), which exists."""
    (listed,) = db.execute(
        "SELECT days FROM stats_rows WHERE scope = 'agency' AND region = ? AND key = ?"
        " AND month = ? AND instance = ?",
        row,
    ).fetchone()
    now = days_of(listed) + by_days
    db.execute(
        "UPDATE stats_rows SET days = ? WHERE scope = 'agency' AND region = ? AND key = ?"
        " AND month = ? AND instance = ?",
        [",".join(map(str, sorted(now.elements()))), *row],
    )


def days_of(listed: str | None) -> Counter:
    """A row's list of days ("0,3,3,17"), or several joined, as days -> answers."""
    return Counter(each_answer(listed))


def each_answer(listed: str | None) -> list[int]:
    """A row's list of days, or several joined by commas: each answer's, sorted (read
    as JSON, in C: a region's page reads 2,000 of them)."""
    return sorted(json.loads(f"[{listed}]")) if listed else []


def small_ratings(db: Database, region: str, month: str) -> None:
    """Work out again the ratings of the region's agencies that had 1 to 4 in ``month``,
    from the counts of every instance."""
    (small,) = db.execute(
        "SELECT coalesce(sum(n), 0) FROM (SELECT sum(ratings) AS n FROM stats_rows"
        " WHERE scope = 'agency' AND region = ? AND month = ? AND ratings != 0"
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
    _label(db, agency_id, region, name)
    add(db, agency_id, region, [(m, f, 1) for m, f in sorted(counted)])


def _label(db: Database, agency_id: str, region: str, name: str | None = None) -> None:
    """Note the agency as counted in ``region`` (an agency's page finds its counts by
    it), with its name (a region's page labels its rows with it): ``name`` None keeps
    the one known, or the agency's id until a message gives its name."""
    if name is None:
        db.execute(
            "INSERT OR IGNORE INTO stats_agencies (region, agency_id, name) VALUES (?, ?, ?)",
            [region, agency_id, agency_id],
        )
        return
    db.execute(
        "INSERT INTO stats_agencies (region, agency_id, name) VALUES (?, ?, ?)"
        " ON CONFLICT DO UPDATE SET name = excluded.name WHERE name != excluded.name",
        [region, agency_id, name],
    )


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
        _label(db, agency_id, region)  # the message may have been taken on another instance
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
    _label(db, agency_id, region)
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

Rows = list[tuple[str, str, int]]  # (month, figure, count)
POLL = "substr(figure, 1, 5) = 'poll:'"  # as the index stats_counts_polls is written


def of_scope(db: Database, scope: str, key: str, first: str, last: str) -> Rows:
    """Every figure of the instance (``key`` ''), a region or an agency, per month: the
    row figures, the breakdowns, and the answers by whole days ("days:<n>")."""
    if scope == "instance":  # its regions, summed
        rows_where, rows_args = "scope = 'region'", []
        counts_where, counts_args = "scope = 'region'", []
    elif scope == "region":
        rows_where, rows_args = "scope = 'region' AND region = ? AND key = ?", [key, key]
        counts_where, counts_args = "scope = 'region' AND key = ?", [key]
    else:  # an agency, in each region it was counted in (one, unless it moved)
        counted_in = [region for region, _ in labels(db, key)]
        rows_where = f"scope = 'agency' AND region IN ({', '.join('?' * len(counted_in))})"
        rows_where, rows_args = rows_where + " AND key = ?", [*counted_in, key]
        counts_where, counts_args = "scope = 'agency' AND key = ?", [key]
    sums = ", ".join(f"sum({name})" for name in ROW_COLUMNS)
    out: Rows = []
    for month, *figures, days in db.execute(
        f"SELECT month, {sums}, group_concat(nullif(days, '')) FROM stats_rows"
        f" WHERE {rows_where} AND month BETWEEN ? AND ? GROUP BY month",
        [*rows_args, first, last],
    ):
        out += [(month, name, n) for name, n in zip(ROW_COLUMNS, figures, strict=True) if n]
        out += [(month, f"days:{d}", n) for d, n in sorted(days_of(days).items())]
    out += db.execute(
        "SELECT month, figure, sum(count) FROM stats_counts"
        f" WHERE {counts_where} AND month BETWEEN ? AND ? GROUP BY month, figure",
        [*counts_args, first, last],
    ).fetchall()
    return out


@dataclass
class Line:
    """One table row's counts over a period, summed over its months and instances."""

    counts: dict[str, int]  # ROW_COLUMNS, and "poll:<agency>/<poll>" of those it had
    # Answers by whole days: an agency's as its rows list them ("0,3,3,17,2,5": read by
    # each_answer when a figure needs them; a region's page shows a hundred of its
    # agencies at a time), or days -> answers (a region's, too many to list).
    days: str | Counter
    fewest_ratings: int  # in a month of the period that had any (0: none had)
    month_ratings: dict[str, int]  # month -> ratings: a region's, on the instance's page


def of_rows(db: Database, region: str | None, first: str, last: str) -> dict[str, Line]:
    """The table rows of a region's page (its agencies) or, ``region`` None, of the
    instance's (its regions), over the period, by key."""
    scope, where, args = ("agency", " AND region = ?", [region]) if region else ("region", "", [])
    args = [scope, *args, first, last]
    sums = ", ".join(f"sum({name})" for name in ROW_COLUMNS)
    lines: dict[str, Line] = {}
    shared = []  # keys with a peer's counts too: a month's ratings are in several rows
    for key, *figures, days, fewest, peers in db.execute(
        f"SELECT key, {sums}, group_concat(nullif(days, '')), min(nullif(ratings, 0)),"
        " max(instance != '') FROM stats_rows"
        f" WHERE scope = ?{where} AND month BETWEEN ? AND ? GROUP BY key",
        args,
    ):
        counts = dict(zip(ROW_COLUMNS, figures, strict=True))
        lines[key] = Line(counts, days or "", fewest or 0, {})
        if peers:
            shared.append(key)
    if shared or region is None:
        monthly = defaultdict(dict)
        for key, month, n in db.execute(
            "SELECT key, month, sum(ratings) FROM stats_rows"
            f" WHERE scope = ?{where} AND month BETWEEN ? AND ? AND ratings != 0"
            " GROUP BY key, month",
            args,
        ):
            monthly[key][month] = n
        for key in shared:
            lines[key].fewest_ratings = min(monthly[key].values(), default=0)
        if region is None:
            for key, line in lines.items():
                line.month_ratings = monthly[key]
    for key, figure, n in db.execute(
        "SELECT key, figure, sum(count) FROM stats_counts"
        f" WHERE scope = ?{where} AND month BETWEEN ? AND ? AND {POLL} GROUP BY key, figure",
        args,
    ):
        lines[key].counts[figure] = n
    if region is None:  # a region's answers by days are breakdowns, not a list
        for line in lines.values():
            line.days = Counter()
        for key, figure, n in db.execute(
            "SELECT key, figure, sum(count) FROM stats_counts WHERE scope = 'region'"
            " AND month BETWEEN ? AND ? AND substr(figure, 1, 5) = 'days:' GROUP BY key, figure",
            [first, last],
        ):
            lines[key].days[int(figure[5:])] = n
    return lines


def version(db: Database, region: str | None) -> int:
    """A number that grows with every change to a region's counts (``region`` None: to
    any region's), whoever made it: a report kept while it stays the same is the one
    that would be made now."""
    where, args = ("", []) if region is None else (" AND region = ?", [region])
    (changes,) = db.execute(
        f"SELECT coalesce(sum(changes), 0) FROM stats_rows WHERE scope = 'region'{where}", args
    ).fetchone()
    return changes


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
    return [r for (r,) in db.execute("SELECT DISTINCT key FROM stats_rows WHERE scope = 'region'")]


def region_counted(db: Database, region: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM stats_rows WHERE scope = 'region' AND region = ? LIMIT 1", [region]
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
    names = ("messages", "answered", "on_time", "ratings")
    sums = db.execute(
        f"SELECT {', '.join(f'coalesce(sum({n}), 0)' for n in names)} FROM stats_rows"
        " WHERE scope = 'region' AND instance = ''"
    ).fetchone()
    return dict(zip(names, sums, strict=True))


# Sharing (widget.stats.sharing): this instance's counts of an agency out, a peer's in.


def changed(db: Database, limit: int) -> list[tuple[str, int]]:
    """Agencies whose counts changed since they were last shared, with their version."""
    return db.execute("SELECT agency_id, version FROM stats_changed LIMIT ?", [limit]).fetchall()


def own(db: Database, agency_id: str, instance: str = "") -> list[tuple[str, str, str, int]]:
    """This instance's own counts of one agency (or a peer's, as merged in): (region,
    month, figure, count), the figures as ``add`` takes them."""
    out = []
    for region, month, *sums, days in db.execute(
        f"SELECT region, month, {', '.join(ROW_FIGURES)}, days FROM stats_rows"
        " WHERE scope = 'agency' AND region IN (SELECT region FROM stats_agencies"
        " WHERE agency_id = ?) AND key = ? AND instance = ?",
        [agency_id, agency_id, instance],
    ):
        out += [(region, month, f, n) for f, n in zip(ROW_FIGURES, sums, strict=True) if n]
        out += [(region, month, f"days:{d}", n) for d, n in sorted(days_of(days).items())]
    out += db.execute(
        "SELECT region, month, figure, count FROM stats_counts"
        " WHERE scope = 'agency' AND key = ? AND instance = ? AND count != 0",
        [agency_id, instance],
    ).fetchall()
    return out


def labels(db: Database, agency_id: str) -> list[tuple[str, str]]:
    """The agency's (region, name) as counted: one, unless it moved to another region."""
    return db.execute(
        "SELECT region, name FROM stats_agencies WHERE agency_id = ?", [agency_id]
    ).fetchall()


def shared(db: Database, sent: list[tuple[str, int]]) -> None:
    """Forget the changes sent, unless the agency changed again meanwhile (in the
    caller's transaction)."""
    db.conn.executemany("DELETE FROM stats_changed WHERE agency_id = ? AND version = ?", sent)


def merge(db: Database, instance: str, agency_id: str, labelled, rows) -> None:
    """Take a peer's counts of one agency, as ``own`` and ``labels`` give them, in place
    of those it sent before (in the caller's transaction)."""
    for region, name in labelled:
        _label(db, agency_id, region, name)
    before = {(r, m, f): n for r, m, f, n in own(db, agency_id, instance)}
    after = {(r, m, f): n for r, m, f, n in rows}
    changes: dict[str, list] = defaultdict(list)  # region -> (month, figure, by)
    for region, month, figure in sorted(before.keys() | after.keys()):
        by = after.get((region, month, figure), 0) - before.get((region, month, figure), 0)
        if by:
            changes[region].append((month, figure, by))
    for region, changed_there in sorted(changes.items()):
        add(db, agency_id, region, changed_there, instance=instance)
