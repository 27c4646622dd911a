"""Drain a backlog of outbox rows to RabbitMQ, and compare with bare pika loops.

    .venv/bin/python bench/forward_amqp.py [--messages 20000] [--url amqp://…]

Three runs on the same broker, with the same messages (the same bodies, routing keys
and properties: persistent, mandatory, to a durable topic exchange bound to a durable
queue):

- ``bare pika, confirm each``: BlockingConnection in confirm mode, one publish at a
  time, each waiting for its confirm: the naive safe loop, the baseline.
- ``bare pika, no confirms``: the same loop without confirms. Not safe (a message can
  be lost silently); shown as the ceiling of a single pika connection.
- ``forwarder``: ``Forwarder.run_once()`` on an outbox holding the backlog: claims,
  publishes a whole batch with confirms in flight, marks rows delivered (erasing the
  event) in SQLite with synchronous=FULL.

Prints a table and writes bench/results/forward_amqp.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _common  # noqa: E402

from widget import agencies, create_app, events, forwarder, outbox  # noqa: E402
from widget.transports import open_transport  # noqa: E402


def fill(app, count: int) -> None:
    with app.app_context():
        agency = agencies.extension(app).get("orel-school-57")
    consent = events.Consent("Я согласен", "v1", time.time())
    db = outbox.connect(app.config["OUTBOX_PATH"])
    with db.atomic():
        for i in range(count):
            submission = events.Submission(
                agency=agency,
                topic_id="food",
                text=f"В столовой холодный суп, уже {i}-й день подряд. Просим разобраться.",
                contact={"name": "Иван Петров", "email": f"ivan{i}@example.ru"},
                lang="ru",
                channel="embed",
                origin="https://school57.example.ru",
                consent=consent,
            )
            outbox.enqueue(
                db,
                submission,
                nonce=uuid.uuid4().hex,
            )
    db.close()


def messages(app) -> list[tuple[str, str, bytes]]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return [
            (id, key, event.encode())
            for id, key, event in db.execute("SELECT id, routing_key, event FROM messages")
        ]
    finally:
        db.close()


def bare_loop(url: str, exchange: str, batch, confirm: bool) -> float:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    if confirm:
        channel.confirm_delivery()
    start = time.perf_counter()
    for id, key, body in batch:
        channel.basic_publish(
            exchange,
            key,
            body,
            properties=pika.BasicProperties(
                content_type="application/cloudevents+json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=id,
                app_id="otklik",
            ),
            mandatory=True,
        )
    if not confirm:  # make sure everything left the client before stopping the clock
        connection.process_data_events(0)
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


class Admin:
    """Declares, counts and deletes on a connection of its own, opened per use: the
    runs take minutes, longer than an idle connection's heartbeats would last."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __getattr__(self, name):
        def call(*args, **kwargs):
            connection = pika.BlockingConnection(pika.URLParameters(self.url))
            try:
                return getattr(connection.channel(), name)(*args, **kwargs)
            finally:
                connection.close()

        return call


def queue_count(channel, queue: str, expect: int) -> int:
    """Messages in the queue, once ``expect`` arrived or arrivals stopped for 2 s."""
    count, last_change = -1, time.monotonic()
    while time.monotonic() - last_change < 2:
        now = channel.queue_declare(queue, passive=True).method.message_count
        if now >= expect:
            return now
        if now != count:
            count, last_change = now, time.monotonic()
        time.sleep(0.05)
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = parser.parse_args()
    n = args.messages

    tag = uuid.uuid4().hex[:10]
    exchange = queue = f"otklik-bench-{tag}"
    channel = Admin(args.url)
    try:
        channel.exchange_declare(exchange, "topic", durable=True)
    except pika.exceptions.AMQPError as e:
        print(f"forward_amqp: RabbitMQ is not reachable at {args.url}: {e!r}", file=sys.stderr)
        return 1
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange, "#")

    folder = Path(tempfile.mkdtemp(prefix="otklik-bench-"))
    try:
        shutil.copytree(ROOT / "instance" / "agencies", folder / "agencies")
        app = create_app({"secret_key": "bench", "demo": True}, instance_path=folder)
        started = time.perf_counter()
        fill(app, n)
        fill_seconds = time.perf_counter() - started
        batch = messages(app)

        rows = []
        for name, confirm in (("bare pika, confirm each", True), ("bare pika, no confirms", False)):
            seconds = bare_loop(args.url, exchange, batch, confirm)
            arrived = queue_count(channel, queue, n)
            channel.queue_purge(queue)
            rows.append({"run": name, "messages": n, "seconds": seconds, "arrived": arrived})

        url = f"{args.url}?exchange={exchange}"
        sender = forwarder.Forwarder(app.config["OUTBOX_PATH"], open_transport(url))
        started = time.perf_counter()
        totals = sender.run_once()
        seconds = time.perf_counter() - started
        sender.close()
        arrived = queue_count(channel, queue, n)
        db = outbox.connect(app.config["OUTBOX_PATH"])
        left = outbox.depth(db)["pending"]
        db.close()
        rows.append(
            {
                "run": "forwarder (outbox -> RabbitMQ)",
                "messages": totals.delivered,
                "seconds": seconds,
                "arrived": arrived,
                "left_pending": left,
                "batch_size": sender.batch_size,
            }
        )
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        shutil.rmtree(folder, ignore_errors=True)

    for row in rows:
        row["msgs_per_s"] = round(row["messages"] / row["seconds"])
    baseline = rows[0]["msgs_per_s"]
    for row in rows:
        row["vs_confirm_each"] = round(row["msgs_per_s"] / baseline, 2)

    print(f"forward_amqp: {n} messages, one event {len(batch[0][2])} bytes")
    print(f"  (filling the outbox: {fill_seconds:.1f} s, not counted)")
    print(f"  {'run':<32} {'msgs/s':>8} {'seconds':>8} {'arrived':>8} {'ratio':>6}")
    for row in rows:
        print(
            f"  {row['run']:<32} {row['msgs_per_s']:>8} {row['seconds']:>8.2f}"
            f" {row['arrived']:>8} {row['vs_confirm_each']:>5.2f}x"
        )
    forwarder_row = rows[-1]
    lost = n - forwarder_row["arrived"]
    ok = lost == 0 and forwarder_row["left_pending"] == 0
    print(f"  forwarder vs bare confirm-each loop: {forwarder_row['vs_confirm_each']:.2f}x")
    print("  every message arrived" if ok else f"  LOST: {lost} messages did not arrive")

    # The shared results format (bench/README.md), so that report.py puts these rows
    # in the one table.
    table = [
        _common.row(r["run"], r["msgs_per_s"], "msgs/s", note=f"{r['arrived']} of {n} arrived")
        for r in rows[:-1]
    ]
    table.append(
        _common.row(
            "forwarder drains 20,000 rows to RabbitMQ" if n == 20_000 else "forwarder drain",
            forwarder_row["msgs_per_s"],
            "msgs/s",
            baseline=baseline,
            ratio=forwarder_row["vs_confirm_each"],
            aim="ratio >= 2 and nothing lost",
            ok=ok and forwarder_row["vs_confirm_each"] >= 2,
            note=f"{forwarder_row['arrived']} of {n} arrived",
        )
    )
    _common.write_results("forward_amqp", table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
