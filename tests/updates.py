"""Updates as the central system sends them: realistic ``feedback.status.v1`` events,
their bodies (signed for the HTTP push), and what the outbox kept of them."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pika
import pika.exceptions

from tests.central import RABBIT
from tests.prometheus import metric
from widget import intakes, listener, outbox, signatures
from widget.outbox import updates as stored
from widget.updates import Update

RECEIPT = "K7M2-9QXD"
AGENCY = "orel-school-57"
SECRET = "intake-secret-for-tests"
# An answer as staff write them: a typo or two, line breaks, an emoji, and markup that
# must stay text.
ANSWER = (
    "Здравствуйте!\n"
    "Проверка в столовой проведена 3 декабря: суп теперь подают горячим, повару сделанно "
    "замечание 🙏.\n"
    "Меню на неделю — на сайте школы, раздел <b>«Питание»</b>."
)


def status_event(
    status: str = "answered",
    *,
    id: str | None = None,
    time: str = "2026-12-03T10:15:00+03:00",
    receipt: str = RECEIPT,
    agency_id: str = AGENCY,
    **data,
) -> dict:
    """A valid event; ``data`` adds or replaces fields of its ``data``."""
    fields = {"receipt": receipt, "agency_id": agency_id, "status": status}
    if status == "answered":
        fields.update(answer=ANSWER, answered_by="Администрация школы")
    if status == "redirected":
        fields["redirected_to"] = "Управление образования г. Орла"
    fields.update(data)
    return {
        "specversion": "1.0",
        "id": id or str(uuid.uuid4()),
        "type": "feedback.status.v1",
        "source": "/central/57",
        "subject": receipt,
        "time": time,
        "datacontenttype": "application/json",
        "data": fields,
    }


def body_of(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def drop(folder: Path, event: dict | bytes, name: str | None = None) -> Path:
    """Put one update in a spool folder as a sender should: under a dot-name, then
    renamed. Each one dropped is newer than the last (the folder is taken oldest first)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = event if isinstance(event, bytes) else body_of(event)
    name = name or f"{event['id'] if isinstance(event, dict) else uuid.uuid4()}.json"
    temp = folder / f".{name}.tmp"
    temp.write_bytes(body)
    later = time.time_ns() + next(_ORDER) * 1_000_000
    os.utime(temp, ns=(later, later))
    return temp.rename(folder / name)


_ORDER = itertools.count(1)


def signed(body: bytes, secret: str = SECRET) -> dict:
    """The headers of a push of ``body``."""
    return {
        signatures.HEADER: signatures.sign(body, secret),
        "Content-Type": "application/cloudevents+json",
    }


def history(app, receipt: str = RECEIPT, agency_id: str = AGENCY) -> list[Update]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return stored.history(db, agency_id, receipt)
    finally:
        db.close()


def rows(app) -> list[dict]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return list(db["updates"].rows)
    finally:
        db.close()


class Counted:
    """``otklik_updates_total`` as /metrics shows it, counted from when this was made (the
    counters are the test process's, shared by its tests)."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.before = self._scrape()

    def _scrape(self) -> str:
        return self.client.get("/metrics").get_data(as_text=True)

    def __call__(self, intake: str, outcome: str) -> float:
        now, labels = self._scrape(), {"intake": intake, "outcome": outcome}
        name = "otklik_updates_total"
        return metric(now, name, **labels) - metric(self.before, name, **labels)


# -- the listener ------------------------------------------------------------------------


def make(app, url: str) -> listener.Listener:
    return listener.Listener(app.config["OUTBOX_PATH"], intakes.open_intake(url), poll_seconds=0.1)


class Running:
    """A listener's ``run`` in a thread, stopped (and its connection closed) at exit."""

    def __init__(self, app, url: str) -> None:
        self.taker = make(app, url)
        self.totals: dict = {}
        self.thread = threading.Thread(target=lambda: self.totals.update(vars(self.taker.run())))

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.taker.stop()
        self.thread.join(30)
        self.taker.close()
        assert not self.thread.is_alive()


# -- RabbitMQ: the central system's side -------------------------------------------------


class Central:
    """A test's own updates exchange and this instance's queue name on the real broker,
    as the central system publishes to them; the listener declares both (and the
    dead-letter exchange and queue) when it connects."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.exchange, self.queue = f"otklik-test-updates-{tag}", f"otklik-test-{tag}"
        self.dead_queue = f"{self.queue}.dead"
        self.url = f"{RABBIT}?exchange={self.exchange}&queue={self.queue}"
        self.connection = pika.BlockingConnection(pika.URLParameters(RABBIT))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def publish(self, *events: dict | bytes, routing_key: str = "57.education.orel-school-57"):
        """Publish as the central system should: persistent, mandatory, confirmed."""
        for event in events:
            body = event if isinstance(event, bytes) else body_of(event)
            self.channel.basic_publish(
                self.exchange,
                routing_key,
                body,
                properties=pika.BasicProperties(
                    content_type="application/cloudevents+json",
                    delivery_mode=pika.DeliveryMode.Persistent,
                ),
                mandatory=True,
            )

    def count(self, queue: str | None = None) -> tuple[int, int] | None:
        """(messages ready, consumers) of a queue, or None when it does not exist."""
        channel = self.connection.channel()
        try:
            method = channel.queue_declare(queue or self.queue, passive=True).method
        except pika.exceptions.ChannelClosedByBroker:
            return None
        channel.close()
        return method.message_count, method.consumer_count

    def wait_for(self, condition, seconds: float = 30) -> None:
        deadline = time.time() + seconds
        while not condition():
            assert time.time() < deadline, "timed out"
            self.connection.process_data_events(0.05)

    def drain(self, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
        """Every message now in ``queue``, acked."""
        got = []
        while True:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                return got
            got.append((properties, body))

    def close(self) -> None:
        try:
            for queue in (self.queue, self.dead_queue):
                self.channel.queue_delete(queue)
            for exchange in (self.exchange, f"{self.exchange}.dead"):
                self.channel.exchange_delete(exchange)
        finally:
            self.connection.close()


def close_connections_of(queue: str) -> int:
    """Close, from the broker's side, the listener's connections for ``queue`` (they are
    named so), as a broker restart or an operator would; returns how many."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "--no-table-headers", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    named = f'{{"connection_name","otklik listen {queue}"}}'
    pids = [line.split("\t", 1)[0] for line in listed.stdout.splitlines() if named in line]
    for pid in pids:  # close_connection takes the pid the listing shows, not the name
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "test: broker cut"],
            capture_output=True,
            check=True,
            timeout=60,
        )
    return len(pids)
