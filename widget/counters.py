"""Rate-limit counters in one SQLite file: a storage backend for the ``limits`` library.

The ``limits`` library's ``memory://`` storage counts per process, so under gunicorn with N
workers a limit lets N times as many requests through. This backend keeps the
counters in a file that every worker of one instance shares, without a server to
run: ``sqlite:<path>`` (``sqlite:///abs/path`` works too). Importing this module
registers the scheme with ``limits``; the settings module resolves a relative path
against the instance folder.

Each counter is one row; an increment is one ``INSERT … ON CONFLICT DO UPDATE …
RETURNING`` statement, so concurrent workers never lose a hit (SQLite serialises
writers; WAL lets readers run beside them). Only the fixed-window strategy is
supported (the one widget.web.limits uses). Counters are not precious: the file
uses ``synchronous=NORMAL`` and a lost last second of counts after a power cut is
acceptable. Knows nothing of Flask.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import weakref
from urllib.parse import urlsplit

from limits.storage import Storage

SCHEME = "sqlite"
BUSY_TIMEOUT_MS = 5000
PURGE_CHANCE = 0.001  # about one increment in a thousand also deletes expired rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_expires_at ON counters (expires_at);
"""

INCREMENT = """
INSERT INTO counters (key, count, expires_at) VALUES (:key, :amount, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN expires_at <= :now THEN excluded.count ELSE count + excluded.count END,
    expires_at = CASE WHEN expires_at <= :now THEN excluded.expires_at ELSE expires_at END
RETURNING count
"""


def path_of(uri: str) -> str:
    """The file a ``sqlite:`` URI names: ``sqlite:/abs/file`` or ``sqlite:///abs/file``."""
    parts = urlsplit(uri)
    if parts.scheme != SCHEME or parts.netloc or not parts.path.strip("/"):
        raise ValueError(f"expected sqlite:/path/to/file.sqlite3, got {uri!r}")
    return parts.path


def _close_all(connections: list[tuple[int, sqlite3.Connection]]) -> None:
    for pid, db in connections:
        if pid == os.getpid():  # never touch a connection inherited over a fork
            db.close()


class SQLiteStorage(Storage):
    """Counters shared by every process that opens the same file."""

    STORAGE_SCHEME = (SCHEME,)  # registers the scheme with limits.storage_from_string

    def __init__(self, uri: str, wrap_exceptions: bool = False, **_options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.path = path_of(uri)
        self._local = threading.local()
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        weakref.finalize(self, _close_all, self._opened)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection; a new one after a fork (gunicorn --preload)."""
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            return db
        db = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,  # used by one thread; closed by whichever collects us
        )
        self._opened.append((os.getpid(), db))
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        self._local.db, self._local.pid = db, os.getpid()
        return db

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        db = self._connect()
        (count,) = db.execute(
            INCREMENT, {"key": key, "amount": amount, "expires_at": now + expiry, "now": now}
        ).fetchone()
        if random.random() < PURGE_CHANCE:
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return count

    def get(self, key: str) -> int:
        row = (
            self._connect()
            .execute(
                "SELECT count FROM counters WHERE key = ? AND expires_at > ?", (key, time.time())
            )
            .fetchone()
        )
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = (
            self._connect()
            .execute("SELECT expires_at FROM counters WHERE key = ? AND expires_at > ?", (key, now))
            .fetchone()
        )
        return row[0] if row else now

    def check(self) -> bool:
        try:
            self._connect().execute("SELECT 1 FROM counters LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connect().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._connect().execute("DELETE FROM counters WHERE key = ?", (key,))
