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
