"""Intakes take updates from the central system for ``flask listen``: one small
interface, two classes (the HTTP push is a web route, widget/web/intake.py).

An intake hands out :class:`Incoming` bodies and is told, for each, what became of it:
``done`` (committed to the outbox, or a repeat: remove the file, ack the delivery) or
``reject`` (invalid: set it aside with the reason, never to come back). Anything neither
done nor rejected comes back later, from the folder or from the broker: the listener
commits before it calls ``done``, so a crash in between gives a repeat, which the outbox
drops by id. Intakes know nothing of Flask or of the outbox; ``open_intake`` picks one
by ``updates_url``.

They are their own package, not transports: a transport sends the outbox's rows in
batches and reports outcomes; an intake is the other way round (it is told outcomes).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..transports import redact


class IntakeError(Exception):
    """updates_url is wrong; the message tells the operator what to fix."""


class Unavailable(Exception):
    """Nothing can be taken now (the broker is down, the folder unreadable): the listener
    waits and tries again. The message says why, without credentials."""


@dataclass(frozen=True)
class Incoming:
    body: bytes
    name: str  # for logs: the file's name, the delivery's tag (never the content)
    handle: object  # the intake's own: a path, a delivery
    problem: str | None = None  # the intake could not even read it (the reason to reject)


class Intake(ABC):
    kind = "intake"  # the metrics label: spool, amqp
    where = "the intake"  # for logs: where updates come from, without credentials

    @abstractmethod
    def take(self, limit: int, wait: float) -> list[Incoming]:
        """Up to ``limit`` updates, oldest first, waiting up to ``wait`` seconds for the
        first. Raises Unavailable."""

    @abstractmethod
    def done(self, incoming: Incoming) -> None:
        """``incoming`` is committed (or was already): it must not come back."""

    @abstractmethod
    def reject(self, incoming: Incoming, reason: str) -> None:
        """``incoming`` is invalid: set it aside, with ``reason``, for good."""

    def idle(self, seconds: float) -> None:
        """Wait (an intake with a connection keeps it alive)."""
        time.sleep(seconds)

    def close(self) -> None:  # noqa: B027 (the spool holds nothing)
        """Release connections; ``take`` reopens them."""

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_intake(url: str) -> Intake:
    """The intake ``url`` names: ``spool:<dir>`` or ``amqp(s)://…``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "spool":
        from .spool import SpoolIntake

        return SpoolIntake(url[len("spool:") :])
    if scheme in ("amqp", "amqps"):
        from .amqp import AmqpIntake

        return AmqpIntake(url)
    raise IntakeError(
        f"updates_url: {redact(url)!r} is not spool:<dir> or amqp://…?exchange=…&queue=…"
        " (the HTTP push needs no updates_url: set intake_secret)"
    )
