"""The outbox's schema, as named, ordered migrations: each one transaction, recorded in
the database. The schema changes only by appending one here."""

from __future__ import annotations

import re

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("otklik.outbox")


@MIGRATIONS(name="0001_messages")
def _messages(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,              -- the event id, a UUID
            receipt TEXT NOT NULL UNIQUE,     -- what the citizen is shown
            token_nonce TEXT NOT NULL UNIQUE, -- makes the form token single-use
            agency_id TEXT NOT NULL,
            topic_id TEXT NOT NULL,
            lang TEXT NOT NULL,
            routing_key TEXT NOT NULL,
            event TEXT,                       -- the CloudEvent (JSON); NULL once delivered
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            lease_until REAL,                 -- a forwarder holds the row until then
            last_error TEXT,
            created_at REAL NOT NULL,
            delivered_at REAL
        )
        """
    )
    db.execute("CREATE INDEX messages_due ON messages (status, next_attempt_at)")


@MIGRATIONS(name="0002_lease_owner")
def _lease_owner(db: Database) -> None:
    # Which forwarder holds the lease: a forwarder whose lease ran out and was taken
    # over by another must not overwrite that one's retry or dead-letter decision.
    db.execute("ALTER TABLE messages ADD COLUMN lease_owner TEXT")
    # Retention: purge finds old delivered rows without reading the whole table.
    db.execute("CREATE INDEX messages_delivered ON messages (status, delivered_at)")


@MIGRATIONS(name="0003_uploads")
def _uploads(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            token_nonce TEXT NOT NULL,   -- the form token the file was uploaded with
            agency_id TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            content BLOB NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX uploads_token ON uploads (token_nonce)")
    db.execute("CREATE INDEX uploads_age ON uploads (created_at)")


@MIGRATIONS(name="0004_updates")
def _updates(db: Database) -> None:
    # Statuses and answers from the central system (outbox.updates), kept by receipt
    # whether or not this instance took the message: no key to messages.
    db.execute(
        """
        CREATE TABLE updates (
            id TEXT PRIMARY KEY,              -- the event id: a repeat is dropped
            source TEXT NOT NULL,
            time TEXT NOT NULL,               -- as sent, with its offset
            happened_at REAL NOT NULL,        -- the same moment in Unix seconds
            receipt TEXT NOT NULL,
            agency_id TEXT NOT NULL,
            status TEXT NOT NULL,
            message_id TEXT,
            answer TEXT,                      -- personal data
            answered_by TEXT,
            answer_by TEXT,                   -- YYYY-MM-DD
            redirected_to TEXT,
            note TEXT,
            intake TEXT NOT NULL,             -- spool, amqp or http
            received_at REAL NOT NULL         -- when it was committed here
        )
        """
    )
    db.execute("CREATE INDEX updates_receipt ON updates (agency_id, receipt)")


@MIGRATIONS(name="0005_ratings")
def _ratings(db: Database) -> None:
    # A rating leaves through the forwarder as a message does, so its event is a row of
    # ``messages`` too (``kind``); a message's rows keep their receipt unique, a
    # rating's row names the receipt it rates. SQLite cannot drop a UNIQUE constraint:
    # the table is built again, its rows copied.
    columns = (
        "id, receipt, token_nonce, agency_id, topic_id, lang, routing_key, event, status,"
        " attempts, next_attempt_at, lease_until, last_error, created_at, delivered_at,"
        " lease_owner"
    )
    db.execute(
        """
        CREATE TABLE messages_rebuilt (
            id TEXT PRIMARY KEY,              -- the event id, a UUID
            receipt TEXT NOT NULL,            -- what the citizen is shown (of the message rated)
            token_nonce TEXT NOT NULL UNIQUE, -- makes the form token single-use
            agency_id TEXT NOT NULL,
            topic_id TEXT NOT NULL,
            lang TEXT NOT NULL,
            routing_key TEXT NOT NULL,
            event TEXT,                       -- the CloudEvent (JSON); NULL once delivered
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            lease_until REAL,                 -- a forwarder holds the row until then
            last_error TEXT,
            created_at REAL NOT NULL,
            delivered_at REAL,
            lease_owner TEXT,
            kind TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'rating'))
        )
        """
    )
    db.execute(f"INSERT INTO messages_rebuilt ({columns}) SELECT {columns} FROM messages")
    db.execute("DROP TABLE messages")
    db.execute("ALTER TABLE messages_rebuilt RENAME TO messages")
    db.execute("CREATE UNIQUE INDEX messages_receipt ON messages (receipt) WHERE kind = 'message'")
    db.execute("CREATE INDEX messages_due ON messages (status, next_attempt_at)")
    db.execute("CREATE INDEX messages_delivered ON messages (status, delivered_at)")
    # The citizen's ratings, every one (the latest counts): what the message's page
    # shows back. ``id`` is the rating's event id, its row in ``messages``.
    db.execute(
        """
        CREATE TABLE ratings (
            id TEXT PRIMARY KEY,
            receipt TEXT NOT NULL,
            agency_id TEXT NOT NULL,
            solved TEXT NOT NULL,
            score INTEGER NOT NULL,
            comment TEXT,                     -- personal data: NULL once delivered
            lang TEXT NOT NULL,
            channel TEXT NOT NULL,
            rated_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX ratings_receipt ON ratings (agency_id, receipt, rated_at)")


@MIGRATIONS(name="0006_votes")
def _votes(db: Database) -> None:
    # A vote leaves through the forwarder as a message does: a row of ``messages`` of
    # kind 'vote'. The CHECK on ``kind`` can only change by building the table again,
    # from its own definition (so it stays written once, in 0005).
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()
    old = "CHECK (kind IN ('message', 'rating'))"
    if old not in sql:
        raise RuntimeError("messages: the kind's CHECK is not as 0005 wrote it")
    sql = sql.replace(old, "CHECK (kind IN ('message', 'rating', 'vote'))")
    # (a renamed table's definition names it in quotes)
    sql = re.sub(r'^CREATE TABLE "?messages"?', "CREATE TABLE messages_rebuilt", sql, count=1)
    indexes = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
            " AND sql IS NOT NULL"
        )
    ]
    db.execute(sql)
    db.execute("INSERT INTO messages_rebuilt SELECT * FROM messages")
    db.execute("DROP TABLE messages")
    db.execute("ALTER TABLE messages_rebuilt RENAME TO messages")
    for index in indexes:
        db.execute(index)
    # The tallies, kept as votes arrive (in the vote's transaction): a row per answer
    # given, and one per poll with question '' counting the votes.
    db.execute(
        """
        CREATE TABLE poll_tallies (
            agency_id TEXT NOT NULL,
            poll_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            choice TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (agency_id, poll_id, question_id, choice)
        ) WITHOUT ROWID
        """
    )
    # Each question's shape at the poll's first vote: an edit that changes it after
    # that is refused by `flask agencies check`.
    db.execute(
        """
        CREATE TABLE poll_questions (
            agency_id TEXT NOT NULL,
            poll_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            PRIMARY KEY (agency_id, poll_id, question_id)
        ) WITHOUT ROWID
        """
    )


