"""The figures at scale (issue 20), on a small set: a few hundred agencies and 20,000
messages written by bench/stats.py's generator through the app's counting, every figure
of a sample of agencies and two regions checked against its independent recount."""

from __future__ import annotations

from bench.stats import generate, mismatches
from widget import outbox, stats
from widget.stats.report import Period

YEAR = Period("2026-01", "2026-12")


def test_every_figure_of_a_sample_matches_the_recount_of_the_generated_facts(app):
    with app.app_context():
        recount = generate(outbox.get_db(), agencies=300, messages=20_000, sample=25)
        assert len(recount.agencies) == 25 and len(recount.regions) == 2

        def report_of(scope, key):
            return stats.report(scope, key, YEAR, "ru")

        assert mismatches(recount, report_of) == []
        # The sample is not all suppressed: the check compared real figures.
        region = report_of("region", sorted(recount.regions)[0])
        assert region.total.messages.value > 100 and region.total.median_days.value is not None
        shown = [report_of("agency", a).total.messages for a in recount.agencies]
        assert sum(1 for cell in shown if cell.value) >= 10
