"""Endpoints for operators and load balancers: liveness and readiness."""

from __future__ import annotations

import os
import sqlite3

from flask import Blueprint, current_app, jsonify

from .. import agencies, outbox

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/readyz")
def readyz():
    """Ready when the outbox takes writes and the agencies folder can be read."""
    checks, body = {}, {}
    try:
        db = outbox.get_db()
        with db.atomic():  # takes the write lock: fails on a read-only or locked outbox
            db.execute("CREATE TEMP TABLE IF NOT EXISTS readyz (x)")
        body["outbox"] = outbox.depth(db)
        checks["outbox"] = "ok"
    except sqlite3.Error as e:
        checks["outbox"] = f"error: {e}"
    folder = agencies.extension(current_app).folder
    checks["agencies"] = "ok" if os.access(folder, os.R_OK | os.X_OK) else "error: unreadable"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(ready=ready, checks=checks, **body), 200 if ready else 503