@MIGRATIONS(name="0007_stats")
def _stats(db: Database) -> None:
    # The statistics' counts (widget.stats), kept in the transaction of each fact. One
    # row per scope (agency, region, instance), month and figure: "messages",
    # "answered", "on_time", "days:<n>" (answers by whole days taken), "topic:<id>",
    # "channel:<name>", "day:<DD>" (messages per day of the month), "score:<s>:<solved>",
    # "votes", "poll:<agency>/<poll>". ``instance`` is '' for this instance's own counts
    # and a peer's id for the copy of its counts merged in (widget.stats.sharing).
    # Nothing personal: no text, no contact, no address.
    db.execute(
        """
        CREATE TABLE stats_counts (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            month TEXT NOT NULL,              -- YYYY-MM
            figure TEXT NOT NULL,
            instance TEXT NOT NULL DEFAULT '',
            region TEXT NOT NULL,             -- the agency's region (for a region page)
            count INTEGER NOT NULL,
            PRIMARY KEY (scope, key, month, figure, instance)
        ) WITHOUT ROWID
        """
    )
    # The rows of a region's page (its agencies) and of the instance's (its regions):
    # covering, and without the breakdowns by topic, channel and day that a row does not
    # show (widget.outbox.counts.ROW_FIGURES: the same expression, so SQLite uses it).
    db.execute(
        "CREATE INDEX stats_counts_rows ON stats_counts (scope, region, month, figure, count)"
        " WHERE substr(figure, 1, 4) NOT IN ('topi', 'chan', 'day:')"
    )
    # The ratings of a region's agencies per month (suppression across scopes).
    db.execute(
        "CREATE INDEX stats_counts_ratings ON stats_counts (scope, region, month, key, count)"
        " WHERE figure = 'ratings'"
    )
    # Per region and month, the ratings of its agencies that had 1 to 4 that month (on
    # all instances together): a region's figure that would give such an agency's
    # ratings away, by subtracting the others', is not published (widget.stats.suppression).
    # Worked out again from the merged counts whenever they change; never shared.
    db.execute(
        """
        CREATE TABLE stats_small (
            region TEXT NOT NULL,
            month TEXT NOT NULL,
            ratings INTEGER NOT NULL,
            PRIMARY KEY (region, month)
        ) WITHOUT ROWID
        """
    )
    # What each message (its part taken here) and each rating adds to the counts now, so
    # that a later fact (an answer, an extension arriving late, a changed rating) moves
    # it from where it was counted to where it belongs: the counts change by the
    # difference, and a repeat changes nothing.
    db.execute(
        """
        CREATE TABLE stats_facts (
            agency_id TEXT NOT NULL,
            receipt TEXT NOT NULL,
            part TEXT NOT NULL CHECK (part IN ('message', 'rating')),
            region TEXT NOT NULL,
            received_at REAL,                 -- the message's; NULL for a rating's part
            answer_by TEXT,                   -- YYYY-MM-DD the topic gives (before extensions)
            counted TEXT NOT NULL,            -- JSON [[month, figure], ...]
            PRIMARY KEY (agency_id, receipt, part)
        ) WITHOUT ROWID
        """
    )
    # The labels of the rows of a region's page: an agency's name and region as its
    # last counted fact had them (so that the page reads no agency files).
    db.execute(
        """
        CREATE TABLE stats_agencies (
            agency_id TEXT PRIMARY KEY,
            region TEXT NOT NULL,
            name TEXT NOT NULL
        ) WITHOUT ROWID
        """
    )
    # Agencies whose counts changed since this instance last shared them; ``version``
    # goes up with each change, so that sharing clears only what it sent.
    db.execute(
        "CREATE TABLE stats_changed (agency_id TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        " WITHOUT ROWID"
    )


