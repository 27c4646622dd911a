"""The RabbitMQ transport against the real broker on 127.0.0.1:5672, with a queue bound
to each test's own exchange. Every fault ends with every message in the queue
(duplicates allowed, losses not), each valid against the schema."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pika
import pytest

from tests.central import RABBIT, Proxy, Rabbit, fill, rows
from tests.services import free_port, require
from widget import forwarder
from widget.transports import open_transport

pytestmark = pytest.mark.services


@pytest.fixture
def rabbit():
    require(5672, "RabbitMQ")
    queue = Rabbit()
    yield queue
    queue.close()


def make(app, url, **options) -> forwarder.Forwarder:
    transport = open_transport(url, timeout=options.pop("timeout", 10.0))
    return forwarder.Forwarder(app.config["OUTBOX_PATH"], transport, **options)


def ids_in(messages) -> list[str]:
    return [properties.message_id for properties, _body in messages]


def test_events_arrive_persistent_with_their_id_type_and_the_agencys_routing_key(app, rabbit):
    ids = fill(app, 3, agency_id="orel-polyclinic-1")
    specific = Rabbit("57.health.*", rabbit.exchange)  # a consumer of one routing key
    other = Rabbit("57.education.*", rabbit.exchange)
    try:
        with make(app, rabbit.url) as sender:
            assert sender.run_once().delivered == 3
        got = rabbit.drain()
        assert sorted(ids_in(got)) == sorted(ids)
        assert len(specific.drain()) == 3
        assert other.drain() == []
    finally:
        specific.close()
        other.close()
    for properties, _body in got:
        assert properties.content_type == "application/cloudevents+json"
        assert properties.delivery_mode == 2
    assert all(r["status"] == "delivered" and r["event"] is None for r in rows(app).values())


def test_an_unroutable_message_is_not_delivered_until_a_queue_is_bound(app):
    require(5672, "RabbitMQ")
    unbound = Rabbit(binding=None)
    try:
        ids = fill(app, 4)
        with make(app, unbound.url, backoff_base=10) as sender:
            now = time.time()
            totals = sender.run_once(now)
            assert totals.retried == 4 and totals.delivered == 0
            for row in rows(app).values():
                assert row["status"] == "pending" and row["attempts"] == 1
                assert "unroutable" in row["last_error"]
                assert "57.education.orel-school-57" in row["last_error"]
            unbound.bind("57.#")
            assert sender.run_once(now + 11).delivered == 4
        assert sorted(ids_in(unbound.drain())) == sorted(ids)
    finally:
        unbound.close()


def test_a_broker_that_is_down_then_up_loses_nothing(app, rabbit, runner):
    ids = fill(app, 50)
    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F?exchange={rabbit.exchange}"
    app.config["QUEUE_URL"] = down
    result = runner.invoke(args=["forward", "--once"])
    assert result.exit_code == 1 and "cannot reach RabbitMQ" in result.output
    assert "Connection refused" in result.output and "guest:guest" not in result.output
    assert all(r["attempts"] == 0 for r in rows(app).values())

    fill(app, 10, start=50)  # messages keep being accepted meanwhile
    with make(app, rabbit.url) as sender:
        assert sender.run_once(time.time() + 120).delivered == 60
    got = ids_in(rabbit.drain())
    assert set(ids) < set(got) and len(set(got)) == 60


def test_a_connection_dropped_mid_batch_loses_nothing(app, rabbit):
    ids = fill(app, 1000)
    proxy = Proxy(("127.0.0.1", 5672))
    cut_once = threading.Event()

    def cut_midway(relayed: int) -> None:
        if relayed > 150_000 and not cut_once.is_set():
            cut_once.set()
            proxy.cut()

    proxy.on_bytes = cut_midway
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F?exchange={rabbit.exchange}"
    try:
        with make(app, url, batch_size=400, backoff_base=5) as sender:
            now = time.time()
            first = sender.run_once(now)
            assert cut_once.is_set()
            assert any("connection to RabbitMQ lost" in reason for reason in first.reasons)
            assert first.delivered < 1000
            second = sender.run_once(now + 600)  # reconnects through the proxy
            assert first.delivered + second.delivered == 1000
    finally:
        proxy.close()
    got = ids_in(rabbit.drain())
    assert set(got) == set(ids)  # every one arrived; some perhaps twice
    assert all(r["status"] == "delivered" for r in rows(app).values())


def test_two_forwarders_on_one_outbox_send_each_message_once(app, rabbit):
    ids = fill(app, 2000)
    senders = [make(app, rabbit.url, batch_size=100) for _ in range(2)]
    totals = [None, None]
    start = threading.Barrier(2)

    def work(i):
        start.wait(30)
        totals[i] = senders[i].run_once()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in senders:
        s.close()
    assert totals[0].delivered + totals[1].delivered == 2000
    assert totals[0].delivered and totals[1].delivered  # both took part
    got = ids_in(rabbit.drain())
    assert len(got) == 2000 and set(got) == set(ids)  # no row was sent by both


def forward_process(instance, url, *extra) -> subprocess.Popen:
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_SECRET_KEY="test-secret",
        OTKLIK_DEMO="true",
        OTKLIK_QUEUE_URL=url,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "widget", "forward", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(RABBIT))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_a_forwarder_killed_mid_batch_and_restarted_loses_nothing(app, instance, rabbit):
    ids = fill(app, 2000)
    process = forward_process(instance, rabbit.url, "--batch-size", "50", "--lease", "3")
    try:
        deadline = time.time() + 60
        while queue_depth(rabbit.queue) == 0 and time.time() < deadline:
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    left = [r for r in rows(app).values() if r["status"] == "pending"]
    assert left, "the forwarder finished before it could be killed"

    time.sleep(3.1)  # the dead forwarder's leases run out
    restarted = forward_process(instance, rabbit.url, "--once")
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    assert out.startswith(f"delivered {len(left)},")
    got = ids_in(rabbit.drain())
    assert set(got) == set(ids)  # duplicates allowed, losses not
    assert all(r["status"] == "delivered" and r["event"] is None for r in rows(app).values())


def test_sigterm_finishes_the_batch_in_hand_then_stops(app, instance, rabbit):
    fill(app, 3000)
    process = forward_process(instance, rabbit.url, "--batch-size", "100")
    try:
        deadline = time.time() + 60
        while queue_depth(rabbit.queue) == 0 and time.time() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM: finishing the batch in hand" in err and "forwarder stopped" in err
    assert "Traceback" not in err
    table = rows(app).values()
    assert all(r["lease_until"] is None for r in table)  # nothing left half-sent
    delivered = {r["id"] for r in table if r["status"] == "delivered"}
    assert set(ids_in(rabbit.drain())) == delivered
