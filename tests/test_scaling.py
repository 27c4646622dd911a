"""The design past one machine (docs/scaling.md), end to end: two instances, each with
its own instance folder, outbox and forwarder, behind any front; one Redis for the rate
limits; one RabbitMQ exchange with a quorum queue as the central queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pika
import pytest
import redis

from tests.central import RABBIT, valid_event
from tests.server import ROOT, Gunicorn, http_submit, in_parallel
from tests.services import require
from widget import outbox

pytestmark = pytest.mark.services


@pytest.fixture
def central_queue():
    """A durable topic exchange and a quorum queue bound to it (unique names)."""
    require(5672, "RabbitMQ")
    name = f"otklik-scale-{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBIT))
    channel = connection.channel()
    channel.exchange_declare(name, "topic", durable=True)
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(name, name, "#")
    yield name, channel
    try:
        channel.queue_delete(name)
        channel.exchange_delete(name)
    finally:
        connection.close()


@pytest.fixture
def redis_prefix():
    require(6379, "Redis")
    prefix = f"otklik-scale-{uuid.uuid4().hex[:12]}"
    yield prefix
    store = redis.Redis(host="127.0.0.1", port=6379)
    for key in store.scan_iter(f"*{prefix}*"):
        store.delete(key)
    store.close()


def drain(channel, queue: str, expected: int) -> list[tuple[str, dict]]:
    got = []
    for method, properties, body in channel.consume(queue, inactivity_timeout=5):
        if method is None:
            break
        got.append((properties.message_id, valid_event(body)))
        channel.basic_ack(method.delivery_tag)
        if len(got) == expected:
            break
    channel.cancel()
    return got


def forward_once(instance, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "forward", "--once"],
        cwd=ROOT,
        env={**os.environ, **env, "OTKLIK_INSTANCE_PATH": str(instance)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def stored_ids(instance) -> set[str]:
    db = outbox.connect(str(instance / "outbox.sqlite3"))
    try:
        return {row[0] for row in db.execute("SELECT id FROM messages")}
    finally:
        db.close()


def test_two_instances_share_limits_and_deliver_every_message_once(
    tmp_path, instance, central_queue, redis_prefix
):
    exchange, channel = central_queue
    school = instance / "agencies" / "orel-school-57.toml"
    school.write_text(school.read_text() + '\n[limits]\nper_ip = "10 per hour"\n')
    second = tmp_path / "second"
    second.mkdir()
    shutil.copytree(instance / "agencies", second / "agencies")
    env = {
        "OTKLIK_SECRET_KEY": "one-secret-for-every-instance",  # a token from A posts to B
        "OTKLIK_TOKEN_MIN_SECONDS": "0",
        "OTKLIK_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "OTKLIK_RATELIMIT_KEY_PREFIX": redis_prefix,
        "OTKLIK_QUEUE_URL": f"{RABBIT}?exchange={exchange}",
    }
    a = Gunicorn(instance, workers=2, env=env)
    try:
        b = Gunicorn(second, workers=2, env=env)
        try:
            # Any front: the form may be shown by one instance and posted to the other.
            calls = [
                lambda: http_submit(a.url),
                lambda: http_submit(b.url),
                lambda: http_submit(a.url, token_from=b.url),
                lambda: http_submit(b.url, token_from=a.url),
            ]
            statuses = in_parallel([*calls, *calls, calls[0], calls[1]])
            assert statuses == [303] * 10
            # One Redis: the school's 10 an hour from this address are used up on both.
            assert (http_submit(a.url), http_submit(b.url)) == (429, 429)
        finally:
            b.stop()
    finally:
        a.stop()

    ids_a, ids_b = stored_ids(instance), stored_ids(second)
    assert len(ids_a) == len(ids_b) == 5 and not ids_a & ids_b

    # Each instance's own forwarder drains its own outbox into the one exchange.
    for folder in (instance, second):
        forwarded = forward_once(folder, env)
        assert forwarded.returncode == 0, forwarded.stderr
        assert forwarded.stdout.startswith("delivered 5,")

    arrived = drain(channel, exchange, 10)
    assert sorted(message_id for message_id, _ in arrived) == sorted(ids_a | ids_b)
    assert all(event["id"] == message_id for message_id, event in arrived)
    assert channel.queue_declare(exchange, passive=True).method.message_count == 0

    # A second run on either side sends nothing again: each message arrived once.
    for folder in (instance, second):
        assert forward_once(folder, env).stdout.startswith("delivered 0,")