@MIGRATIONS(name="0008_message_channel")
def _message_channel(db: Database) -> None:
    # Where a message came from (embed, page, open311): Open311's list of requests shows
    # only those its integrators posted, never the messages citizens wrote in the widget
    # (widget.outbox.public). NULL for rows stored before: none came over Open311.
    db.execute("ALTER TABLE messages ADD COLUMN channel TEXT")


@MIGRATIONS(name="0009_stats_rows")
def _stats_rows(db: Database) -> None:
    # A table row's figures (a region's agencies, the instance's regions) become columns
    # of one row per scope, key and month, and an agency's answer times the list of
    # whole days each answer took: a region of 1,900 agencies sums some 20,000 rows, not
    # 300,000 figures, and a message adds to 2 rows, not 10 with an index. The instance's
    # figures are its regions' summed (widget.outbox.counts).
    db.execute(
        """
        CREATE TABLE stats_rows (
            scope TEXT NOT NULL CHECK (scope IN ('agency', 'region')),
            region TEXT NOT NULL,
            key TEXT NOT NULL,                -- the agency's id; the region's code
            month TEXT NOT NULL,              -- YYYY-MM
            instance TEXT NOT NULL DEFAULT '',
            messages INTEGER NOT NULL DEFAULT 0,
            answered INTEGER NOT NULL DEFAULT 0,
            on_time INTEGER NOT NULL DEFAULT 0,
            ratings INTEGER NOT NULL DEFAULT 0,
            votes INTEGER NOT NULL DEFAULT 0,
            score_sum INTEGER NOT NULL DEFAULT 0, -- of the ratings' scores
            solved INTEGER NOT NULL DEFAULT 0,    -- ratings that say "solved"
            days TEXT NOT NULL DEFAULT '',    -- an agency's: "0,3,3,17", one per answer
            changes INTEGER NOT NULL DEFAULT 0, -- how many times it changed (reports kept)
            PRIMARY KEY (scope, region, key, month, instance)
        ) WITHOUT ROWID
        """
    )
    # The ratings of a region's agencies in a month (suppression across scopes): only
    # rows with ratings, and changed only by a rating.
    db.execute(
        "CREATE INDEX stats_rows_ratings ON stats_rows (scope, region, month, key, ratings)"
        " WHERE ratings != 0"
    )

    # The figures that were rows of stats_counts until now (written out here, not taken
    # from widget.outbox.counts, so that this migration never changes).
    row_figures = ("messages", "answered", "on_time", "ratings", "votes")

    def summed(condition: str, value: str = "count") -> str:
        return f"sum(CASE WHEN {condition} THEN {value} ELSE 0 END)"

    db.execute(
        "INSERT INTO stats_rows (scope, region, key, month, instance, messages, answered,"
        " on_time, ratings, votes, score_sum, solved)"
        " SELECT scope, region, key, month, instance, "
        + ", ".join(
            [
                *(summed(f"figure = '{name}'") for name in row_figures),
                summed("figure LIKE 'score:%'", "count * CAST(substr(figure, 7, 1) AS INTEGER)"),
                summed("figure LIKE 'score:%:yes'"),
            ]
        )
        + " FROM stats_counts WHERE scope IN ('agency', 'region')"
        " GROUP BY scope, region, key, month, instance"
    )
    listed: dict[tuple, list[int]] = {}
    for region, key, month, instance, figure, n in db.execute(
        "SELECT region, key, month, instance, figure, count FROM stats_counts"
        " WHERE scope = 'agency' AND figure LIKE 'days:%' AND count > 0"
    ).fetchall():
        listed.setdefault((region, key, month, instance), []).extend([int(figure[5:])] * n)
    db.conn.executemany(
        "UPDATE stats_rows SET days = ? WHERE scope = 'agency' AND region = ? AND key = ?"
        " AND month = ? AND instance = ?",
        [(",".join(map(str, sorted(days))), *row) for row, days in listed.items()],
    )
    db.execute(
        "DELETE FROM stats_counts WHERE scope = 'instance' OR figure IN ("
        + ", ".join(f"'{name}'" for name in row_figures)
        + ") OR (scope = 'agency' AND figure LIKE 'days:%')"
    )
    db.execute("DROP INDEX stats_counts_rows")
    db.execute("DROP INDEX stats_counts_ratings")
    # The polls of a region's agencies, for its page's rows (poll figures are few).
    db.execute(
        "CREATE INDEX stats_counts_polls ON stats_counts (scope, region, month, key, figure)"
        " WHERE substr(figure, 1, 5) = 'poll:'"
    )
    # An agency's name in each region it was counted in (one, unless it moved): a
    # region's page labels its rows with it, an agency's page finds its rows by it.
    db.execute("ALTER TABLE stats_agencies RENAME TO stats_agencies_before")
    db.execute(
        """
        CREATE TABLE stats_agencies (
            region TEXT NOT NULL,
            agency_id TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (region, agency_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX stats_agencies_id ON stats_agencies (agency_id)")
    db.execute(
        "INSERT INTO stats_agencies (region, agency_id, name)"
        " SELECT DISTINCT r.region, r.key, coalesce(b.name, r.key) FROM stats_rows AS r"
        " LEFT JOIN stats_agencies_before AS b ON b.agency_id = r.key WHERE r.scope = 'agency'"
    )
    db.execute(
        "INSERT OR IGNORE INTO stats_agencies (region, agency_id, name)"
        " SELECT region, agency_id, name FROM stats_agencies_before"
    )
    db.execute("DROP TABLE stats_agencies_before")
