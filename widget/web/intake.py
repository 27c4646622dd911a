"""``POST /intake/updates``: the central system pushes one update (a
``feedback.status.v1`` event) per request, signed with ``intake_secret``.

Machine to machine: the signature authenticates the sender, so there is no form token
and no HTML; answers are JSON, errors RFC 9457 problem details
(``application/problem+json``) saying what is wrong. It is not a page view (no rate
limit of pages counts it). Registered only when ``intake_secret`` is set.

The checks go cheapest first: the size (413, before the body is read), the signature
(401), the event (400); 200 only once the update is committed, also for a repeat.
"""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .. import metrics, outbox, signatures, updates
from ..outbox import updates as stored

log = logging.getLogger(__name__)

bp = Blueprint("intake", __name__)

# Bytes of one event's body: the largest valid event (every text field at its longest,
# each character an emoji written as a \u surrogate pair, indented) is 260 kB, and a
# valid event is never refused for how it is encoded (docs/design.md).
LARGEST = 256 * 1024
PATH = "/intake/updates"
KIND = "http"  # the intake's metrics label
RETRY_AFTER = "30"  # seconds, when the outbox cannot take the update now


def problem(status: int, detail: str, headers: dict | None = None):
    """An RFC 9457 problem: ``about:blank`` (the status says what kind), with why."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers.update(headers or {})
    return response


# No automatic OPTIONS: POST is the one method taken, and every other gets a 405 problem.
@bp.post(PATH, provide_automatic_options=False)
def take_update():
    # A body of unknown length (chunked) is cut at the limit without a word from
    # werkzeug: reading one byte more tells an oversized one.
    request.max_content_length = LARGEST + 1
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:  # its Content-Length says so
        body = None
    if body is None or len(body) > LARGEST:
        return problem(413, f"the body is over {LARGEST:,} bytes: send one update per request")
    keys = [current_app.config["INTAKE_SECRET"], *current_app.config["INTAKE_SECRET_FALLBACKS"]]
    if not signatures.valid(body, request.headers.get(signatures.HEADER), keys):
        return problem(
            401,
            f"{signatures.HEADER} is missing, or is not sha256=<hex HMAC-SHA256 of this body"
            " with the intake secret>",
            {"WWW-Authenticate": f'{signatures.HEADER} realm="otklik"'},
        )
    try:
        update = updates.parse(body)
    except updates.InvalidUpdate as e:
        log.warning("rejected an update pushed over HTTP: %s", e)
        metrics.update_taken(KIND, "rejected")
        return problem(400, str(e))
    try:
        (fresh,) = stored.record(outbox.get_db(), [update], KIND)
    except sqlite3.Error as e:  # the sender sends it again: nothing is lost
        log.error("the outbox cannot take update %s: %s", update.id, e)
        return problem(
            503,
            "the update could not be stored now: send it again later",
            {"Retry-After": RETRY_AFTER},
        )
    outcome = "recorded" if fresh else "repeat"
    metrics.update_taken(KIND, outcome)
    return jsonify(id=update.id, outcome=outcome)


CROSS_SITE = "a request with a browser's cross-site Sec-Fetch-Site or Origin is refused"
ONLY_POST = "only POST is taken here: one signed feedback.status.v1 event per request"


def takes(path: str) -> bool:
    """Whether ``path`` is the intake's, when it is served: the app's error handler
    then answers a routing error (a GET's 405) as a problem, not a page; Flask runs no
    blueprint's handler for those."""
    return path == PATH and bp.name in current_app.blueprints


@bp.errorhandler(HTTPException)
def http_problem(e: HTTPException):
    """The route's other refusals (a method other than POST, security's 403 of a
    cross-site POST) as problems."""
    status = e.code or 500
    detail = {403: CROSS_SITE, 405: ONLY_POST}.get(status, HTTPStatus(status).phrase)
    kept = {k: v for k, v in e.get_headers() if k in ("Allow", "Retry-After")}
    return problem(status, detail, kept)


@bp.errorhandler(Exception)
def unexpected_problem(_e: Exception):
    log.exception("unhandled error taking an update")
    return problem(500, "the update could not be taken; it was not stored")
