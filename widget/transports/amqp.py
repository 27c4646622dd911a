"""RabbitMQ (``amqp://user:pass@host:5672/vhost?exchange=feedback``), with pika.

Every event is published, persistent and ``mandatory``, to a durable topic exchange
with the agency's routing key. The channel is in publisher-confirm mode and a whole
batch is in flight at once: the batch is published, then the transport waits for the
broker's confirms (often one ``multiple`` ack for many messages). A message counts as
delivered only when the broker has acked it and not returned it as unroutable.

pika's SelectConnection runs on an I/O loop that this class drives itself, one step at
a time, so no thread is needed; a lost connection is reopened on the next batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.select_connection import IOLoop
from pika.spec import Basic

from . import Outcome, Outgoing, Transport, TransportError, redact

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_EXCHANGE = "feedback"


class AmqpTransport(Transport):
    batch_size = 500

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.exchange = dict(query).get("exchange") or DEFAULT_EXCHANGE
        rest = urlencode([(k, v) for k, v in query if k != "exchange"])
        try:
            self._params = pika.URLParameters(urlunsplit(parts._replace(query=rest)))
        except ValueError as e:
            raise TransportError(f"queue_url: {e}") from None
        self.where = redact(urlunsplit(parts._replace(query="")))
        self.timeout = timeout
        self._ioloop: IOLoop | None = None  # made on connect, closed by close()
        self._connection: pika.SelectConnection | None = None
        self._channel = None
        self._ready = False
        self._problem: str | None = None  # why the connection or channel went away
        self._until: Callable[[], bool] | None = None
        self._tag = 0  # the channel's last delivery tag
        self._unconfirmed: dict[int, int] = {}  # delivery tag -> index in the batch
        self._returned: dict[str, str] = {}  # event id -> why the broker returned it
        self._outcomes: list[Outcome | None] = []
        self._batch: Sequence[Outgoing] = ()

    # -- the interface ---------------------------------------------------------------

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        if not batch:
            return []
        if self._ready:  # notice a connection that closed while we were away
            self._run(lambda: not self._ready, 0)
        if not self._ready:
            problem = self._connect()
            if problem:
                return [Outcome.unsent(problem) for _ in batch]
        self._batch, self._outcomes = batch, [None] * len(batch)
        self._unconfirmed, self._returned = {}, {}
        for index, message in enumerate(batch):
            if not self._ready:
                break
            self._tag += 1
            self._unconfirmed[self._tag] = index
            try:
                self._channel.basic_publish(
                    self.exchange,
                    message.routing_key,
                    message.body,
                    properties=pika.BasicProperties(
                        content_type=CONTENT_TYPE,
                        delivery_mode=pika.DeliveryMode.Persistent,
                        message_id=message.id,
                        app_id="otklik",
                    ),
                    mandatory=True,
                )
            except pika.exceptions.AMQPError as e:  # the channel or connection is gone
                self._problem = describe(e)
                self._disconnect()
                break
        self._run(lambda: not self._unconfirmed or not self._ready, self.timeout)
        if self._ready and self._unconfirmed:
            why = f"no confirm from RabbitMQ within {self.timeout:g} s"
            self._disconnect()  # a silent broker: start afresh next time
        else:
            why = f"connection to RabbitMQ lost: {self._problem}"
        outcomes = [o or Outcome.retry(why) for o in self._outcomes]
        self._batch, self._outcomes, self._unconfirmed = (), [], {}
        return outcomes

    def idle(self, seconds: float) -> None:
        if self._connection is None:
            super().idle(seconds)
        else:  # run the I/O loop: heartbeats go out, a closed connection is noticed
            self._run(lambda: self._connection is None, seconds)

    def close(self) -> None:
        self._disconnect()
        if self._ioloop is not None:
            self._ioloop.close()
            self._ioloop = None

    # -- connection --------------------------------------------------------------------

    def _connect(self) -> str | None:
        """Open the connection, channel and exchange; the problem, or None when ready."""
        self._ready, self._problem, self._tag = False, None, 0
        if self._ioloop is None:
            self._ioloop = IOLoop()
        self._connection = pika.SelectConnection(
            self._params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )
        self._run(lambda: self._ready or self._problem is not None, self.timeout)
        if self._ready:
            log.info("connected to %s, exchange %r", self.where, self.exchange)
            return None
        problem = self._problem or f"no answer within {self.timeout:g} s"
        self._disconnect()
        return f"cannot reach RabbitMQ at {self.where}: {problem}"

    def _disconnect(self) -> None:
        connection = self._connection
        self._ready = False
        if connection is not None and not (connection.is_closed or connection.is_closing):
            connection.close()
        if connection is not None and not connection.is_closed:
            self._run(lambda: connection.is_closed, 2.0)
        self._connection = self._channel = None

    def _on_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(
            ack_nack_callback=self._on_confirm,
            callback=lambda _frame: channel.exchange_declare(
                exchange=self.exchange,
                exchange_type="topic",
                durable=True,
                callback=self._on_declared,
            ),
        )

    def _on_declared(self, _frame) -> None:
        self._ready = True
        self._wake()

    def _on_open_error(self, _connection, error) -> None:
        self._problem = describe(error)
        self._connection = None
        self._wake()

    def _on_closed(self, _connection, reason) -> None:
        self._ready = False
        self._problem = self._problem or describe(reason)
        self._connection = self._channel = None
        self._wake()

    def _on_channel_closed(self, _channel, reason) -> None:
        self._ready = False
        self._problem = describe(reason)
        self._channel = None
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()
        self._wake()

    # -- confirms ----------------------------------------------------------------------

    def _on_return(self, _channel, method, properties, _body) -> None:
        self._returned[properties.message_id] = (
            f"unroutable: no queue is bound to exchange {self.exchange!r} for routing key "
            f"{method.routing_key!r} ({method.reply_text})"
        )

    def _on_confirm(self, frame) -> None:
        method = frame.method
        acked = isinstance(method, Basic.Ack)
        if method.multiple:
            tags = [t for t in self._unconfirmed if t <= method.delivery_tag]
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self._unconfirmed else []
        for tag in tags:
            index = self._unconfirmed.pop(tag)
            returned = self._returned.get(self._batch[index].id)
            if not acked:
                self._outcomes[index] = Outcome.retry("RabbitMQ refused the message (nack)")
            elif returned:
                self._outcomes[index] = Outcome.retry(returned)
            else:
                self._outcomes[index] = Outcome.delivered()
        self._wake()

    # -- the I/O loop --------------------------------------------------------------------

    def _run(self, until: Callable[[], bool], timeout: float) -> None:
        """Run the I/O loop until ``until()`` holds or ``timeout`` seconds pass."""
        if until():
            return
        self._until = until
        timer = self._ioloop.call_later(timeout, self._ioloop.stop)
        try:
            self._ioloop.start()
        finally:
            self._ioloop.remove_timeout(timer)
            self._until = None

    def _wake(self) -> None:
        if self._until is not None and self._until():
            self._ioloop.stop()


def describe(error) -> str:
    """A short, credential-free description of a pika error."""
    for _ in range(5):  # pika wraps the cause: workflow failed -> connect error -> OSError
        if getattr(error, "exceptions", None):
            error = error.exceptions[-1]
        elif isinstance(getattr(error, "exception", None), BaseException):
            error = error.exception
        elif isinstance(error, pika.exceptions.AMQPError) and error.args:
            if not isinstance(error.args[0], BaseException):
                break
            error = error.args[0]
        else:
            break
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, pika.exceptions.ChannelClosed | pika.exceptions.ConnectionClosed):
        return f"{error.reply_code} {error.reply_text}"
    if "Timeout" in type(error).__name__:
        return "timed out"
    text = str(error) or type(error).__name__
    return text[:300]
