"""Two instances on one Redis show one set of figures (issue 20): each counts what it
took, the forwarder's loop shares the counts, every update reaches both but counts once."""

from __future__ import annotations

import time
import uuid

import redis

from tests.deployments import instance_app
from tests.services import require
from tests.stats import THIS_MONTH, at, enqueue, take
from tests.updates import status_event
from widget import cli, outbox, stats
from widget.outbox import counts, write_transaction


def figures(app, scope="agency", key="orel-school-57"):
    with app.app_context():
        return stats.report(scope, key, THIS_MONTH, "ru").total


def forward(app) -> None:
    """One pass of the instance's own forwarder: it sends, then shares the counts."""
    with app.app_context():
        cli.make_forwarder(app).run_once()


def test_two_instances_show_the_deployments_figures(instance, tmp_path):
    require(6379, "Redis")
    prefix = f"otklik-test-{uuid.uuid4().hex}"
    a, b = (
        instance_app(
            instance, tmp_path, n, prefix,
            stats_uri="redis://127.0.0.1:6379/0", stats_key_prefix=prefix, instance_id=n,
        )
        for n in ("a", "b")
    )  # fmt: skip
    try:
        taken = enqueue(a, 3) + enqueue(b, 4)
        assert figures(a).messages.suppressed and figures(b).messages.suppressed  # 3, 4 alone
        for app in (a, b, a):  # a shares, b shares and takes a's in, a takes b's in
            forward(app)
        assert figures(a).messages.value == figures(b).messages.value == 7
        # The central system's updates reach every instance; each message counts once.
        events = [status_event("answered", receipt=r, time=at(3)) for r in taken]
        take(a, *events)
        take(b, *events)
        forward(b)
        forward(a)
        forward(b)  # a's change reaches b
        for app in (a, b):
            assert figures(app).answered.value == 7
            assert figures(app, "region", "57").messages.value == 7
            assert figures(app, "instance", None).answered.value == 7
        # Ratings given on each instance, 3 and 3 in one month: 6, shown, in the rows too.
        for app, receipts in ((a, taken[:3]), (b, taken[3:6])):
            with app.app_context(), write_transaction(outbox.get_db()) as db:
                for r in receipts:
                    counts.rating(
                        db, agency_id="orel-school-57", region="57", receipt=r, score=4,
                        solved="yes", at=time.time(),
                    )  # fmt: skip
        for app in (a, b, a):
            forward(app)
        for app in (a, b):
            assert figures(app).ratings.value == 6
            with app.app_context():
                (row,) = stats.report("region", "57", THIS_MONTH, "ru").rows
            assert (row.figures.ratings.value, row.figures.mean_score.value) == (6, 4)
        # Sharing again, with nothing new, changes nothing.
        forward(a)
        forward(b)
        assert figures(a).messages.value == figures(b).messages.value == 7
    finally:
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
