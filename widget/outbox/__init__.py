"""The SQLite outbox: every accepted message is committed here before the citizen
sees a receipt, and the forwarder delivers it from here.

WAL mode with ``synchronous=FULL``: a commit is on disk when it returns. The schema
changes only by appending a migration to ``MIGRATIONS``.

Every statement on the outbox's tables is in this package: here the schema, the
connections and what the web tier reads and writes; ``delivery`` what the forwarder
claims, settles and purges; ``repairs`` what operators list and queue again;
``updates`` the statuses and answers the central system sends back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .. import events, receipts

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000

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


def connect(path: str) -> Database:
    """Open the outbox with the durability settings every writer must use."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return Database(conn, execute_plugins=False, recursive_triggers=False)


def migrate(path: str) -> None:
    """Apply pending migrations. Safe when several workers start at once: the first
    takes the write lock and the others wait, then find nothing left to do."""
    db = connect(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS.apply(db)
        except BaseException:
            db.rollback()
            raise
        db.commit()
    finally:
        db.close()


def passing(error: sqlite3.Error) -> bool:
    """Whether the outbox may work again by itself: a full disk, a lock held too long,
    an I/O error (SQLite cannot grow its shared-memory file on a full disk either).
    A folder that does not exist, no permission or a bug (no such table) stays."""
    name = getattr(error, "sqlite_errorname", None) or ""
    return name.startswith(("SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR"))


@dataclass(frozen=True)
class Accepted:
    receipt: str
    new: bool  # False when the token had been used already
    topic_id: str  # as stored (the first time, for a token used again)
    # The ways to answer the stored message holds (events.ways_in): None when no longer
    # known, for a token used again whose message was delivered since.
    ways: tuple[str, ...] | None


@dataclass(frozen=True)
class Receipt:
    receipt: str
    agency_id: str
    topic_id: str
    lang: str
    created_at: float


@contextlib.contextmanager
def write_transaction(db: Database):
    """BEGIN IMMEDIATE: take the write lock first, so that a read followed by a write
    cannot fail half-way when another writer got in between (it waits instead).
    Inside a caller's transaction it is a savepoint of that transaction."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()


def enqueue(
    db: Database,
    submission: events.Submission,
    *,
    nonce: str,
    admit: Callable[[], None] = lambda: None,
) -> Accepted:
    """Commit one message, with the files uploaded under its token, and return its receipt.

    A nonce seen before returns the receipt it was given then and stores nothing.
    ``admit()`` is called last before the commit, only for a new nonce and while this
    process holds the outbox's write lock: it may raise to refuse the message (the rate
    limits do), and then nothing is stored and the uploads stay.
    """
    agency = submission.agency
    for _ in range(5):
        event_id, receipt, now = str(uuid.uuid4()), receipts.new(), time.time()
        try:
            with write_transaction(db):
                existing = db.execute(
                    "SELECT receipt, topic_id, event FROM messages WHERE token_nonce = ?", [nonce]
                ).fetchone()
                if existing:
                    return Accepted(existing[0], False, existing[1], events.ways_in(existing[2]))
                files = [
                    {"name": n, "type": t, "size": size, "sha256": digest, "content": content}
                    for n, t, size, digest, content in db.execute(
                        "SELECT name, type, size, sha256, content FROM uploads"
                        " WHERE token_nonce = ? ORDER BY created_at, rowid",
                        [nonce],
                    )
                ]
                event = events.build(submission, event_id, receipt, now, files)
                db.execute(
                    """
                    INSERT INTO messages (id, receipt, token_nonce, agency_id, topic_id,
                        lang, routing_key, event, next_attempt_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        event_id,
                        receipt,
                        nonce,
                        agency.id,
                        submission.topic_id,
                        submission.lang,
                        agency.routing_key,
                        json.dumps(event, ensure_ascii=False),
                        now,
                        now,
                    ],
                )
                db.execute("DELETE FROM uploads WHERE token_nonce = ?", [nonce])
                admit()
            return Accepted(receipt, True, submission.topic_id, events.ways_of(submission.contact))
        except sqlite3.IntegrityError as e:
            if "messages.receipt" not in str(e):
                raise
            continue  # the receipt was taken (1 in 10^12 a row): draw another
    raise RuntimeError("could not draw a free receipt")


@dataclass(frozen=True)
class Upload:
    id: str
    name: str
    type: str
    size: int


def store_upload(
    db: Database,
    *,
    nonce: str,
    agency_id: str,
    name: str,
    type: str,
    content: bytes,
    keep_seconds: float,
) -> None:
    """Keep a checked file under its form token until the message is sent; files
    left behind longer than ``keep_seconds`` (the token's life) are purged here."""
    now = time.time()
    with write_transaction(db):
        db.execute("DELETE FROM uploads WHERE created_at < ?", [now - keep_seconds])
        db.execute(
            "INSERT INTO uploads (id, token_nonce, agency_id, name, type, size, sha256,"
            " content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                str(uuid.uuid4()),
                nonce,
                agency_id,
                name,
                type,
                len(content),
                hashlib.sha256(content).hexdigest(),
                content,
                now,
            ],
        )


