"""The outbox's SQLite file as the tests read it and break it."""

from __future__ import annotations

import contextlib

from widget import outbox


def rows(app) -> list[dict]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return list(db["messages"].rows)
    finally:
        db.close()


@contextlib.contextmanager
def disk_full_for(app, table: str):
    """Every insert into ``table`` fails inside SQLite, exactly where a full disk would
    make it fail (a trigger stands in for the disk)."""
    db = outbox.connect(app.config["OUTBOX_PATH"])
    db.execute(
        f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    db.conn.commit()
    try:
        yield
    finally:
        db.execute("DROP TRIGGER refuse")
        db.conn.commit()
        db.close()
