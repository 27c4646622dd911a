"""`flask listen` on RabbitMQ (the real broker on 127.0.0.1:5672): this instance's queue
bound to the updates exchange, acks only after the commit, invalid events to the
dead-letter queue; a broker that cuts the connection or a listener killed between
commit and ack loses nothing and doubles nothing."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid

import pika
import pika.exceptions
import pytest

from tests.central import ROOT, Proxy
from tests.conftest import fill_disk
from tests.services import free_port, require
from tests.updates import (
    Central,
    Counted,
    Running,
    body_of,
    close_connections_of,
    history,
    rows,
    status_event,
)
from widget import create_app

pytestmark = pytest.mark.services


@pytest.fixture
def central():
    require(5672, "RabbitMQ")
    side = Central()
    yield side
    side.close()


def consuming(central: Central) -> bool:
    counted = central.count()
    return counted is not None and counted[1] == 1


def recorded(app) -> set[str]:
    return {row["id"] for row in rows(app)}


def updates_of(count: int) -> list[dict]:
    statuses = ("received", "in_progress", "answered", "redirected", "closed")
    when = "2026-12-03T10:{:02d}:00Z"
    return [
        status_event(statuses[i % 5], receipt=f"K7M2-{i:04d}", time=when.format(i % 60))
        for i in range(count)
    ]


# -- bad input first ---------------------------------------------------------------------


def test_an_invalid_event_goes_to_the_dead_letter_queue_and_never_loops(app, central, caplog):
    counted = Counted(app)
    good = status_event()
    with caplog.at_level(logging.INFO), Running(app, central.url):
        central.wait_for(lambda: consuming(central))
        central.publish(b"{not json", status_event("done"), good)
        central.wait_for(lambda: central.count(central.dead_queue)[0] == 2)
        central.wait_for(lambda: recorded(app) == {good["id"]})
    assert central.count() == (0, 0)  # nothing left to come again
    dead = central.drain(central.dead_queue)
    assert [body for _p, body in dead] == [b"{not json", dead[1][1]]
    death = dead[0][0].headers["x-death"][0]
    assert death["reason"] == "rejected" and death["queue"] == central.queue
    assert counted("amqp", "rejected") == 2 and counted("amqp", "recorded") == 1
    assert "data.status: not one of" in caplog.text and "Traceback" not in caplog.text


def test_a_repeat_is_acked_and_changes_nothing(app, central):
    event = status_event()
    with Running(app, central.url) as running:
        central.wait_for(lambda: consuming(central))
        central.publish(event, event, event)
        central.wait_for(lambda: not running.taker.in_hand and central.count()[0] == 0)
        time.sleep(0.3)
    assert central.count() == (0, 0)
    assert len(rows(app)) == 1 and rows(app)[0]["intake"] == "amqp"


def test_a_broker_that_is_down_is_waited_for_without_a_traceback(app, caplog):
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F?exchange=feedback.updates&queue=x"
    with caplog.at_level(logging.INFO, logger="widget.listener"), Running(app, url):
        deadline = time.time() + 20
        while caplog.text.count("cannot take updates") < 2:
            assert time.time() < deadline, caplog.text
            time.sleep(0.1)
    ours = [r for r in caplog.records if r.name.startswith("widget")]
    said = "\n".join(r.getMessage() for r in ours)
    assert "cannot consume from RabbitMQ at amqp://guest:***@127.0.0.1:" in said
    assert "Connection refused" in said and not any(r.exc_info for r in ours)


def test_the_broker_closing_the_connection_mid_stream_loses_nothing(app, central, caplog):
    events = updates_of(600)
    with caplog.at_level(logging.INFO, logger="widget.listener"), Running(app, central.url):
        central.wait_for(lambda: consuming(central))
        central.publish(*events[:300])
        central.wait_for(lambda: len(rows(app)) > 0)
        assert close_connections_of(central.queue) == 1  # from RabbitMQ's side
        central.publish(*events[300:])  # the central system goes on meanwhile
        central.wait_for(lambda: len(rows(app)) == 600, seconds=60)
        central.wait_for(lambda: central.count()[0] == 0)
    assert recorded(app) == {e["id"] for e in events}
    assert "connection to RabbitMQ lost: 320 CONNECTION_FORCED" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_deleted_queue_is_declared_again_and_consumed(app, central, caplog):
    before, after = status_event("received"), status_event()
    with caplog.at_level(logging.INFO, logger="widget.listener"), Running(app, central.url):
        central.wait_for(lambda: consuming(central))
        central.publish(before)
        central.wait_for(lambda: len(rows(app)) == 1)
        central.channel.queue_delete(central.queue)  # an operator's mistake
        central.wait_for(lambda: consuming(central))  # declared again
        central.publish(after)
        central.wait_for(lambda: len(rows(app)) == 2)
    assert "cancelled the consumer" in caplog.text
    assert [u.status for u in history(app)] == ["received", "answered"]


# -- processes -------------------------------------------------------------------------


def listen_process(instance, url: str, *extra: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_SECRET_KEY="test-secret",
        OTKLIK_DEMO="true",
        OTKLIK_UPDATES_URL=url,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "widget", "listen", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_listener_killed_between_commit_and_ack_gives_a_repeat_not_a_double(
    app, instance, central
):
    """The ack never reaches the broker (the proxy holds what the listener sends), the
    update is committed, the listener is killed: the broker delivers it again to the
    next listener, which records nothing new and acks it."""
    event = status_event()
    proxy = Proxy(("127.0.0.1", 5672))
    through_proxy = central.url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    process = listen_process(instance, through_proxy)
    try:
        central.wait_for(lambda: consuming(central))
        proxy.hold()  # from now on the listener's acks go nowhere
        central.publish(event)
        central.wait_for(lambda: recorded(app) == {event["id"]})
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        proxy.cut()
        central.wait_for(lambda: central.count() == (1, 0))  # back in the queue, unacked
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        proxy.close()

    counted = Counted(app)
    with Running(app, central.url) as running:
        central.wait_for(lambda: central.count()[0] == 0 and not running.taker.in_hand)
        time.sleep(0.3)
    assert central.count() == (0, 0)
    assert len(rows(app)) == 1
    assert running.totals == {
        "recorded": 0,
        "repeats": 1,
        "rejected": 0,
        "taken": 1,
        "problem": None,
    }
    assert counted("amqp", "repeat") == 1


def test_sigterm_acks_what_is_committed_then_stops(app, instance, central):
    events = updates_of(3000)
    process = listen_process(instance, central.url)
    try:
        central.wait_for(lambda: consuming(central))
        central.publish(*events)
        central.wait_for(lambda: len(rows(app)) >= 100)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM: committing the updates in hand" in err and "listener stopped" in err
    assert "Traceback" not in err
    central.wait_for(lambda: central.count()[1] == 0)
    left = [json.loads(body)["id"] for _p, body in central.drain(central.queue)]
    committed = recorded(app)
    assert not committed & set(left)  # every committed one was acked
    assert committed | set(left) == {e["id"] for e in events}  # and none is lost


def test_listen_once_takes_what_waits_in_the_queue(app, instance, central):
    events = updates_of(5)
    with Running(app, central.url):  # declares the queue, then is stopped
        central.wait_for(lambda: consuming(central))
    central.publish(*events, b"[]")
    process = listen_process(instance, central.url, "--once")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.splitlines()[-1] == "recorded 5, repeats 0, rejected 1"
    assert central.count() == (0, 0) and central.count(central.dead_queue)[0] == 1


def test_the_users_docs_updates_md_sets_up_can_listen_and_publish(app):
    """The rabbitmqctl lines of docs/updates.md, run as written against a scratch vhost
    (users and vhost renamed so), give the listener and the central system what they
    need and no more than the docs say."""
    require(5672, "RabbitMQ")
    tag = uuid.uuid4().hex[:8]
    vhost, users = f"otklik-test-{tag}", {"otklik-listener": "", "central": ""}
    docs = (ROOT / "docs" / "updates.md").read_text()
    lines = [line.strip() for line in docs.splitlines() if line.strip().startswith("rabbitmqctl")]
    assert len(lines) == 4

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    ctl("add_vhost", vhost)
    try:
        for line in lines:
            words = shlex.split(line)[1:]
            words = [vhost if w == "otklik" else w for w in words]
            if words[0] == "add_user":
                users[words[1]] = f"{words[1]}-{tag}"
                words[1:] = [users[words[1]], "password"]
            else:
                words[3] = users[words[3]]
            ctl(*words)
        base = f"amqp://{{}}:password@127.0.0.1:5672/{vhost}"
        url = base.format(users["otklik-listener"]) + "?exchange=feedback.updates&queue=otklik-t"
        good = status_event()
        with Running(app, url):
            publisher = pika.BlockingConnection(pika.URLParameters(base.format(users["central"])))
            try:
                channel = publisher.channel()
                channel.confirm_delivery()
                deadline = time.time() + 30
                while True:  # until the listener has declared and bound its queue
                    try:
                        channel.basic_publish("feedback.updates", "57.x", b"[]", mandatory=True)
                        break
                    except (pika.exceptions.UnroutableError, pika.exceptions.ChannelClosed):
                        assert time.time() < deadline
                        channel = publisher.channel()
                        channel.confirm_delivery()
                        time.sleep(0.2)
                channel.basic_publish("feedback.updates", "57.x", body_of(good), mandatory=True)
                deadline = time.time() + 30
                while recorded(app) != {good["id"]}:
                    assert time.time() < deadline
                    time.sleep(0.1)
            finally:
                publisher.close()
    finally:
        ctl("delete_vhost", vhost)
        for user in users.values():
            if user:
                ctl("delete_user", user)


def test_a_full_disk_leaves_the_deliveries_unacked_until_there_is_room(
    instance, central, small_disk, caplog
):
    """While SQLite cannot commit, the deliveries stay in the listener's hand, unacked
    (the broker would give them again to the next listener); once there is room they
    are committed, then acked."""
    app = create_app(
        {"secret_key": "test-secret", "outbox_path": str(small_disk / "outbox.sqlite3")},
        instance_path=instance,
    )
    events = updates_of(3)
    logs = caplog.at_level(logging.INFO, logger="widget.listener")
    with logs, Running(app, central.url) as running:
        central.wait_for(lambda: consuming(central))
        assert running.taker.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        fill_disk(small_disk)
        central.publish(*events)
        central.wait_for(lambda: caplog.text.count("database or disk is full") >= 2)
        assert running.taker.in_hand >= 1 and rows(app) == []  # the rest wait behind it
        assert central.count() == (0, 1)  # delivered, not acked, not back in the queue
        (small_disk / "filler").unlink()  # the operator makes room
        central.wait_for(lambda: len(rows(app)) == 3 and not running.taker.in_hand, seconds=60)
    assert central.count() == (0, 0)  # acked: nothing comes again
    assert recorded(app) == {e["id"] for e in events}
