"""The baseline for the listener: a bare pika consumer that commits each delivery to
SQLite (WAL, synchronous=FULL, the outbox's busy timeout) and only then acks it, with
the listener's prefetch. Run by bench/listener.py:

    python bench/_bare_consumer.py <amqp url> <queue> <database>
"""

import json
import sqlite3
import sys
import time

import pika

from widget.intakes.amqp import PREFETCH


def main(url: str, queue: str, path: str) -> None:
    db = sqlite3.connect(path, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    with db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS updates (id TEXT PRIMARY KEY, body TEXT NOT NULL,"
            " received_at REAL NOT NULL)"
        )

    def on_delivery(channel, method, _properties, body: bytes) -> None:
        event_id = json.loads(body)["id"]  # a redelivery is dropped by id, as the listener does
        with db:
            db.execute(
                "INSERT INTO updates (id, body, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                [event_id, body.decode(), time.time()],
            )
        channel.basic_ack(method.delivery_tag)

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    channel.basic_consume(queue, on_delivery, auto_ack=False)
    channel.start_consuming()


if __name__ == "__main__":
    main(*sys.argv[1:4])
