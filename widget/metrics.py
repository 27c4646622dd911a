"""Prometheus metrics: the metric objects, and the one place each is recorded.

Several gunicorn workers and the forwarder are separate processes. With
``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py and run.sh set it; the systemd units
in docs/deploy.md too) each process writes its counters to files there, and
``/metrics`` sums them: one view whichever worker answers. Without it (tests, the
development server) each process counts alone.

The outbox figures are not counted: they are read from the outbox at scrape time with
``outbox.depth``, the same function ``/readyz`` and ``flask outbox stats`` use.

Labels never carry personal data, nor an agency id (160,000 agencies would make as many
series): only the route pattern, the method, the status, a reason from a fixed list, the
transport or intake kind, the rate-limit store's kind and what a broken agency's pages
serve.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from flask import request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "otklik_http_requests",
    "HTTP requests answered, by route pattern (not the raw path), method and status.",
    ["route", "method", "status"],
)
SUBMISSION_OUTCOMES = (
    "accepted",  # a new message committed to the outbox
    "rated",  # a new rating of an answer committed to the outbox
    "voted",  # a new vote in a poll committed to the outbox
    "duplicate",  # the same form token again (a double press): the first receipt again
    "limit",  # a rate limit refused it (429)
    "honeypot",  # a bot filled the hidden field: answered like a success, stored nowhere
    "token",  # the form token was forged, foreign, too old or too young
    "invalid",  # the citizen's input failed validation (422, the form again)
    "malformed",  # not a form, undecodable, too large, too many fields (400/413)
    "unavailable",  # the outbox could not take the write (503, the text kept)
)
SUBMISSIONS = Counter(
    "otklik_submissions",
    "Form submissions (POST) by outcome: accepted, duplicate, or the reason for refusing.",
    ["outcome"],
)
FORWARDED = Counter(
    "otklik_forward_messages",
    "Messages the forwarder tried to send, by transport and outcome "
    "(delivered, retry, dead, unsent = the transport could not even try).",
    ["transport", "outcome"],
)
FORWARD_SECONDS = Histogram(
    "otklik_forward_batch_seconds",
    "Seconds one batch took to send through the transport (confirms included).",
    ["transport"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DEAD_LETTERS = Counter(
    "otklik_forward_dead_letters",
    "Messages moved to dead (gave up or a permanent error), by transport.",
    ["transport"],
)

UPDATE_OUTCOMES = (
    "recorded",  # a new update committed to the outbox
    "repeat",  # its id was recorded before (a redelivery, a resend): nothing changed
    "rejected",  # invalid: to inbound/rejected/, the dead-letter queue, or a 400
)
UPDATES = Counter(
    "otklik_updates",
    "Updates (statuses, answers) from the central system, by intake (spool, amqp, http) "
    "and outcome (recorded, repeat, rejected).",
    ["intake", "outcome"],
)

RATELIMIT_STORE_FAILURES = Counter(
    "otklik_ratelimit_store_failures",
    "Tries of the rate-limit store that failed, by its kind (mmap, redis); meanwhile "
    "each process counts alone.",
    ["store"],
)

AGENCIES_BROKEN = Gauge(
    "otklik_agencies_broken",
    "Agencies whose file or base is broken, as a worker last read them: served from the "
    "last good version (last_good), or answered with the 503 page (error_page). The "
    "largest count of any live worker.",
    ["served"],
    multiprocess_mode="livemax",  # each worker sees those it has loaded; a sum would double
)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


# -- recording ------------------------------------------------------------------------


def request_answered(route: str, method: str, status: int) -> None:
    _requests_counted(route, method, status).inc()


@functools.cache
def _requests_counted(route: str, method: str, status: int) -> Counter:
    """The series of one route, method and status: ``labels`` checks and locks on every
    call. Routes are patterns and statuses few, so the series stay few."""
    return REQUESTS.labels(route, method, str(status))


def submission(outcome: str) -> None:
    if outcome not in SUBMISSION_OUTCOMES:
        raise ValueError(f"unknown submission outcome {outcome!r}")
    SUBMISSIONS.labels(outcome).inc()


def update_taken(intake: str, outcome: str) -> None:
    if outcome not in UPDATE_OUTCOMES:
        raise ValueError(f"unknown update outcome {outcome!r}")
    UPDATES.labels(intake, outcome).inc()


def transport_kind(transport: object) -> str:
    """``amqp``, ``http`` or ``spool`` (the class name, never the URL: it holds credentials)."""
    return type(transport).__name__.removesuffix("Transport").lower() or "unknown"


def batch_sent(kind: str, seconds: float, outcomes: Iterable[str]) -> None:
    FORWARD_SECONDS.labels(kind).observe(seconds)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    for outcome, count in counts.items():
        FORWARDED.labels(kind, outcome).inc(count)


def ratelimit_store_used(store: str) -> None:
    """Show this process's failures of ``store`` at 0 from its first count on, so that an
    alert on their increase sees the first failure too."""
    RATELIMIT_STORE_FAILURES.labels(store)


def ratelimit_store_failed(store: str) -> None:
    """``store``: the scheme of ``ratelimit_storage_uri``, never the URI (a password)."""
    RATELIMIT_STORE_FAILURES.labels(store).inc()


def agencies_broken(last_good: int, error_page: int) -> None:
    """This worker's count of broken agencies, by what their pages serve meanwhile."""
    AGENCIES_BROKEN.labels("last_good").set(last_good)
    AGENCIES_BROKEN.labels("error_page").set(error_page)


