"""What /readyz, /metrics and `flask outbox stats` ask the outbox, called directly: does
it take a write now, and how much waits."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

import pytest

from tests.central import fill
from widget import outbox


def test_the_write_probe_passes_on_a_working_outbox_and_leaves_nothing_behind(app):
    path = app.config["OUTBOX_PATH"]
    db = outbox.connect(path)
    outbox.check_writable(db, path, room=1_000_000)
    assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    assert not db.conn.in_transaction
    db.close()


def test_the_write_probe_fails_on_a_held_lock_and_on_a_disk_without_room(app):
    path = app.config["OUTBOX_PATH"]
    db = outbox.connect(path)
    db.execute("PRAGMA busy_timeout=100")
    other = sqlite3.connect(path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            outbox.check_writable(db, path, room=0)
    finally:
        other.rollback()
        other.close()
    free = shutil.disk_usage(os.path.dirname(path)).free
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        outbox.check_writable(db, path, room=free * 2)
    db.close()


def test_depth_counts_what_waits_and_how_long_the_oldest_has(app):
    ids = fill(app, 3)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    now = time.time()
    with db.atomic():
        db.execute("UPDATE messages SET created_at = ? WHERE id = ?", [now - 600, ids[1]])
        db.execute("UPDATE messages SET status = 'dead' WHERE id = ?", [ids[2]])
    assert outbox.depth(db, now) == {"pending": 2, "dead": 1, "oldest_pending_age": 600}
    db.close()