def uploads_for(db: Database, nonce: str) -> list[Upload]:
    return [
        Upload(*row)
        for row in db.execute(
            "SELECT id, name, type, size FROM uploads WHERE token_nonce = ?"
            " ORDER BY created_at, rowid",
            [nonce],
        )
    ]


def remove_uploads(db: Database, nonce: str, ids: list[str]) -> None:
    with write_transaction(db):
        for upload_id in ids:
            db.execute("DELETE FROM uploads WHERE id = ? AND token_nonce = ?", [upload_id, nonce])


def find_receipt(db: Database, agency_id: str, receipt: str) -> Receipt | None:
    row = db.execute(
        "SELECT receipt, agency_id, topic_id, lang, created_at FROM messages"
        " WHERE receipt = ? AND agency_id = ?",
        [receipt, agency_id],
    ).fetchone()
    return Receipt(*row) if row else None


def depth(db: Database, now: float | None = None) -> dict:
    """How much waits: pending and dead counts, and the oldest pending age in seconds."""
    now = time.time() if now is None else now
    pending, oldest = db.execute(
        "SELECT count(*), min(created_at) FROM messages WHERE status = 'pending'"
    ).fetchone()
    (dead,) = db.execute("SELECT count(*) FROM messages WHERE status = 'dead'").fetchone()
    return {
        "pending": pending,
        "dead": dead,
        "oldest_pending_age": round(now - oldest, 3) if oldest is not None else 0,
    }


def check_writable(db: Database, path: str, room: int) -> None:
    """Raise sqlite3.Error unless the outbox takes a write now: take its write lock
    (BEGIN IMMEDIATE), change a row of a real table, roll back. That fails on a
    read-only file or file system and on a lock held too long. A rolled-back write
    reaches no disk, so a full disk is checked apart: the folder of ``path`` must have
    ``room`` bytes free (the largest message the widget accepts)."""
    if db.conn.in_transaction:
        db.conn.rollback()
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "INSERT INTO messages (id, receipt, token_nonce, agency_id, topic_id, lang,"
            " routing_key, next_attempt_at, created_at)"
            " VALUES ('readyz', 'readyz', 'readyz', '', '', '', '', 0, 0)"
        )
    finally:
        db.conn.rollback()
    free = shutil.disk_usage(os.path.dirname(path)).free
    if free < room:
        raise sqlite3.OperationalError(
            f"database or disk is full: {free} bytes free, {room} needed"
        )


def backup(path: str, target: str) -> int:
    """Copy the outbox at ``path`` to a new file ``target`` with SQLite's online backup
    API, while others go on writing: the copy is one consistent moment, WAL included.
    Written next to the target and renamed once checked, so a failed backup leaves no
    half file that looks whole. Returns the number of pages copied."""
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists already")
    partial = f"{target}.partial"
    source = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # one step: in WAL mode a reader blocks no writer
            (result,) = copy.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise sqlite3.DatabaseError(f"the copy fails its check: {result}")
            (pages,) = copy.execute("PRAGMA page_count").fetchone()
        finally:
            copy.close()
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    finally:
        source.close()
    return pages


class _Connections(threading.local):
    """One outbox connection per worker process and thread, kept between requests."""

    db: Database | None = None
    pid: int | None = None


def get_db() -> Database:
    """The outbox connection of this worker, opened on first use and kept.

    Opening a connection costs a few milliseconds (the WAL pragmas), and closing the
    last one checkpoints the WAL and deletes it, with an fsync: per request, that was
    half of a submission's time. The connection is per process (a fork gets its own)
    and per thread (sqlite3 connections are not shared between threads). Migrations
    the start could not apply (``init_app``) are applied here first.
    """
    local: _Connections = current_app.extensions["otklik.outbox"]
    if local.db is None or local.pid != os.getpid():
        path = current_app.config["OUTBOX_PATH"]
        if not current_app.extensions["otklik.outbox.migrated"]:
            migrate(path)  # safe when other workers and threads do the same at once
            current_app.extensions["otklik.outbox.migrated"] = True
        local.db = connect(path)
        local.pid = os.getpid()
    return local.db


def end_request(_exc: BaseException | None = None) -> None:
    """Leave the kept connection clean: no transaction survives its request."""
    local: _Connections = current_app._get_current_object().extensions["otklik.outbox"]
    if local.db is not None and local.pid == os.getpid() and local.db.conn.in_transaction:
        local.db.conn.rollback()


def init_app(app) -> None:
    """Apply the migrations now, or, when the outbox cannot be opened for a reason that
    passes (a full disk), on first use: the web tier starts and answers 503 meanwhile,
    as it does when the disk fills while it runs. Other errors are raised."""
    app.extensions["otklik.outbox"] = _Connections()
    app.teardown_appcontext(end_request)
    try:
        migrate(app.config["OUTBOX_PATH"])
    except sqlite3.OperationalError as e:
        if not passing(e):
            raise
        log.warning("the outbox cannot be opened now: %s; starting anyway", e)
        app.extensions["otklik.outbox.migrated"] = False
    else:
        app.extensions["otklik.outbox.migrated"] = True
