"""Endpoints for operators and load balancers: liveness, readiness and metrics."""

from __future__ import annotations

import os
import sqlite3
import time

from flask import Blueprint, Response, current_app, jsonify

from .. import agencies, metrics, outbox
from ..outbox import counts

bp = Blueprint("ops", __name__)


# Crawlers keep off every message's page and status page (their URLs are private keys);
# the form pages stay fetchable: a link to one on a social page gets its preview.
ROBOTS = """User-agent: *
Disallow: /embed/*/done/
Disallow: /f/*/done/
Disallow: /embed/*/status
Disallow: /f/*/status
Allow: /
"""


@bp.get("/robots.txt")
def robots():
    return ROBOTS, 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


def broken_agency_files(registry: agencies.Registry) -> dict:
    """The agencies whose files this worker found broken, each checked on disk again
    now. Another worker may know of others (its own cache): ``worker`` says whose list
    it is; ``flask agencies check`` reads every file."""
    listed = [
        {
            "agency": record.agency_id,
            "file": record.file,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.since)),
            "serving": "last good" if record.last_good is not None else "error page",
        }
        for record in registry.broken()
    ]
    return {"broken": listed, "worker": os.getpid()}


@bp.get("/readyz")
def readyz():
    """Ready when the outbox takes writes and the agencies folder can be read; with the
    outbox depth (the same figures as ``flask outbox stats`` and /metrics) and the
    broken agency files. Those never make it unready: every machine has the same files,
    so one agency's typo would take them all out of the load balancer."""
    checks, body = {}, {}
    try:
        db = outbox.get_db()
        body["outbox"] = outbox.depth(db)
        # Room on the disk for the largest message the widget accepts.
        room = current_app.config["MAX_CONTENT_LENGTH"]
        outbox.check_writable(db, current_app.config["OUTBOX_PATH"], room)
        checks["outbox"] = "ok"
    except (sqlite3.Error, OSError) as e:
        checks["outbox"] = f"error: {e}"
    registry = agencies.extension(current_app)
    readable = os.path.isdir(registry.folder) and os.access(registry.folder, os.R_OK | os.X_OK)
    checks["agencies"] = "ok" if readable else "error: unreadable"
    body["agency_files"] = broken_agency_files(registry)
    ready = all(v == "ok" for v in checks.values())
    return jsonify(ready=ready, checks=checks, **body), 200 if ready else 503


@bp.get("/metrics")
def prometheus():
    """Prometheus text format: every worker's and the forwarder's counters, and the
    outbox depth read now. Keep it off the public site (docs/deploy.md)."""
    text = metrics.exposition(
        lambda: outbox.depth(outbox.get_db()), lambda: counts.totals(outbox.get_db())
    )
    return Response(text, content_type=metrics.CONTENT_TYPE)
