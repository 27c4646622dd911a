"""The SQLite outbox: every accepted message is committed here before the citizen
sees a receipt, and the forwarder delivers it from here.

WAL mode with ``synchronous=FULL``: a commit is on disk when it returns. The schema
changes only by appending a migration to ``MIGRATIONS`` (``migrations``).

Every statement on the outbox's tables is in this package: here the
connections and what the web tier reads and writes; ``delivery`` what the forwarder
claims, settles and purges; ``repairs`` what operators list and queue again;
``updates`` the statuses and answers the central system sends back; ``ratings`` the
citizens' ratings of the answers.
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

from .. import events, receipts
from . import counts
from .migrations import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def connect(path: str) -> Database:
    """Open the outbox with the durability settings every writer must use."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    _write_ahead_log(conn)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return Database(conn, execute_plugins=False, recursive_triggers=False)


def _write_ahead_log(conn: sqlite3.Connection) -> None:
    """Put a new outbox in WAL mode. The change of journal mode can answer "database is
    locked" at once, without waiting out busy_timeout, while another worker opens the same
    new outbox (seen in test_several_processes_write_safely): try again until the busy
    timeout has passed. Once in WAL, the mode stays and this is a no-op."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


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
    id: str  # the message's event id


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
                insert_outgoing(
                    db,
                    event,
                    nonce=nonce,
                    agency_id=agency.id,
                    topic_id=submission.topic_id,
                    lang=submission.lang,
                    routing_key=agency.routing_key,
                    now=now,
                    channel=submission.channel,
                )
                topic = agency.topic(submission.topic_id)
                counts.message(
                    db,
                    agency_id=agency.id,
                    region=agency.region,
                    name=agency.name,
                    receipt=receipt,
                    topic_id=submission.topic_id,
                    channel=submission.channel,
                    received_at=now,
                    answer_within_days=topic.answer_within_days if topic else 30,
                )
                db.execute("DELETE FROM uploads WHERE token_nonce = ?", [nonce])
                admit()
            return Accepted(receipt, True, submission.topic_id, events.ways_of(submission.contact))
        except sqlite3.IntegrityError as e:
            if "messages.receipt" not in str(e):
                raise
            continue  # the receipt was taken (1 in 10^12 a row): draw another
    raise RuntimeError("could not draw a free receipt")


def insert_outgoing(
    db: Database,
    event: dict,
    *,
    nonce: str,
    agency_id: str,
    topic_id: str,
    lang: str,
    routing_key: str,
    now: float,
    kind: str = "message",
    channel: str | None = None,
) -> None:
    """Add one event for the forwarder to send (inside the caller's transaction): a
    message's, or a rating's (``kind``). Its form token's ``nonce`` may be used once;
    its ``subject`` is the receipt (of the message rated, for a rating); ``channel``: a
    message's (embed, page, open311)."""
    db.execute(
        """
        INSERT INTO messages (id, receipt, token_nonce, agency_id, topic_id, lang,
            routing_key, event, next_attempt_at, created_at, kind, channel)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            event["id"],
            event["subject"],
            nonce,
            agency_id,
            topic_id,
            lang,
            routing_key,
            json.dumps(event, ensure_ascii=False),
            now,
            now,
            kind,
            channel,
        ],
    )


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
        "SELECT receipt, agency_id, topic_id, lang, created_at, id FROM messages"
        " WHERE receipt = ? AND agency_id = ? AND kind = 'message'",
        [receipt, agency_id],
    ).fetchone()
    return Receipt(*row) if row else None


def agency_of(db: Database, receipt: str) -> str | None:
    """The agency of the message with ``receipt`` in this outbox (None: not here)."""
    row = db.execute(
        "SELECT agency_id FROM messages WHERE receipt = ? AND kind = 'message'", [receipt]
    ).fetchone()
    return row[0] if row else None


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
    local: _Connections = current_app.extensions["otklik.outbox"]
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