def dead_letters(kind: str, count: int) -> None:
    if count:
        DEAD_LETTERS.labels(kind).inc(count)


# -- exposition -----------------------------------------------------------------------


STATS_FIGURES = (
    ("messages", "Messages this instance took and counted in its statistics."),
    ("answered", "Of them, answered (a first answered update)."),
    ("on_time", "Of them, answered by the answer-by date in force."),
    ("ratings", "Ratings of answers this instance took (the latest of each message)."),
)


class OutboxCollector:
    """The outbox depth, read when scraped (never a stale gauge from a dead worker)."""

    def __init__(self, depth: Callable[[], dict], counted: Callable[[], dict]) -> None:
        self.depth = depth
        self.counted = counted

    def collect(self):
        try:
            depth = self.depth()
            counted = self.counted()
        except sqlite3.Error:  # /readyz says why; the scrape still shows the counters
            yield GaugeMetricFamily(
                "otklik_outbox_readable", "1 when the outbox could be read.", value=0
            )
            return
        yield GaugeMetricFamily(
            "otklik_outbox_readable", "1 when the outbox could be read.", value=1
        )
        yield GaugeMetricFamily(
            "otklik_outbox_pending", "Messages waiting in the outbox.", value=depth["pending"]
        )
        yield GaugeMetricFamily(
            "otklik_outbox_dead",
            "Messages the forwarder gave up on (see `flask outbox list`).",
            value=depth["dead"],
        )
        yield GaugeMetricFamily(
            "otklik_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending message (0 when none waits).",
            value=depth["oldest_pending_age"],
        )
        # The statistics' counts of this instance (never by agency: 160,000 label values).
        for figure, what in STATS_FIGURES:
            yield CounterMetricFamily(f"otklik_stats_{figure}", what, value=counted.get(figure, 0))


def exposition(depth: Callable[[], dict], figures: Callable[[], dict] = dict) -> bytes:
    """The text format: every process's counters, then the outbox and the statistics'
    ``figures`` (``outbox.counts.totals``) read now."""
    if multiprocess_mode():
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    outbox_now = CollectorRegistry()
    outbox_now.register(OutboxCollector(depth, figures))
    return generate_latest(counted) + generate_latest(outbox_now)


# -- the multiprocess folder ------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_folder(folder: str | os.PathLike | None = None) -> None:
    """At a start: create the folder, and empty it when no process that wrote there
    still runs (a fresh start of the whole deployment: after a reboot, or every unit
    stopped). While any runs (another web unit, the forwarder), the files of the ones
    that exited stay: their counts are part of the totals, and removing them would make
    every counter drop, which Prometheus reads as a reset and counts all over again."""
    folder = folder or os.environ.get(MULTIPROC_DIR)
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    files = list(path.glob("*.db"))
    pids = {file.stem.rsplit("_", 1)[-1] for file in files}
    if any(pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)) for pid in pids):
        return
    for file in files:
        file.unlink(missing_ok=True)


def process_exited(pid: int) -> None:
    """gunicorn's child_exit hook: drop the dead worker's live gauges (its count of
    broken agencies)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)


def init_app(app) -> None:
    """Count every answer, error pages included, by its route pattern."""

    @app.after_request
    def count_request(response):
        rule = request.url_rule
        request_answered(rule.rule if rule else "(unmatched)", request.method, response.status_code)
        return response
