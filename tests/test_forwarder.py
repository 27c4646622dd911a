"""The forwarder on the embedded default (the spool) and the operator's outbox commands:
what an operator or a consumer of the spool would notice."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.central import Intake, fill, rows, valid_event
from tests.conftest import fill_disk, receipt_in
from tests.forms import send
from tests.services import free_port
from widget import create_app, forwarder, outbox, transports
from widget.transports import TransportError, open_transport


def make(app, url=None, **options) -> forwarder.Forwarder:
    transport = open_transport(url or app.config["QUEUE_URL"], secret="intake-secret")
    return forwarder.Forwarder(app.config["OUTBOX_PATH"], transport, **options)


def spool_folder(app):
    return app.config["QUEUE_URL"].removeprefix("spool:")


def spooled(app) -> list[str]:
    folder = spool_folder(app)
    return os.listdir(folder) if os.path.isdir(folder) else []


def test_an_unknown_queue_url_is_refused_with_what_to_fix():
    with pytest.raises(TransportError, match="spool:<dir>, amqp://… or http"):
        open_transport("ftp://intake.example.ru/")
    with pytest.raises(TransportError, match="queue_secret"):
        open_transport("https://intake.example.ru/", secret=None)


def test_a_password_in_queue_url_never_appears_in_errors():
    assert transports.redact("amqp://otklik:s3cret@mq:5672/%2F") == "amqp://otklik:***@mq:5672/%2F"


def test_a_submitted_message_lands_in_the_spool_and_leaves_the_outbox(client, app):
    response = send(client, email="ivan@example.ru", name="Иван", consent="y")
    receipt = receipt_in(response.headers["Location"])
    with make(app) as sender:
        totals = sender.run_once()
    assert totals.delivered == 1

    folder = spool_folder(app)
    (name,) = os.listdir(folder)  # no temporary file left behind
    event = valid_event(Path(folder, name).read_bytes())
    assert name == f"{event['id']}.json"
    assert event["data"]["receipt"] == receipt
    assert event["data"]["contact"] == {"name": "Иван", "email": "ivan@example.ru"}
    assert event["data"]["consent"]["version"]

    (row,) = rows(app).values()
    assert row["status"] == "delivered" and row["event"] is None  # personal data gone
    assert row["receipt"] == receipt and row["delivered_at"] >= row["created_at"]
    # the done page still finds the receipt
    assert client.get(response.headers["Location"]).status_code == 200


def test_an_unwritable_spool_keeps_every_message_without_using_attempts(app):
    ids = fill(app, 3)
    folder = spool_folder(app)
    open(folder, "w").close()  # a file where the folder should be
    with make(app) as sender:
        totals = sender.run_once()
    assert totals.unsent == 3 and totals.delivered == 0
    assert "spool folder" in totals.problem
    for row in rows(app).values():
        assert row["status"] == "pending" and row["attempts"] == 0 and row["event"]
        assert "spool folder" in row["last_error"] and row["lease_until"] is None

    os.remove(folder)
    with make(app) as sender:
        assert sender.run_once(now=time.time() + 120).delivered == 3
    assert sorted(n.removesuffix(".json") for n in os.listdir(folder)) == sorted(ids)


def test_sending_twice_rewrites_the_same_spool_file(app):
    (id,) = fill(app, 1)
    with make(app) as sender:
        sender.run_once()
    db = outbox.connect(app.config["OUTBOX_PATH"])
    db.execute("UPDATE messages SET status = 'pending', event = '{}' WHERE id = ?", [id])
    db.conn.commit()
    db.close()
    with make(app) as sender:
        sender.run_once()
    assert os.listdir(spool_folder(app)) == [f"{id}.json"]


def test_two_forwarders_never_claim_the_same_row(app):
    fill(app, 30)
    first, second = make(app, batch_size=20), make(app, batch_size=20)
    now = time.time()
    a, b = first.claim(now), second.claim(now)
    assert len(a) == 20 and len(b) == 10
    assert not {r[0] for r in a} & {r[0] for r in b}
    assert second.claim(now) == []  # everything is leased
    # a lease that ran out (its forwarder died) is taken over
    taken = second.claim(now + first.lease_seconds + 1)
    assert {r[0] for r in taken} == {r[0] for r in a}
    first.close()
    second.close()


def test_a_forwarder_whose_lease_was_taken_over_does_not_undo_the_new_holders_work(app):
    ids = fill(app, 1)
    intake = Intake(lambda n, body: (500, {}, 0))
    try:
        slow, fresh = make(app, intake.url), make(app, intake.url)
        now = time.time()
        claimed = slow.claim(now)
        fresh.forward_batch(now + slow.lease_seconds + 1)  # takes over, fails: attempt 1
        outcome = {ids[0]: transports.Outcome.dead("HTTP 400 Bad Request")}
        slow.record(claimed, outcome, now, forwarder.Totals())  # too late: ignored
        (row,) = rows(app).values()
        assert row["status"] == "pending" and row["attempts"] == 1
        slow.close()
        fresh.close()
    finally:
        intake.close()


def test_failures_back_off_exponentially_with_jitter_then_go_dead(app, runner):
    (id,) = fill(app, 1)
    intake = Intake(lambda n, body: (503, {}, 0))
    try:
        sender = make(app, intake.url, max_attempts=4, backoff_base=10, backoff_cap=60)
        now = time.time()
        waits = []
        for attempt in range(1, 5):
            totals = sender.run_once(now)
            row = rows(app)[id]
            assert row["attempts"] == attempt
            if attempt < 4:
                assert totals.retried == 1 and row["status"] == "pending"
                waits.append(row["next_attempt_at"] - now)
                now = row["next_attempt_at"]
        assert totals.dead == 1 and row["status"] == "dead"
        assert "HTTP 503" in row["last_error"] and "gave up after 4 attempts" in row["last_error"]
        assert row["event"] is not None  # undelivered: kept for a retry
        for wait, ceiling in zip(waits, (10, 20, 40), strict=True):
            assert ceiling / 2 <= wait <= ceiling
        assert sender.run_once(now + 3600).claimed == 0  # dead rows are left alone
        sender.close()

        listed = runner.invoke(args=["outbox", "list", "--status", "dead"])
        assert listed.exit_code == 0 and id in listed.output and "HTTP 503" in listed.output
        assert "example.ru" not in listed.output and "Сообщение" not in listed.output
        assert "dead: 1" in runner.invoke(args=["outbox", "stats"]).output

        intake.answer = lambda n, body: (201, {}, 0)
        retried = runner.invoke(args=["outbox", "retry", "--all-dead"])
        assert retried.exit_code == 0 and "1 dead message(s) queued again" in retried.output
        with make(app, intake.url) as again:
            assert again.run_once().delivered == 1
        assert rows(app)[id]["status"] == "delivered"
    finally:
        intake.close()


def test_purge_removes_old_delivered_rows_and_keeps_dead_and_pending(app, runner):
    delivered, dead, pending = fill(app, 3)
    with make(app) as sender:
        sender.run_once()
    db = outbox.connect(app.config["OUTBOX_PATH"])
    old = time.time() - 31 * 86400
    with db.atomic():
        db.execute("UPDATE messages SET delivered_at = ?, created_at = ?", [old, old])
        db.execute("UPDATE messages SET status = 'dead', event = '{}' WHERE id = ?", [dead])
        db.execute("UPDATE messages SET status = 'pending', event = '{}' WHERE id = ?", [pending])
    db.close()
    result = runner.invoke(args=["outbox", "purge"])
    assert result.exit_code == 0 and "1 delivered message(s) older than 30 days" in result.output
    assert set(rows(app)) == {dead, pending}
    assert delivered not in rows(app)


def test_purge_keeps_delivered_rows_within_retention(app):
    fill(app, 2)
    with make(app) as sender:
        sender.run_once()
        assert sender.purge() == 0
        assert sender.purge(time.time() + 31 * 86400) == 2


def test_retry_finds_a_message_by_receipt_and_explains_what_it_cannot_do(app, runner):
    fill(app, 2)
    first, second = rows(app).values()
    db = outbox.connect(app.config["OUTBOX_PATH"])
    with db.atomic():
        db.execute("UPDATE messages SET status = 'dead', attempts = 20 WHERE id = ?", [first["id"]])
    db.close()

    unknown = runner.invoke(args=["outbox", "retry", "ZZZZ-ZZZZ"])
    assert unknown.exit_code == 1 and "no message with id or receipt" in unknown.output
    assert "Traceback" not in unknown.output
    neither = runner.invoke(args=["outbox", "retry"])
    assert neither.exit_code == 2 and "--all-dead" in neither.output

    by_receipt = runner.invoke(args=["outbox", "retry", first["receipt"].lower()])
    assert by_receipt.exit_code == 0 and first["id"] in by_receipt.output
    row = rows(app)[first["id"]]
    assert row["status"] == "pending" and row["attempts"] == 0

    with make(app) as sender:
        sender.run_once()
    delivered = runner.invoke(args=["outbox", "retry", second["id"]])
    assert delivered.exit_code == 1 and "nothing to send again" in delivered.output


def test_stats_show_what_waits(app, runner):
    fill(app, 2)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    with db.atomic():
        db.execute("UPDATE messages SET created_at = created_at - 600")
    db.close()
    result = runner.invoke(args=["outbox", "stats"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:2] == ["pending: 2", "dead: 0"]
    assert 599 <= int(lines[2].split(": ")[1].split()[0]) <= 700


def test_forward_once_reports_an_unreachable_queue_as_an_error_an_operator_can_act_on(
    app, runner, config
):
    fill(app, 2)
    app.config["QUEUE_URL"] = "http://127.0.0.1:9/intake"  # nothing listens there
    app.config["QUEUE_SECRET"] = "intake-secret"
    result = runner.invoke(args=["forward", "--once"])
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:9/intake" in result.output
    assert "2 message(s) wait in the outbox" in result.output
    assert "Traceback" not in result.output
    assert all(r["attempts"] == 0 for r in rows(app).values())


def test_forward_once_refuses_a_broken_queue_url(app, runner):
    app.config["QUEUE_URL"] = "amqp://guest:guest@127.0.0.1:5672/%2F?exchange=x&bogus=1"
    result = runner.invoke(args=["forward", "--once"])
    assert result.exit_code == 1 and "queue_url" in result.output and "bogus" in result.output
    assert "Traceback" not in result.output


def test_forward_once_drains_the_spool_default(app, runner):
    fill(app, 120)  # more than one batch
    result = runner.invoke(args=["forward", "--once"])
    assert result.exit_code == 0, result.output
    assert "delivered 120" in result.output
    assert len(os.listdir(spool_folder(app))) == 120
    for name in os.listdir(spool_folder(app))[:5]:
        valid_event(Path(spool_folder(app), name).read_bytes())


def test_the_schema_rejects_an_event_that_breaks_the_contract(app):
    fill(app, 1)
    (row,) = rows(app).values()
    event = json.loads(row["event"])
    valid_event(json.dumps(event))
    event["data"]["channel"] = "email"
    with pytest.raises(Exception, match="email"):
        valid_event(json.dumps(event))


def test_a_running_forwarder_picks_up_new_messages_until_stopped(app):
    sender = make(app, poll_seconds=0.1)
    totals = {}
    thread = threading.Thread(target=lambda: totals.update(vars(sender.run())))
    thread.start()
    try:
        ids = fill(app, 3)
        deadline = time.time() + 20
        while len(os.listdir(spool_folder(app)) if os.path.isdir(spool_folder(app)) else []) < 3:
            assert time.time() < deadline, "the running forwarder did not deliver"
            time.sleep(0.05)
    finally:
        sender.stop()
        thread.join(20)
    assert not thread.is_alive()
    sender.close()
    assert totals["delivered"] == 3
    assert sorted(n.removesuffix(".json") for n in os.listdir(spool_folder(app))) == sorted(ids)


def test_a_running_forwarder_waits_out_an_unreachable_queue_and_stops_on_sigterm(app, instance):
    fill(app, 2)
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_SECRET_KEY="test-secret",
        OTKLIK_QUEUE_URL=f"http://127.0.0.1:{free_port()}/intake",
        OTKLIK_QUEUE_SECRET="intake-secret",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "widget", "forward"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        while not any("cannot send" in line for line in seen):
            line = process.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    err = "".join(seen) + err
    assert process.returncode == 0, err
    assert "cannot send: cannot reach http://127.0.0.1:" in err
    assert "Traceback" not in err and "forwarder stopped" in err
    assert all(r["attempts"] == 0 and r["status"] == "pending" for r in rows(app).values())


def test_a_running_forwarder_waits_out_a_full_disk_and_delivers_once_there_is_room(
    instance, small_disk, caplog
):
    """The outbox on a tiny file system that fills up: SQLite itself answers
    'database or disk is full' to every claim. The forwarder says so, waits, tries
    again, and delivers everything once there is room."""
    app = create_app(
        {"secret_key": "test-secret", "outbox_path": str(small_disk / "outbox.sqlite3")},
        instance_path=instance,
    )
    ids = fill(app, 3)
    sender = make(app, poll_seconds=0.05)
    # An empty write-ahead log: the next claim has to find room on the disk for it.
    assert sender.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)
    fill_disk(small_disk)
    totals = {}
    thread = threading.Thread(target=lambda: totals.update(vars(sender.run())))
    with caplog.at_level(logging.INFO, logger="widget.forwarder"):
        thread.start()
        try:
            deadline = time.time() + 20
            while sum("database or disk is full" in m for m in caplog.messages) < 2:
                assert time.time() < deadline and thread.is_alive(), caplog.text
                time.sleep(0.05)
            assert spooled(app) == []

            (small_disk / "filler").unlink()  # the operator makes room
            while len(spooled(app)) < 3:
                assert time.time() < deadline + 30 and thread.is_alive(), caplog.text
                time.sleep(0.05)
        finally:
            sender.stop()
            thread.join(20)
    assert not thread.is_alive()
    sender.close()
    assert totals["delivered"] == 3
    assert sorted(n.removesuffix(".json") for n in spooled(app)) == sorted(ids)
    assert all(r["status"] == "delivered" for r in rows(app).values())
    full = [r for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert full[0].levelname == "ERROR" and "trying again in" in full[0].getMessage()
    assert "Traceback" not in caplog.text


def test_a_forwarder_stops_on_an_outbox_error_that_is_a_bug(app):
    """Waiting cannot mend a missing table: that one ends the forwarder (and run.sh)."""
    fill(app, 1)
    sender = make(app)
    sender.db.execute("DROP TABLE messages")
    with pytest.raises(sqlite3.OperationalError, match="no such table: messages"):
        sender.run()
    sender.close()
