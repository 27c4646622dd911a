"""The SQLite outbox: every accepted message is committed here before the citizen
sees a receipt, and the forwarder delivers it from here.

WAL mode with ``synchronous=FULL``: a commit is on disk when it returns. The schema
changes only by appending a migration to ``MIGRATIONS``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import receipts

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


@dataclass(frozen=True)
class Accepted:
    receipt: str
    new: bool  # False when the token had been used already


@dataclass(frozen=True)
class Receipt:
    receipt: str
    agency_id: str
    topic_id: str
    lang: str
    created_at: float


def enqueue(
    db: Database,
    *,
    nonce: str,
    agency_id: str,
    topic_id: str,
    lang: str,
    routing_key: str,
    make_event: Callable[[str, str, float], dict],
) -> Accepted:
    """Commit one message durably and return its receipt.

    ``make_event(event_id, receipt, received_at)`` builds the message to forward.
    A nonce seen before returns the receipt it was given then and stores nothing.
    """
    for _ in range(5):
        event_id, receipt, now = str(uuid.uuid4()), receipts.new(), time.time()
        body = json.dumps(make_event(event_id, receipt, now), ensure_ascii=False)
        try:
            with db.atomic():
                inserted = db.execute(
                    """
                    INSERT INTO messages (id, receipt, token_nonce, agency_id, topic_id,
                        lang, routing_key, event, next_attempt_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (token_nonce) DO NOTHING
                    """,
                    [
                        event_id,
                        receipt,
                        nonce,
                        agency_id,
                        topic_id,
                        lang,
                        routing_key,
                        body,
                        now,
                        now,
                    ],
                ).rowcount
                if not inserted:
                    (existing,) = db.execute(
                        "SELECT receipt FROM messages WHERE token_nonce = ?", [nonce]
                    ).fetchone()
                    return Accepted(existing, new=False)
            return Accepted(receipt, new=True)
        except sqlite3.IntegrityError as e:
            if "messages.receipt" not in str(e):
                raise
            continue  # the receipt was taken (1 in 10^12 a row): draw another
    raise RuntimeError("could not draw a free receipt")


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


class _Connections(threading.local):
    """One outbox connection per worker process and thread, kept between requests."""

    db: Database | None = None
    pid: int | None = None


def get_db() -> Database:
    """The outbox connection of this worker, opened on first use and kept.

    Opening a connection costs a few milliseconds (the WAL pragmas), and closing the
    last one checkpoints the WAL and deletes it, with an fsync: per request, that was
    half of a submission's time. The connection is per process (a fork gets its own)
    and per thread (sqlite3 connections are not shared between threads).
    """
    local: _Connections = current_app.extensions["otklik.outbox"]
    if local.db is None or local.pid != os.getpid():
        local.db = connect(current_app.config["OUTBOX_PATH"])
        local.pid = os.getpid()
    return local.db


def end_request(_exc: BaseException | None = None) -> None:
    """Leave the kept connection clean: no transaction survives its request."""
    local: _Connections = current_app.extensions["otklik.outbox"]
    if local.db is not None and local.pid == os.getpid() and local.db.conn.in_transaction:
        local.db.conn.rollback()


def init_app(app) -> None:
    migrate(app.config["OUTBOX_PATH"])
    app.extensions["otklik.outbox"] = _Connections()
    app.teardown_appcontext(end_request)
