"""The central queue as the tests see it: the receiving end of each transport.

Every event that arrives here is validated against its schema in docs/. Also: a
small HTTP intake on 127.0.0.1 with scripted answers, a RabbitMQ queue bound to a
test's own exchange, a TCP proxy a test can cut, and a way to fill the outbox.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pika

from tests.services import free_port
from widget import agencies, events, outbox

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "event.schema.json").read_text(encoding="utf-8"))
RATED_SCHEMA = json.loads((ROOT / "docs" / "rated.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
# The schema of each kind of event the forwarder sends: messages and ratings.
VALIDATORS = {
    "feedback.submitted.v1": VALIDATOR,
    "feedback.rated.v1": jsonschema.Draft202012Validator(
        RATED_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ),
}
RABBIT = "amqp://guest:guest@127.0.0.1:5672/%2F"


def valid_event(body: bytes | str) -> dict:
    """The event in ``body``, after checking it against the published schema of its
    type (docs/event.schema.json for a message, docs/rated.schema.json for a rating)."""
    event = json.loads(body)
    VALIDATORS.get(event.get("type"), VALIDATOR).validate(event)
    return event


# -- filling the outbox ---------------------------------------------------------------


def fill(
    app, count: int, agency_id: str = "orel-school-57", start: int = 0, channel: str = "embed"
) -> list[str]:
    """Accept ``count`` messages with personal data, as the form would (or, with
    ``channel``, another way in); returns the ids of every message in the outbox, oldest
    first."""
    with app.app_context():
        agency = agencies.extension(app).get(agency_id)
    consent = events.Consent("Я согласен", "v1", 1_700_000_000.0)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    ids = []
    try:
        with outbox.write_transaction(db):  # one commit for all, taking the write lock first
            _enqueue(db, agency, consent, range(start, start + count), channel)
        ids = [row[0] for row in db.execute("SELECT id FROM messages ORDER BY created_at")]
    finally:
        db.close()
    return ids


def _enqueue(db, agency, consent, numbers, channel: str = "embed") -> None:
    for i in numbers:
        submission = events.Submission(
            agency=agency,
            topic_id=agency.topics[0].id,
            text=f"Сообщение номер {i}",
            contact={"name": "Иван Петров", "email": f"ivan{i}@example.ru"},
            lang="ru",
            channel=channel,
            origin=None,
            consent=consent,
        )
        outbox.enqueue(
            db,
            submission,
            nonce=uuid.uuid4().hex,
        )


def rows(app) -> dict[str, dict]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return {row["id"]: row for row in db["messages"].rows}
    finally:
        db.close()


# -- HTTP intake ----------------------------------------------------------------------


class Intake:
    """A local HTTP intake. ``answer(n, body) -> (status, headers, delay)`` decides the
    reply to the n-th request (from 0); every request is recorded."""

    def __init__(self, answer=None) -> None:
        self.answer = answer or (lambda n, body: (202, {}, 0))
        self.requests: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        intake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with intake.lock:
                    n = len(intake.requests)
                    intake.requests.append((dict(self.headers), body))
                status, headers, delay = intake.answer(n, body)
                if delay:
                    threading.Event().wait(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/intake"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [body for _headers, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- RabbitMQ ---------------------------------------------------------------------------


class Rabbit:
    """A unique exchange (as the forwarder will declare it) and a queue bound to it."""

    def __init__(self, binding: str | None = "#", exchange: str | None = None) -> None:
        tag = uuid.uuid4().hex[:12]
        self.own_exchange = exchange is None
        self.exchange, self.queue = exchange or f"otklik-test-{tag}", f"otklik-test-{tag}"
        self.url = f"{RABBIT}?exchange={self.exchange}"
        self.connection = pika.BlockingConnection(pika.URLParameters(RABBIT))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        self.channel.queue_declare(self.queue, durable=True)
        if binding is not None:
            self.bind(binding)

    def bind(self, routing_key: str = "#") -> None:
        self.channel.queue_bind(self.queue, self.exchange, routing_key)

    def drain(self) -> list[tuple[pika.BasicProperties, bytes]]:
        """Every message now in the queue (acked), validated against the schema."""
        count = self.channel.queue_declare(self.queue, passive=True).method.message_count
        got = []
        if count:
            for method, properties, body in self.channel.consume(
                self.queue, auto_ack=True, inactivity_timeout=2
            ):
                if method is None:
                    break
                valid_event(body)
                got.append((properties, body))
                if len(got) == count:
                    break
            self.channel.cancel()
        return got

    def close(self) -> None:
        try:
            self.channel.queue_delete(self.queue)
            if self.own_exchange:
                self.channel.exchange_delete(self.exchange)
        finally:
            self.connection.close()


# -- a TCP proxy a test can cut -------------------------------------------------------------


class Proxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut()`` drops every open connection,
    as a broker restart or a network fault would; ``hold()`` stops relaying what clients
    send (what the server sends still flows), as a link that died one way would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        self.on_bytes = None  # called with the number of client bytes relayed so far
        self.upstream = threading.Event()  # cleared by hold()
        self.upstream.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        relayed = 0
        try:
            while data := source.recv(65536):
                if upstream:
                    self.upstream.wait()
                sink.sendall(data)
                relayed += len(data)
                if upstream and self.on_bytes is not None:
                    self.on_bytes(relayed)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.upstream.set()  # what was held goes nowhere: its sockets are closed

    def hold(self) -> None:
        self.upstream.clear()

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.cut()
