"""The outbox: durable on commit, safe for several writers, one row per token."""

from __future__ import annotations

import json
import multiprocessing

from tests.forms import send
from tests.outbox_db import disk_full_for, rows
from widget import agencies, events, outbox


def a_message(agency, text: str = "Во дворе третий день не вывозят мусор 🙁") -> events.Submission:
    return events.Submission(
        agency=agency,
        topic_id=agency.topics[0].id,
        text=text,
        contact={},
        lang="ru",
        channel="page",
        origin=None,
        consent=None,
    )


def school(app):
    with app.app_context():
        return agencies.extension(app).get("orel-school-57")


def enqueue_many(path: str, agency, prefix: str, count: int) -> None:
    db = outbox.connect(path)
    for i in range(count):
        outbox.enqueue(db, a_message(agency, f"Сообщение {i}"), nonce=f"{prefix}-{i}")
    db.close()


def test_connections_are_durable_wal_with_a_busy_timeout(app):
    db = outbox.connect(app.config["OUTBOX_PATH"])
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrations_are_recorded_and_run_once(app):
    path = app.config["OUTBOX_PATH"]
    outbox.migrate(path)  # a second start changes nothing
    db = outbox.connect(path)
    applied = [m.name for m in outbox.MIGRATIONS.applied(db)]
    assert applied == [
        "0001_messages", "0002_lease_owner", "0003_uploads", "0004_updates", "0005_ratings",
        "0006_votes", "0007_stats", "0008_message_channel", "0009_stats_rows",
    ]  # fmt: skip
    assert outbox.MIGRATIONS.pending(db) == []


def run_together(target, arg_lists) -> None:
    """Start one process per argument list at once; each must exit cleanly."""
    processes = [
        multiprocessing.get_context("spawn").Process(target=target, args=args) for args in arg_lists
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
        assert p.exitcode == 0


def test_several_processes_write_safely(app, tmp_path):
    path = str(tmp_path / "outbox.sqlite3")
    agency = school(app)
    run_together(outbox.migrate, [(path,)] * 3)  # workers starting at once
    run_together(enqueue_many, [(path, agency, f"w{n}", 40) for n in range(4)])
    db = outbox.connect(path)
    assert db.execute("SELECT count(*), count(DISTINCT receipt) FROM messages").fetchone() == (
        160,
        160,
    )


def test_enqueue_returns_the_first_receipt_for_a_used_nonce(app):
    db = outbox.connect(app.config["OUTBOX_PATH"])
    message = a_message(school(app))
    first = outbox.enqueue(db, message, nonce="n")
    again = outbox.enqueue(db, message, nonce="n")
    assert first.new and not again.new and first.receipt == again.receipt
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_the_stored_event_holds_the_message(client, app):
    send(client, name="Пётр", email="p@example.ru", consent="y", text="Текст сообщения")
    (row,) = rows(app)
    event = json.loads(row["event"])
    assert event["id"] == row["id"] and event["type"] == "feedback.submitted.v1"
    assert event["source"] == "/agencies/orel-school-57"
    data = event["data"]
    assert data["receipt"] == row["receipt"] and data["text"] == "Текст сообщения"
    assert data["agency"] == {"id": "orel-school-57", "region": "57"}
    assert data["topic"] == {"id": "food", "title": "Питание"}
    assert data["routing_key"] == "57.education.orel-school-57"
    assert data["language"] == "ru" and data["channel"] == "embed"
    assert row["next_attempt_at"] <= row["created_at"] + 1


def test_an_outbox_that_cannot_take_writes_keeps_the_citizens_text(client, app):
    with disk_full_for(app, "messages"):
        response = send(client, email="a@example.ru", consent="y", text="Не потеряйте меня")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Не потеряйте меня" in html and "не можем принять сообщение" in html
    assert rows(app) == []
