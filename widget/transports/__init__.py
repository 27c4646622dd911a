"""Transports deliver events to the central queue: one small interface, three classes.

A transport gets a batch of :class:`Outgoing` messages and answers, for each, with an
:class:`Outcome`: delivered, retry (this attempt failed), dead (it never will succeed)
or unsent (it never reached the other side, e.g. the broker is down: no attempt is
counted). Transports know nothing of Flask or of the outbox; ``open_transport`` picks
one by ``queue_url``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DELIVERED, RETRY, DEAD, UNSENT = "delivered", "retry", "dead", "unsent"


class TransportError(Exception):
    """queue_url (or what it needs) is wrong; the message tells the operator what to fix."""


@dataclass(frozen=True)
class Outgoing:
    id: str  # the event id: message_id, Idempotency-Key, spool file name
    routing_key: str
    body: bytes  # the CloudEvent, UTF-8 JSON


@dataclass(frozen=True)
class Outcome:
    status: str  # DELIVERED | RETRY | DEAD | UNSENT
    reason: str | None = None  # for the operator; never holds personal data
    after: float | None = None  # seconds the other side asked us to wait (Retry-After)

    @classmethod
    def delivered(cls) -> Outcome:
        return cls(DELIVERED)

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> Outcome:
        return cls(RETRY, reason, after)

    @classmethod
    def dead(cls, reason: str) -> Outcome:
        return cls(DEAD, reason)

    @classmethod
    def unsent(cls, reason: str, after: float | None = None) -> Outcome:
        return cls(UNSENT, reason, after)


class Transport(ABC):
    """Send batches of events; ``send`` returns one outcome per message, in order."""

    batch_size = 100  # what the forwarder claims at once unless told otherwise
    where = "the queue"  # for logs and errors: the destination, without credentials

    @abstractmethod
    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]: ...

    def idle(self, seconds: float) -> None:
        """Wait between batches (a transport with a connection keeps it alive)."""
        time.sleep(seconds)

    def close(self) -> None:  # noqa: B027 (most transports hold nothing)
        """Release connections; ``send`` may reopen them."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_transport(url: str, *, secret: str | None = None, timeout: float = 10.0) -> Transport:
    """The transport ``url`` names: ``spool:<dir>``, ``amqp(s)://…`` or ``http(s)://…``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "spool":
        from .spool import SpoolTransport

        return SpoolTransport(url[len("spool:") :])
    if scheme in ("amqp", "amqps"):
        from .amqp import AmqpTransport

        return AmqpTransport(url, timeout=timeout)
    if scheme in ("http", "https"):
        from .http import HttpTransport

        return HttpTransport(url, secret=secret, timeout=timeout)
    raise TransportError(f"queue_url: {redact(url)!r} is not spool:<dir>, amqp://… or http(s)://…")
