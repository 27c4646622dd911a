"""Updates from RabbitMQ (``amqp://user:pass@host/vhost?exchange=feedback.updates&queue=<name>``),
with pika.

On connecting it declares what it needs, so that a fresh broker works: the durable
topic exchange the central system publishes to; this instance's own durable queue,
bound to it with ``#`` (every instance has its own queue, so every instance sees every
update); and for that queue a dead-letter exchange ``<exchange>.dead`` (direct) with a
durable queue ``<queue>.dead`` bound by the queue's name, where rejected events go.
It consumes with a prefetch of 50 and manual acks: a delivery is acked only when the
listener says it is committed, and an invalid one is rejected without requeue (to the
dead-letter queue, never to loop). A delivery neither acked nor rejected when the
connection goes goes back to the queue, and comes again.

pika's BlockingConnection is enough here, unlike the transport's hand-driven I/O loop
(which keeps a whole batch of publishes in flight): a consumer waits for deliveries
anyway, and ``process_data_events`` runs the heartbeats and callbacks meanwhile.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika
import pika.exceptions

from ..transports import redact
from ..transports.amqp import describe
from . import Incoming, Intake, IntakeError, Unavailable

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "feedback.updates"
PREFETCH = 50
# What a lost connection or channel raises in pika, besides OSError.
LOST = (pika.exceptions.AMQPError, OSError)


class AmqpIntake(Intake):
    kind = "amqp"

    def __init__(self, url: str, prefetch: int = PREFETCH) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        given = dict(query)
        self.exchange = given.get("exchange") or DEFAULT_EXCHANGE
        self.queue = given.get("queue") or ""
        if not self.queue:
            raise IntakeError(
                "updates_url: amqp://… needs queue=<name>, this instance's own queue (such as"
                " queue=otklik-web-1): each instance has one, so that each sees every update"
            )
        self.dead_exchange, self.dead_queue = f"{self.exchange}.dead", f"{self.queue}.dead"
        rest = urlencode([(k, v) for k, v in query if k not in ("exchange", "queue")])
        try:
            self._params = pika.URLParameters(urlunsplit(parts._replace(query=rest)))
        except ValueError as e:
            raise IntakeError(f"updates_url: {e}") from None
        # Names the connection in the broker's lists (rabbitmqctl list_connections).
        self._params.client_properties = {"connection_name": f"otklik listen {self.queue}"}
        self.prefetch = prefetch
        self.where = f"{redact(urlunsplit(parts._replace(query='')))} queue {self.queue}"
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._generation = 0  # which connection a delivery came on: acks go on that one only
        self._arrived: collections.deque[Incoming] = collections.deque()
        self._cancelled = False

    # -- the interface ---------------------------------------------------------------

    def take(self, limit: int, wait: float) -> list[Incoming]:
        if self._connection is None:
            self._connect()
        try:
            self._connection.process_data_events(time_limit=0 if self._arrived else wait)
        except LOST as e:
            self.close()
            raise Unavailable(f"connection to RabbitMQ lost: {describe(e)}") from None
        if self._cancelled:
            self.close()
            raise Unavailable(f"RabbitMQ cancelled the consumer of {self.queue!r} (deleted?)")
        return [self._arrived.popleft() for _ in range(min(limit, len(self._arrived)))]

    def done(self, incoming: Incoming) -> None:
        self._settle(incoming, lambda tag: self._channel.basic_ack(tag))

    def reject(self, incoming: Incoming, reason: str) -> None:
        # AMQP carries no reason to the dead-letter queue (the message's x-death header
        # says it was rejected, from which queue): the listener logs it.
        self._settle(incoming, lambda tag: self._channel.basic_reject(tag, requeue=False))

    def idle(self, seconds: float) -> None:
        if self._connection is None:
            super().idle(seconds)
            return
        try:  # heartbeats go out; deliveries wait in hand for the next take
            self._connection.process_data_events(time_limit=seconds)
        except LOST:
            self.close()

    def close(self) -> None:
        """Deliveries not acked go back to the queue when the connection closes."""
        connection, self._connection, self._channel = self._connection, None, None
        self._arrived.clear()
        _close(connection)

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> None:
        self._cancelled = False
        self._generation += 1
        connection = None
        try:
            connection = pika.BlockingConnection(self._params)
            channel = connection.channel()
            channel.exchange_declare(self.exchange, "topic", durable=True)
            channel.exchange_declare(self.dead_exchange, "direct", durable=True)
            channel.queue_declare(self.dead_queue, durable=True)
            channel.queue_bind(self.dead_queue, self.dead_exchange, routing_key=self.queue)
            dead_letters = {
                "x-dead-letter-exchange": self.dead_exchange,
                "x-dead-letter-routing-key": self.queue,
            }
            channel.queue_declare(self.queue, durable=True, arguments=dead_letters)
            channel.queue_bind(self.queue, self.exchange, routing_key="#")
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.add_on_cancel_callback(self._on_cancelled)
            channel.basic_consume(self.queue, self._on_delivery, auto_ack=False)
        except LOST as e:
            _close(connection)
            problem = describe(e)
            raise Unavailable(f"cannot consume from RabbitMQ at {self.where}: {problem}") from None
        self._connection, self._channel = connection, channel
        log.info("consuming %s, bound to exchange %r", self.where, self.exchange)

    def _on_delivery(self, _channel, method, _properties, body: bytes) -> None:
        tag = method.delivery_tag
        self._arrived.append(Incoming(body, f"delivery {tag}", (self._generation, tag)))

    def _on_cancelled(self, _frame) -> None:
        self._cancelled = True

    def _settle(self, incoming: Incoming, settle) -> None:
        """Ack or reject on the connection the delivery came on. When that one is gone,
        the broker has put the delivery back already and it comes again (a repeat)."""
        generation, tag = incoming.handle
        if generation != self._generation or self._channel is None:
            return
        try:
            settle(tag)
        except LOST as e:
            log.info("connection lost before %s was settled: %s", incoming.name, describe(e))
            self.close()


def _close(connection: pika.BlockingConnection | None) -> None:
    if connection is not None and connection.is_open:
        with contextlib.suppress(*LOST):
            connection.close()
