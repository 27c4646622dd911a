"""Statistics as tests set them up: messages committed as the form commits them, the
central system's updates taken in, a report of this month."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.forms import send
from tests.updates import body_of
from widget import agencies, events, outbox, stats, updates
from widget.outbox import updates as stored_updates
from widget.stats.report import Period

SCHOOL = "orel-school-57"
TODAY = datetime.now(UTC).date()
THIS_MONTH = Period(TODAY.strftime("%Y-%m"), TODAY.strftime("%Y-%m"))


def report(app, scope="agency", key=SCHOOL, period=THIS_MONTH, lang="ru"):
    with app.app_context():
        return stats.report(scope, key, period, lang)


def enqueue(app, count: int, topic: str = "food", agency_id: str = SCHOOL) -> list[str]:
    """``count`` messages committed as the form commits them; their receipts."""
    with app.app_context():
        agency = agencies.load(agency_id)
        db = outbox.get_db()
        message = events.Submission(
            agency=agency, topic_id=topic, text="Во дворе третий день не вывозят мусор 🙁",
            contact={}, lang="ru", channel="page", origin=None, consent=None,
        )  # fmt: skip
        return [
            outbox.enqueue(db, message, nonce=f"{topic}-{time.time_ns()}-{i}").receipt
            for i in range(count)
        ]


def post(client, **fields):
    return send(client, **{"email": "ivan.petrov@example.ru", "consent": "y", **fields})


def take(app, *events) -> list[bool]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return stored_updates.record(db, [updates.parse(body_of(e)) for e in events], "http")
    finally:
        db.close()


def at(days: float) -> str:
    """An update's time, ``days`` from now."""
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()
