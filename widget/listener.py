"""The listener (``flask listen``): takes the central system's updates from an intake
(the spool folder or RabbitMQ) into the outbox, at least once and each once.

A batch is taken, each update validated (``updates.parse``), the invalid ones rejected
for good with the reason, the valid ones committed in one transaction
(``synchronous=FULL``), and only then is each settled with the intake (the file
removed, the delivery acked). So a listener killed at any moment loses nothing: what it
had not settled comes again, and a repeat is dropped by its event id.

When the outbox cannot take the batch (a full disk, a lock held too long) the batch is
kept in hand, unsettled, and committed again after a growing delay; when the intake is
unavailable (the broker is down) it is asked again after one. SIGTERM and Ctrl-C stop
the loop once the batch in hand is committed and settled.

No Flask and no SQL here: the CLI builds a ``Listener`` from the app's settings; the
statements are in ``outbox.updates``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from . import metrics, outbox, processes, updates
from .intakes import Incoming, Intake, Unavailable
from .outbox import updates as stored

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # as many as the AMQP intake's prefetch: one commit for all it holds


@dataclass
class Totals:
    recorded: int = 0
    repeats: int = 0
    rejected: int = 0
    taken: int = 0
    problem: str | None = None  # an update could not be settled with the intake

    def add(self, other: Totals) -> None:
        for name in ("recorded", "repeats", "rejected", "taken"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problem = other.problem or self.problem


class Listener:
    def __init__(
        self,
        outbox_path: str,
        intake: Intake,
        *,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox_path = outbox_path
        self.intake = intake
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._db: Database | None = None
        self._held: list[tuple[Incoming, updates.Update]] = []  # valid, not yet committed
        self._stopping = threading.Event()

    @property
    def db(self) -> Database:
        """The outbox, migrated and opened on first use (a full disk at start-up is
        waited out like one later)."""
        if self._db is None:
            outbox.migrate(self.outbox_path)
            self._db = outbox.connect(self.outbox_path)
        return self._db

    @property
    def in_hand(self) -> int:
        """Valid updates taken but not yet committed (the outbox failed)."""
        return len(self._held)

    def close(self) -> None:
        self.intake.close()
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one batch ---------------------------------------------------------------------

    def take_batch(self, wait: float = 0.0) -> Totals:
        """Take a batch (waiting up to ``wait`` seconds for its first update), reject
        the invalid, commit the valid, settle them. Raises Unavailable, and the outbox's
        sqlite3 errors, with the valid updates kept in hand for the next call."""
        totals = Totals()
        if not self._held:
            for incoming in self.intake.take(self.batch_size, wait):
                totals.taken += 1
                problem = incoming.problem
                if problem is None:
                    try:
                        self._held.append((incoming, updates.parse(incoming.body)))
                        continue
                    except updates.InvalidUpdate as e:
                        problem = str(e)
                self._reject(incoming, problem, totals)
        if self._held:
            new = stored.record(self.db, [update for _, update in self._held], self.intake.kind)
            held, self._held = self._held, []
            for (incoming, update), fresh in zip(held, new, strict=True):
                if fresh:
                    totals.recorded += 1
                else:
                    totals.repeats += 1
                    log.info("update %s is a repeat: nothing changed", update.id)
                metrics.update_taken(self.intake.kind, "recorded" if fresh else "repeat")
                self._settle(incoming, totals)
        return totals

    def _reject(self, incoming: Incoming, reason: str, totals: Totals) -> None:
        log.warning("rejected %s from %s: %s", incoming.name, self.intake.where, reason)
        try:
            self.intake.reject(incoming, reason)
        except OSError as e:  # it comes again, and is rejected (and counted) again
            totals.problem = f"cannot set {incoming.name} aside: {e.strerror}"
            log.error("%s", totals.problem)
            return
        totals.rejected += 1
        metrics.update_taken(self.intake.kind, "rejected")

    def _settle(self, incoming: Incoming, totals: Totals) -> None:
        try:
            self.intake.done(incoming)
        except OSError as e:  # committed: it comes again, as a repeat
            totals.problem = f"cannot remove {incoming.name}: {e.strerror}"
            log.error("%s", totals.problem)

    # -- loops -------------------------------------------------------------------------

    def run_once(self) -> Totals:
        """Take what there is now, then return (``flask listen --once``)."""
        totals = Totals()
        while True:
            batch = self.take_batch(self.poll_seconds)
            totals.add(batch)
            if not batch.taken:
                return totals

    def run(self) -> Totals:
        """Listen until SIGTERM or SIGINT (or ``stop()``), which finish the batch in
        hand first. An unavailable intake and outbox errors that pass
        (``outbox.passing``) are logged and waited out, with backoff."""
        totals = Totals()
        with processes.stop_on_signals(self.stop, log, "committing the updates in hand"):
            log.info("listening on %s", self.intake.where)
            failures = 0  # in a row
            while not self._stopping.is_set():
                try:
                    batch = self.take_batch(self.poll_seconds)
                except Unavailable as e:
                    failures += 1
                    delay = processes.backoff(failures)
                    log.warning("cannot take updates: %s; trying again in %.0f s", e, delay)
                    self._pause(delay)
                    continue
                except sqlite3.OperationalError as e:
                    if not outbox.passing(e):
                        raise
                    failures += 1
                    delay = processes.backoff(failures)
                    log.error(
                        "the outbox failed: %s; %d update(s) in hand, trying again in %.0f s",
                        e,
                        self.in_hand,
                        delay,
                    )
                    self._pause(delay)
                    continue
                totals.add(batch)
                if batch.problem:
                    failures += 1
                    self._pause(processes.backoff(failures))
                elif failures:
                    log.info("taking updates again")
                    failures = 0
        if self.in_hand:  # not settled either: the intake gives them again
            log.warning("%d update(s) in hand not committed: they come again", self.in_hand)
        log.info("listener stopped")
        return totals

    def stop(self) -> None:
        self._stopping.set()

    def _pause(self, seconds: float) -> None:
        """Wait (keeping the intake's connection alive) in steps, so that a stop is seen
        soon."""
        deadline = self.clock() + seconds
        while not self._stopping.is_set() and (left := deadline - self.clock()) > 0:
            self.intake.idle(min(left, self.poll_seconds))
