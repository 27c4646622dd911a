"""The forwarder: delivers the outbox to the central queue, at least once.

It claims due rows with a lease (so several forwarders never send one row at the same
time), sends them in batches through a transport, and records each outcome:
delivered rows lose their event (the personal data) but keep receipt, status and
times; failed rows are retried with exponential backoff and jitter, and moved to
``dead`` after ``max_attempts`` or a permanent error. Rows the transport could not
even try (the broker is down) wait without using up an attempt. An outbox that cannot
be opened or written for a while (a full disk, a lock held too long) is waited out the
same way, at the start as later.

A row is marked delivered only after the transport has confirmed it, so a forwarder
killed at any moment loses nothing: its leases run out and the rows go again (a
consumer drops the duplicates by event id).

No Flask and no SQL here: the CLI builds a ``Forwarder`` from the app's settings, and
the statements on the outbox are in ``outbox.delivery``.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlite_utils import Database

from . import metrics, outbox, processes
from .outbox import delivery
from .outbox import updates as stored_updates
from .transports import DELIVERED, RETRY, UNSENT, Outcome, Outgoing, Transport

log = logging.getLogger(__name__)


@dataclass
class Totals:
    """What a run did; ``problem`` is the last reason the transport gave for not sending."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    unsent: int = 0
    purged: int = 0
    problem: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: Totals) -> None:
        for name in ("claimed", "delivered", "retried", "dead", "unsent", "purged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problem = other.problem or self.problem
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


class Forwarder:
    def __init__(
        self,
        outbox_path: str,
        transport: Transport,
        *,
        max_attempts: int = 20,
        retention_days: int = 30,
        batch_size: int | None = None,
        lease_seconds: float = 120.0,
        backoff_base: float = 5.0,
        backoff_cap: float = 3600.0,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
        sharing=None,  # widget.stats.sharing.Sharing, when several instances share figures
    ) -> None:
        self.outbox_path = outbox_path
        self._db: Database | None = None
        self.transport = transport
        self.max_attempts = max(1, max_attempts)
        self.retention_days = retention_days
        self.batch_size = batch_size or transport.batch_size
        self.lease_seconds = lease_seconds
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.sharing = sharing
        self._next_share = 0.0
        self.kind = metrics.transport_kind(transport)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._unavailable = 0  # batches in a row the transport could not send at all
        self._stopping = threading.Event()

    @property
    def db(self) -> Database:
        """The outbox, migrated and opened on first use: at start-up a full disk may not
        let it open yet, and ``run`` waits that out like the same error later."""
        if self._db is None:
            outbox.migrate(self.outbox_path)
            self._db = outbox.connect(self.outbox_path)
        return self._db

    def close(self) -> None:
        self.transport.close()
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one batch ---------------------------------------------------------------------

    def claim(self, now: float, due_by: float | None = None) -> list[delivery.Claimed]:
        """Lease up to ``batch_size`` rows due by ``due_by`` (default: now) for
        ``lease_seconds``."""
        return delivery.claim(
            self.db,
            owner=self.owner,
            now=now,
            due_by=now if due_by is None else due_by,
            lease_until=now + self.lease_seconds,
            limit=self.batch_size,
        )

    def forward_batch(self, now: float | None = None, due_by: float | None = None) -> Totals:
        """Claim one batch, send it, record what happened."""
        now = self.clock() if now is None else now
        rows = self.claim(now, due_by)
        totals = Totals(claimed=len(rows))
        if not rows:
            return totals
        sendable = [r for r in rows if r.event is not None]
        outcomes = dict.fromkeys(
            (r.id for r in rows if r.event is None), Outcome.dead("no event stored for this row")
        )
        batch = [Outgoing(id, key, event.encode()) for id, key, event, _ in sendable]
        started = time.perf_counter()
        try:
            sent = self.transport.send(batch)
        except Exception as e:  # a transport bug must not leave the batch leased
            log.exception("the transport failed")
            self.transport.close()
            sent = [Outcome.retry(f"transport error: {type(e).__name__}")] * len(batch)
        if batch:
            metrics.batch_sent(self.kind, time.perf_counter() - started, (o.status for o in sent))
        outcomes.update(zip((m.id for m in batch), sent, strict=True))
        self.record(rows, outcomes, now, totals)
        return totals

    def record(
        self,
        rows: list[delivery.Claimed],
        outcomes: dict[str, Outcome],
        now: float,
        totals: Totals,
    ) -> None:
        done = max(now, self.clock())
        delivered, retry, dead, unsent = [], [], [], []
        for id, _key, _event, attempts in rows:
            outcome = outcomes[id]
            if outcome.status == DELIVERED:
                delivered.append((id, done))
                continue
            totals.reasons[outcome.reason] = totals.reasons.get(outcome.reason, 0) + 1
            if outcome.status == UNSENT:
                unsent.append((id, outcome.reason, now + self._unavailable_delay(outcome)))
                totals.unsent += 1
                totals.problem = totals.problem or outcome.reason
                continue
            tries = attempts + 1
            if outcome.status == RETRY and tries < self.max_attempts:
                delay = self.backoff(tries, outcome.after)
                retry.append((id, outcome.reason, now + delay))
                totals.retried += 1
            else:
                reason = outcome.reason
                if outcome.status == RETRY:
                    reason = f"{reason} (gave up after {tries} attempts)"
                dead.append((id, reason, now))
                totals.dead += 1
        totals.delivered = len(delivered)
        self._unavailable = self._unavailable + 1 if unsent and not delivered else 0
        delivery.settle(
            self.db, self.owner, delivered=delivered, retry=retry, dead=dead, wait=unsent
        )
        metrics.dead_letters(self.kind, totals.dead)
        if totals.dead:
            log.warning("%d message(s) moved to dead", totals.dead)
        if totals.retried:
            log.info("%d message(s) to retry", totals.retried)

    def backoff(self, tries: int, after: float | None = None) -> float:
        """Seconds before try number ``tries + 1``: what the other side asked for, else
        exponential (base · 2^(tries-1), capped) with jitter over its upper half."""
        if after is not None:
            return max(after, 1.0)
        delay = min(self.backoff_cap, self.backoff_base * 2 ** min(tries - 1, 32))
        return processes.jittered(delay)

    def _unavailable_delay(self, outcome: Outcome) -> float:
        if outcome.after is not None:
            return max(outcome.after, 1.0)
        return processes.backoff(self._unavailable)

    # -- loops -------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> Totals:
        """Send everything due now, purge what retention allows, and return the totals.
        Stops early when the transport cannot send at all (the rows wait)."""
        totals = Totals()
        due_by = self.clock() if now is None else now  # a retry due later waits for next time
        while True:
            batch = self.forward_batch(now, due_by)
            totals.add(batch)
            if not batch.claimed or (batch.unsent and not batch.delivered):
                break
        totals.purged = self.purge(now)
        self.share(force=True)
        return totals

    def run(self) -> Totals:
        """Forward until SIGTERM or SIGINT (or ``stop()``); the batch in hand is finished
        first. A second signal stops at once (leases run out, nothing is lost). Outbox
        errors that pass (``outbox.passing``) are logged and waited out, with backoff."""
        totals = Totals()
        next_purge = 0.0
        with processes.stop_on_signals(self.stop, log, "finishing the batch in hand"):
            log.info("forwarding to %s", self.transport.where)
            outbox_failures = 0  # in a row
            while not self._stopping.is_set():
                try:
                    if self.clock() >= next_purge:
                        purged = self.purge()
                        totals.purged += purged
                        if purged:
                            log.info("purged %d delivered message(s) past retention", purged)
                        next_purge = self.clock() + 3600
                    self.share()
                    batch = self.forward_batch()
                except sqlite3.OperationalError as e:
                    if not outbox.passing(e):
                        raise
                    # Nothing is lost: rows not claimed wait, a batch sent but not
                    # recorded goes again once its lease runs out.
                    outbox_failures += 1
                    delay = processes.backoff(outbox_failures)
                    log.error("the outbox failed: %s; trying again in %.0f s", e, delay)
                    self._pause(delay)
                    continue
                if outbox_failures:
                    log.info("the outbox works again")
                    outbox_failures = 0
                totals.add(batch)
                if batch.unsent and not batch.delivered:
                    log.warning("cannot send: %s", batch.problem)
                    self._pause(self._unavailable_delay(Outcome.unsent("")))
                elif batch.claimed < self.batch_size:
                    self._pause(self.poll_seconds)
        log.info("forwarder stopped")
        return totals

    def stop(self) -> None:
        self._stopping.set()

    def _pause(self, seconds: float) -> None:
        """Wait (keeping the transport alive) in steps, so that a stop is seen soon."""
        deadline = self.clock() + seconds
        while not self._stopping.is_set() and (left := deadline - self.clock()) > 0:
            self.transport.idle(min(left, self.poll_seconds))

    # -- statistics of several instances ------------------------------------------------

    def share(self, force: bool = False) -> None:
        """Share the statistics' counts with the other instances, when due. A Redis that
        cannot be reached is logged and tried again next time: forwarding goes on, and
        the counts wait in the outbox (nothing is lost, the figures lag)."""
        from .stats import sharing

        if self.sharing is None or not (force or self.clock() >= self._next_share):
            return
        self._next_share = self.clock() + sharing.SHARE_SECONDS
        try:
            self.sharing.share(self.db, self.clock())
        except sharing.redis.RedisError as e:
            log.warning("statistics not shared this time: %s", e)

    # -- retention ---------------------------------------------------------------------

    def purge(self, now: float | None = None) -> int:
        """Retention: delivered rows past ``retention_days`` go, and the answers and
        notes of messages closed longer ago than that. Returns how many rows were purged."""
        now = self.clock() if now is None else now
        stored_updates.forget_answers(self.db, self.retention_days, now)
        return delivery.purge(self.db, self.retention_days, now)
