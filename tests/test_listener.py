"""`flask listen` on the spool (the embedded default, spool:inbound): each file is
validated, committed, then removed; an invalid one is set aside with its reason."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import fill_disk
from tests.updates import ANSWER, Counted, drop, history, rows, status_event
from widget import create_app, intakes, listener, outbox


def inbound(app) -> Path:
    return Path(app.config["UPDATES_URL"].removeprefix("spool:"))


def make(app, **options) -> listener.Listener:
    intake = intakes.open_intake(app.config["UPDATES_URL"])
    return listener.Listener(app.config["OUTBOX_PATH"], intake, **options)


def take_all(app, **options) -> listener.Totals:
    with make(app, poll_seconds=0, **options) as taker:
        return taker.run_once()


def waiting(app) -> list[str]:
    return sorted(p.name for p in inbound(app).glob("*.json"))


def rejected(app) -> dict[str, str]:
    """Each rejected file's name and its reason file's text."""
    folder = inbound(app) / "rejected"
    return {
        p.name: (folder / f"{p.name}.reason.txt").read_text() for p in sorted(folder.glob("*.json"))
    }


# -- bad input first ---------------------------------------------------------------------


def test_invalid_files_are_set_aside_with_the_reason_and_the_valid_ones_taken(app):
    counted = Counted(app)
    good = status_event("received")
    drop(inbound(app), b'{"specversion": "1.0", "id": "x"', "cut-short.json")
    drop(inbound(app), status_event("done"), "unknown-status.json")
    missing = status_event()
    del missing["data"]["receipt"]
    drop(inbound(app), missing, "no-receipt.json")
    too_long = status_event(answer="Спасибо за обращение, Марья Ивановна! " * 600)
    drop(inbound(app), too_long, "too-long.json")
    drop(inbound(app), good)

    totals = take_all(app)
    assert (totals.recorded, totals.repeats, totals.rejected) == (1, 0, 4)
    assert waiting(app) == []
    reasons = rejected(app)
    assert sorted(reasons) == [
        "cut-short.json",
        "no-receipt.json",
        "too-long.json",
        "unknown-status.json",
    ]
    assert "not JSON: Expecting" in reasons["cut-short.json"]
    assert "data.status: not one of received, in_progress" in reasons["unknown-status.json"]
    assert "data.receipt: required" in reasons["no-receipt.json"]
    assert "data.answer: longer than 20,000 characters" in reasons["too-long.json"]
    assert "Марья" not in "".join(reasons.values())
    assert [u.id for u in history(app)] == [good["id"]]
    assert counted("spool", "rejected") == 4 and counted("spool", "recorded") == 1


def test_a_file_larger_than_any_update_is_set_aside_unread(app):
    drop(inbound(app), b" " * (1024 * 1024 + 1), "huge.json")
    assert take_all(app).rejected == 1
    assert "larger than any valid update" in rejected(app)["huge.json"]


def test_files_being_written_and_other_names_are_left_alone(app):
    folder = inbound(app)
    folder.mkdir(parents=True)
    (folder / ".half-written.json.tmp").write_text('{"specversion": "1.0"')
    (folder / ".hidden.json").write_text("{}")
    (folder / "notes.txt").write_text("не трогать")
    (folder / "a-folder.json").mkdir()
    assert take_all(app).taken == 0
    assert sorted(os.listdir(folder)) == [
        ".half-written.json.tmp",
        ".hidden.json",
        "a-folder.json",
        "notes.txt",
    ]


def test_a_repeated_id_is_taken_once_and_its_file_removed(app):
    counted = Counted(app)
    event = status_event()
    drop(inbound(app), event, "first.json")
    drop(inbound(app), event, "resent.json")
    totals = take_all(app)
    assert (totals.recorded, totals.repeats) == (1, 1)
    assert waiting(app) == [] and len(rows(app)) == 1
    assert counted("spool", "repeat") == 1


def test_files_are_taken_oldest_first_and_an_older_update_stays_behind(app):
    answered = status_event(time="2026-12-10T15:00:00+03:00")
    late = status_event("in_progress", time="2026-12-04T09:00:00+03:00")
    drop(inbound(app), answered, "b.json")
    drop(inbound(app), late, "a.json")  # newer file, older update
    take_all(app, batch_size=1)
    taken = [r["id"] for r in sorted(rows(app), key=lambda r: r["received_at"])]
    assert taken == [answered["id"], late["id"]]
    assert [u.status for u in history(app)] == ["in_progress", "answered"]


def test_a_bad_updates_url_is_one_line_naming_what_to_fix(app, runner):
    app.config["UPDATES_URL"] = "https://central.example/updates"
    result = runner.invoke(args=["listen", "--once"])
    assert result.exit_code == 1
    assert "updates_url: 'https://central.example/updates' is not spool:<dir> or" in result.output
    app.config["UPDATES_URL"] = "amqp://guest:secret@127.0.0.1/%2F?exchange=feedback.updates"
    result = runner.invoke(args=["listen", "--once"])
    assert result.exit_code == 1 and "needs queue=<name>" in result.output
    assert "secret" not in result.output


def test_a_full_disk_keeps_the_files_until_there_is_room(instance, small_disk, caplog):
    """The outbox on a tiny file system that fills up: nothing is removed while SQLite
    cannot commit; every file is taken once there is room."""
    app = create_app(
        {"secret_key": "test-secret", "outbox_path": str(small_disk / "outbox.sqlite3")},
        instance_path=instance,
    )
    events = [status_event(s) for s in ("received", "in_progress", "answered")]
    for event in events:
        drop(inbound(app), event)
    taker = make(app, poll_seconds=0.05)
    assert taker.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
    fill_disk(small_disk)
    totals = {}
    thread = threading.Thread(target=lambda: totals.update(vars(taker.run())))
    with caplog.at_level(logging.INFO, logger="widget.listener"):
        thread.start()
        try:
            deadline = time.time() + 20
            while sum("database or disk is full" in m for m in caplog.messages) < 2:
                assert time.time() < deadline and thread.is_alive(), caplog.text
                time.sleep(0.05)
            assert len(waiting(app)) == 3  # none removed before its commit

            (small_disk / "filler").unlink()  # the operator makes room
            while waiting(app):
                assert time.time() < deadline + 30 and thread.is_alive(), caplog.text
                time.sleep(0.05)
        finally:
            taker.stop()
            thread.join(20)
    taker.close()
    assert totals["recorded"] == 3
    assert [u.id for u in history(app)] == [e["id"] for e in events]
    full = [r for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert full[0].levelname == "ERROR" and "3 update(s) in hand" in full[0].getMessage()
    assert "Traceback" not in caplog.text and ANSWER not in caplog.text


# -- what works ---------------------------------------------------------------------------


def test_listen_once_takes_what_waits_and_says_how_many(app, runner):
    drop(inbound(app), status_event("received"))
    drop(inbound(app), status_event())
    drop(inbound(app), b"not json", "broken.json")
    result = runner.invoke(args=["listen", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "recorded 2, repeats 0, rejected 1"
    assert [u.status for u in history(app)] == ["received", "answered"]
    assert history(app)[-1].answer == ANSWER


def test_an_update_for_a_receipt_never_seen_here_is_kept(app):
    drop(inbound(app), status_event("received", receipt="ZZZZ-9QXD"))
    assert take_all(app).recorded == 1
    assert [u.status for u in history(app, "ZZZZ-9QXD")] == ["received"]


def test_a_running_listener_takes_new_files_and_stops_on_sigterm(app, instance):
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_SECRET_KEY="test-secret",
        OTKLIK_DEMO="true",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "widget", "listen"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events = [status_event("received"), status_event("in_progress", note="Передано 🍲")]
        for event in events:
            drop(inbound(app), event)
        deadline = time.time() + 30
        while len(rows(app)) < 2 or waiting(app):
            assert time.time() < deadline and process.poll() is None
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "listening on spool:" in err and "listener stopped" in err
    assert "SIGTERM: committing the updates in hand" in err
    assert "Traceback" not in err and "Передано" not in err
    lines = [json.loads(line) for line in err.splitlines()]
    assert {line["logger"] for line in lines} <= {"widget.listener", "widget.outbox"}


def test_the_outbox_keeps_updates_beside_messages_in_one_file(app):
    drop(inbound(app), status_event())
    take_all(app)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        assert {"messages", "uploads", "updates"} <= set(db.table_names())
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


@pytest.mark.parametrize("url", ["spool:", "ftp://central.example/updates"])
def test_intakes_refuse_urls_they_cannot_use(url):
    with pytest.raises(intakes.IntakeError, match="updates_url"):
        intakes.open_intake(url)
