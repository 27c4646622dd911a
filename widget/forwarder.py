"""The forwarder: delivers the outbox to the central queue, at least once.

It claims due rows with a lease (so several forwarders never send one row at the same
time), sends them in batches through a transport, and records each outcome:
delivered rows lose their event (the personal data) but keep receipt, status and
times; failed rows are retried with exponential backoff and jitter, and moved to
``dead`` after ``max_attempts`` or a permanent error. Rows the transport could not
even try (the broker is down) wait without using up an attempt. An outbox that cannot
be written for a while (a full disk, a lock held too long) is waited out the same way.

A row is marked delivered only after the transport has confirmed it, so a forwarder
killed at any moment loses nothing: its leases run out and the rows go again (a
consumer drops the duplicates by event id).

No Flask here: the CLI builds a ``Forwarder`` from the app's settings.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlite_utils import Database

from . import metrics, outbox, receipts
from .transports import DELIVERED, RETRY, UNSENT, Outcome, Outgoing, Transport

log = logging.getLogger(__name__)

DAY = 86400.0


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
    ) -> None:
        self.db: Database = outbox.connect(outbox_path)
        self.transport = transport
        self.max_attempts = max(1, max_attempts)
        self.retention_days = retention_days
        self.batch_size = batch_size or transport.batch_size
        self.lease_seconds = lease_seconds
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.kind = metrics.transport_kind(transport)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._unavailable = 0  # batches in a row the transport could not send at all
        self._stopping = threading.Event()

    def close(self) -> None:
        self.transport.close()
        self.db.close()

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one batch ---------------------------------------------------------------------

    def claim(
        self, now: float, due_by: float | None = None
    ) -> list[tuple[str, str, str | None, int]]:
        """Lease up to ``batch_size`` rows due by ``due_by`` (default: now):
        (id, routing_key, event, attempts)."""
        with self.db.atomic():
            rows = self.db.execute(
                """
                UPDATE messages SET lease_until = :until, lease_owner = :owner
                WHERE id IN (
                    SELECT id FROM messages
                    WHERE status = 'pending' AND next_attempt_at <= :due
                      AND (lease_until IS NULL OR lease_until <= :now)
                    ORDER BY next_attempt_at LIMIT :limit
                )
                RETURNING id, routing_key, event, attempts, next_attempt_at
                """,
                {
                    "until": now + self.lease_seconds,
                    "owner": self.owner,
                    "now": now,
                    "due": now if due_by is None else due_by,
                    "limit": self.batch_size,
                },
            ).fetchall()
        rows.sort(key=lambda row: row[4])
        return [row[:4] for row in rows]

    def forward_batch(self, now: float | None = None, due_by: float | None = None) -> Totals:
        """Claim one batch, send it, record what happened."""
        now = self.clock() if now is None else now
        rows = self.claim(now, due_by)
        totals = Totals(claimed=len(rows))
        if not rows:
            return totals
        sendable = [r for r in rows if r[2] is not None]
        outcomes = dict.fromkeys(
            (r[0] for r in rows if r[2] is None), Outcome.dead("no event stored for this row")
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
        rows: list[tuple[str, str, str | None, int]],
        outcomes: dict[str, Outcome],
        now: float,
        totals: Totals,
    ) -> None:
        done = max(now, self.clock())
        delivered, failed, unsent = [], [], []
        for id, _key, _event, attempts in rows:
            outcome = outcomes[id]
            if outcome.status == DELIVERED:
                delivered.append((done, id))
                continue
            totals.reasons[outcome.reason] = totals.reasons.get(outcome.reason, 0) + 1
            if outcome.status == UNSENT:
                unsent.append(
                    (outcome.reason, now + self._unavailable_delay(outcome), id, self.owner)
                )
                totals.unsent += 1
                totals.problem = totals.problem or outcome.reason
                continue
            tries = attempts + 1
            if outcome.status == RETRY and tries < self.max_attempts:
                delay = self.backoff(tries, outcome.after)
                failed.append(("pending", outcome.reason, now + delay, id, self.owner))
                totals.retried += 1
            else:
                reason = outcome.reason
                if outcome.status == RETRY:
                    reason = f"{reason} (gave up after {tries} attempts)"
                failed.append(("dead", reason, now, id, self.owner))
                totals.dead += 1
        totals.delivered = len(delivered)
        self._unavailable = self._unavailable + 1 if unsent and not delivered else 0
        with self.db.atomic():
            # Delivered is good news whoever holds the lease now; the personal data goes.
            self.db.conn.executemany(
                """
                UPDATE messages SET status = 'delivered', event = NULL, delivered_at = ?,
                    attempts = attempts + 1, last_error = NULL,
                    lease_until = NULL, lease_owner = NULL
                WHERE id = ? AND status = 'pending'
                """,
                delivered,
            )
            self.db.conn.executemany(
                """
                UPDATE messages SET status = ?, last_error = ?, next_attempt_at = ?,
                    attempts = attempts + 1, lease_until = NULL, lease_owner = NULL
                WHERE id = ? AND status = 'pending' AND lease_owner = ?
                """,
                failed,
            )
            self.db.conn.executemany(
                """
                UPDATE messages SET last_error = ?, next_attempt_at = ?,
                    lease_until = NULL, lease_owner = NULL
                WHERE id = ? AND status = 'pending' AND lease_owner = ?
                """,
                unsent,
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
        return _jittered(min(self.backoff_cap, self.backoff_base * 2 ** min(tries - 1, 32)))

    def _unavailable_delay(self, outcome: Outcome) -> float:
        if outcome.after is not None:
            return max(outcome.after, 1.0)
        return _jittered(min(60.0, 2.0 ** min(self._unavailable, 6)))

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
        return totals

    def run(self) -> Totals:
        """Forward until SIGTERM or SIGINT (or ``stop()``); the batch in hand is finished
        first. A second signal stops at once (leases run out, nothing is lost). Outbox
        errors that pass (``passing``) are logged and waited out, with backoff."""
        totals = Totals()
        next_purge = 0.0
        with self._signals():
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
                    batch = self.forward_batch()
                except sqlite3.OperationalError as e:
                    if not passing(e):
                        raise
                    # Nothing is lost: rows not claimed wait, a batch sent but not
                    # recorded goes again once its lease runs out.
                    outbox_failures += 1
                    delay = _jittered(min(60.0, 2.0 ** min(outbox_failures, 6)))
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

    @contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum, _frame):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            log.info("%s: finishing the batch in hand", signal.Signals(signum).name)
            self.stop()

        previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    # -- retention ---------------------------------------------------------------------

    def purge(self, now: float | None = None) -> int:
        return purge(self.db, self.retention_days, self.clock() if now is None else now)


def passing(error: sqlite3.OperationalError) -> bool:
    """Whether the outbox may work again by itself: a full disk, a lock held too long,
    an I/O error. A generic SQLITE_ERROR (no such table, bad SQL) is a bug: it stays."""
    return error.sqlite_errorname != "SQLITE_ERROR"


def _jittered(delay: float) -> float:
    return random.uniform(delay / 2, delay)


def purge(db: Database, retention_days: int, now: float | None = None) -> int:
    """Delete delivered rows older than ``retention_days``; dead rows stay until an
    operator retries them (they are undelivered messages, not history)."""
    now = time.time() if now is None else now
    with db.atomic():
        return db.execute(
            "DELETE FROM messages WHERE status = 'delivered' AND delivered_at < ?",
            [now - retention_days * DAY],
        ).rowcount


# -- operator tools -------------------------------------------------------------------


class NotFound(LookupError):
    pass


class NotRetryable(ValueError):
    pass


LISTED = (
    "id",
    "receipt",
    "agency_id",
    "topic_id",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "last_error",
)


def listing(db: Database, status: str, limit: int = 100) -> list[dict]:
    """Rows with ``status``, oldest first, without the event (no personal data)."""
    cursor = db.execute(
        f"SELECT {', '.join(LISTED)} FROM messages WHERE status = ? ORDER BY created_at LIMIT ?",
        [status, limit],
    )
    return [dict(zip(LISTED, row, strict=True)) for row in cursor.fetchall()]


def requeue(db: Database, ident: str, now: float | None = None) -> str:
    """Make one message (by event id or receipt) due now, with a fresh set of attempts.
    Returns its id."""
    now = time.time() if now is None else now
    receipt = receipts.normalize(ident) or ident
    with db.atomic():
        row = db.execute(
            "SELECT id, status, delivered_at FROM messages WHERE id = ? OR receipt = ?",
            [ident, receipt],
        ).fetchone()
        if row is None:
            raise NotFound(f"no message with id or receipt {ident!r}")
        id, status, delivered_at = row
        if status == "delivered":
            raise NotRetryable(
                f"{id} was delivered at {_iso(delivered_at)}; its content is gone from the"
                " outbox, so there is nothing to send again"
            )
        db.execute(
            "UPDATE messages SET status = 'pending', attempts = 0, next_attempt_at = ?,"
            " lease_until = NULL, lease_owner = NULL WHERE id = ?",
            [now, id],
        )
    return id


def requeue_dead(db: Database, now: float | None = None) -> int:
    """Give every dead message a fresh set of attempts; returns how many."""
    now = time.time() if now is None else now
    with db.atomic():
        return db.execute(
            "UPDATE messages SET status = 'pending', attempts = 0, next_attempt_at = ?,"
            " lease_until = NULL, lease_owner = NULL WHERE status = 'dead'",
            [now],
        ).rowcount


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))
