"""Statistics at national scale (issue 20): a year of the national platform's traffic
in a throw-away instance, written through the counting functions the app uses, checked
against an independent recount, then timed.

- ``generate``: 160,000 agencies in the 85 regions, 6.4 million messages over a year,
  their updates (answers, some late, some with an extension, some arriving out of
  order, some sent twice), a rating for a third; in batched transactions, through
  ``outbox.counts`` and ``outbox.updates.record`` as the app calls them. It returns a
  ``Recount``: the figures of a sample of agencies and two regions, worked out in plain
  Python from the generated facts (never the stats code), to check against.
- timed: an agency's report + CSV and a region's (p50, aim < 50 ms), the instance's
  (< 200 ms), the national CSV of the year (< 10 s), and a form submission with the
  counting against the same submission without it, alternating in one run (aim: ratio
  under 1.10).

Run: ``.venv/bin/python bench/stats.py [--scale 0.01] [--check]``; ``--check`` is the
tiny smoke run of tests/test_bench.py. The full scale takes long (and several GB of disk
in a temporary folder); see bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, print_machine, row, shown, write_results
from widget.outbox import counts, write_transaction
from widget.outbox import updates as stored_updates
from widget.stats.regions import REGIONS
from widget.updates import Update

YEAR = 2026
AGENCIES = 160_000
MESSAGES = 6_400_000
TOPICS = ("food", "lessons", "building", "other")
CHANNELS = ("embed", "embed", "embed", "page")
ANSWER_WITHIN = 30
BATCH = 5_000
DAY = 86400


def month_of(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m")


def agency_id(i: int) -> str:
    return f"a{i:06d}"


def region_of(i: int) -> str:
    return sorted(REGIONS)[i % len(REGIONS)]


@dataclass
class Recount:
    """Plain figures per (scope, key): month -> {figure: value}, from the facts alone."""

    agencies: set
    regions: set
    messages: dict = field(default_factory=lambda: defaultdict(Counter))  # (key, month)
    answered: dict = field(default_factory=lambda: defaultdict(Counter))
    on_time: dict = field(default_factory=lambda: defaultdict(Counter))
    days: dict = field(default_factory=lambda: defaultdict(list))  # key -> [days]
    scores: dict = field(default_factory=lambda: defaultdict(list))  # key -> [scores]
    month_ratings: dict = field(default_factory=lambda: defaultdict(Counter))

    def keys(self, agency: str, region: str):
        if agency in self.agencies:
            yield ("agency", agency)
        if region in self.regions:
            yield ("region", region)

    def median(self, key) -> int | None:
        return nearest_rank(self.days[key], 0.5)

    def p90(self, key) -> int | None:
        return nearest_rank(self.days[key], 0.9)


def nearest_rank(values: list[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def generate(db, *, agencies: int, messages: int, seed: int = 20, sample: int = 20) -> Recount:
    """Write a year of traffic into the outbox ``db``; the recount of a sample."""
    rng = random.Random(seed)
    start = datetime(YEAR, 1, 1, tzinfo=UTC).timestamp()
    end = datetime(YEAR + 1, 1, 1, tzinfo=UTC).timestamp()
    sampled = set(rng.sample(range(agencies), min(sample, agencies)))
    regions = {region_of(i) for i in list(sampled)[:2]}
    recount = Recount({agency_id(i) for i in sampled}, regions)
    # A few agencies take most messages (cities), most take a few (village schools).
    weights = [1 / (1 + (i % 997)) ** 0.6 for i in range(agencies)]
    chosen = rng.choices(range(agencies), weights=weights, k=messages)
    for first in range(0, messages, BATCH):
        with write_transaction(db):
            later: list[Update] = []  # sent late: they arrive after the next batch's answers
            for n in range(first, min(first + BATCH, messages)):
                i = chosen[n]
                agency, region = agency_id(i), region_of(i)
                received = rng.uniform(start, end - 1)
                receipt = f"R{n:08d}"
                topic = rng.choice(TOPICS)
                counts.message(
                    db, agency_id=agency, region=region, name=f"Организация № {i}",
                    receipt=receipt, topic_id=topic, channel=rng.choice(CHANNELS),
                    received_at=received, answer_within_days=ANSWER_WITHIN,
                )  # fmt: skip
                month = month_of(received)
                keys = list(recount.keys(agency, region))
                for key in keys:
                    recount.messages[key][month] += 1
                if rng.random() > 0.9:
                    continue  # not answered (yet)
                answered = received + rng.uniform(0, 45) * DAY
                deadline = datetime.fromtimestamp(received, UTC).date() + timedelta(ANSWER_WITHIN)
                updates = [update(receipt, agency, "in_progress", received + 600)]
                if rng.random() < 0.1:  # extended before the answer, sometimes sent late
                    deadline = deadline + timedelta(days=30)
                    extension = update(
                        receipt, agency, "in_progress", (received + answered) / 2, deadline
                    )
                    (later if rng.random() < 0.5 else updates).append(extension)
                updates.append(update(receipt, agency, "answered", answered))
                if rng.random() < 0.05:
                    updates.append(updates[-1])  # sent twice: the same event id
                stored_updates.record(db, updates, "bench", now=answered)
                days = int((answered - received) // DAY)
                on_time = datetime.fromtimestamp(answered, UTC).date() <= deadline
                for key in keys:
                    recount.answered[key][month] += 1
                    recount.on_time[key][month] += on_time
                    recount.days[key].append(days)
                if rng.random() < 1 / 3 / 0.9:
                    at = min(answered + rng.uniform(0, 5) * DAY, end - 1)
                    score = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
                    solved = rng.choice(("yes", "yes", "partly", "no"))
                    counts.rating(
                        db, agency_id=agency, region=region, receipt=receipt, score=score,
                        solved=solved, at=at,
                    )  # fmt: skip
                    for key in keys:
                        recount.scores[key].append(score)
                        recount.month_ratings[key][month_of(at)] += 1
            if later:
                stored_updates.record(db, later, "bench")
    return recount


def update(receipt, agency, status, at, answer_by: date | None = None) -> Update:
    return Update(
        id=str(uuid.uuid4()),
        source="/central/bench",
        time=datetime.fromtimestamp(at, UTC).isoformat(),
        happened_at=at,
        receipt=receipt,
        agency_id=agency,
        status=status,
        answer=None,
        answer_by=answer_by.isoformat() if answer_by else None,
    )


def mismatches(recount: Recount, report_of) -> list[str]:
    """Every figure of the sample that the report shows and the recount disagrees with.
    ``report_of(scope, key)`` gives the year's Report. Suppressed figures are checked to
    be small or protected, never compared (their value is not published)."""
    from widget.stats import suppression

    wrong = []
    keys = [("agency", a) for a in sorted(recount.agencies)] + [
        ("region", r) for r in sorted(recount.regions)
    ]
    for scope, key in keys:
        found = report_of(scope, key)
        k = (scope, key)
        expected_total = {
            "messages": sum(recount.messages[k].values()),
            "answered": sum(recount.answered[k].values()),
            "on_time": sum(recount.on_time[k].values()),
            "median_days": recount.median(k),
            "p90_days": recount.p90(k),
            "ratings": len(recount.scores[k]),
            "mean_score": round(statistics.mean(recount.scores[k]), 2)
            if recount.scores[k]
            else None,
        }
        for figure, value in expected_total.items():
            cell = getattr(found.total, figure)
            if cell.suppressed:
                if figure in ("messages",) and not suppression.small(value):
                    wrong.append(f"{scope} {key} total {figure}: {value} suppressed")
                continue
            if cell.value != value:
                wrong.append(f"{scope} {key} total {figure}: shown {cell.value}, recount {value}")
        for month_row in found.months:
            m = month_row.key
            for figure, table in (
                ("messages", recount.messages),
                ("answered", recount.answered),
                ("on_time", recount.on_time),
                ("ratings", recount.month_ratings),
            ):
                cell = getattr(month_row.figures, figure)
                if not cell.suppressed and cell.value != table[k][m]:
                    wrong.append(f"{scope} {key} {m} {figure}: {cell.value} != {table[k][m]}")
    return wrong


def p50_ms(fn, args_list) -> float:
    times = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1)


def submission_cost(folder: Path, rounds: int, per_round: int) -> tuple[float, float]:
    """µs per form submission (POST, a fresh token each, committed with
    ``synchronous=FULL``, the 303 to the done page) in this process through the app,
    with the counting and without it (``counts.message`` replaced by nothing), rounds
    alternating, in a fresh instance of its own."""
    from bench._compare import AGENCY, bench_app, make_instance
    from bench.web import BODY
    from widget import tokens

    app = bench_app(make_instance(folder / "submissions"))
    client = app.test_client()
    with app.app_context():
        fresh = [tokens.issue(AGENCY) for _ in range(rounds * 2 * per_round + 1)]
    post = {"content_type": "application/x-www-form-urlencoded"}
    client.post(f"/embed/{AGENCY}", data=f"{BODY}&token={fresh.pop()}", **post)  # warm-up
    real = counts.message
    took = {True: [], False: []}
    for r in range(rounds * 2):
        counting = r % 2 == 0
        counts.message = real if counting else (lambda *a, **k: None)
        try:
            t = time.perf_counter()
            for _ in range(per_round):
                response = client.post(
                    f"/embed/{AGENCY}", data=f"{BODY}&token={fresh.pop()}", **post
                )
                assert response.status_code == 303, response.status_code
            took[counting].append((time.perf_counter() - t) / per_round * 1e6)
        finally:
            counts.message = real
    return statistics.median(took[True]), statistics.median(took[False])


def pages_ms(client, paths: list[str]) -> float:
    """p50 of GETs of ``paths`` through the app (at the server: no HTTP, no network)."""
    times = []
    for path in paths:
        t = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return round(statistics.median(times), 1)


def generated(folder: Path, n_agencies: int, n_messages: int) -> tuple[object, Recount, float]:
    """The app over the year's outbox in ``folder``, generated unless a run kept it
    there (``--keep``), with its recount and the generation's rate (None if kept)."""
    from widget import create_app, outbox

    instance = folder / "instance"
    if not (instance / "agencies").exists():
        shutil.copytree(ROOT / "instance" / "agencies", instance / "agencies")
    app = create_app(
        {"demo": True, "outbox_path": str(folder / "outbox.sqlite3")}, instance_path=instance
    )
    kept = folder / f"recount-{n_agencies}-{n_messages}.pickle"
    if kept.exists():
        return app, pickle.loads(kept.read_bytes()), None
    with app.app_context():
        t = time.perf_counter()
        recount = generate(outbox.get_db(), agencies=n_agencies, messages=n_messages)
        rate = round(n_messages / (time.perf_counter() - t))
    kept.write_bytes(pickle.dumps(recount))
    return app, recount, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of 160,000 / 6.4 million")
    parser.add_argument("--check", action="store_true", help="a tiny smoke run")
    parser.add_argument(
        "--keep", type=Path, help="a folder to keep the generated year in, and take it from"
    )
    args = parser.parse_args()
    scale = 0.001 if args.check else args.scale
    n_agencies, n_messages = max(85, int(AGENCIES * scale)), max(500, int(MESSAGES * scale))
    print_machine()
    print(f"# {n_agencies} agencies, {n_messages} messages in {YEAR}", flush=True)
    from widget import stats
    from widget.stats import exports
    from widget.stats.report import Period

    rows = []
    with tempfile.TemporaryDirectory(prefix="otklik-bench-stats-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        app, recount, rate = generated(folder, n_agencies, n_messages)
        if rate is not None:
            rows.append(row("generated through the counting", rate, "messages/s"))
        year = Period(f"{YEAR}-01", f"{YEAR}-12")
        query = f"?from={year.first}&to={year.last}"
        client = app.test_client()
        with app.app_context():

            def report_of(scope, key):
                return stats.report(scope, key, year, "ru")

            wrong = mismatches(recount, report_of)
        rows.append(
            row(
                "figures of the sample against the recount",
                len(wrong),
                "mismatches",
                aim="0",
                ok=not wrong,
                sample=f"{len(recount.agencies)} agencies, {len(recount.regions)} regions",
            )
        )
        for line in wrong[:10]:
            print("   ", line)
        agencies = [f"/stats/agencies/{a}{query}" for a in sorted(recount.agencies)]
        regions = [f"/stats/regions/{r}{query}" for r in sorted(REGIONS)[:10]]
        pages_ms(client, agencies[:1])  # templates, translations
        csvs = [p.replace(query, ".csv" + query) for p in regions]
        timed = (  # each region's and the instance's report made now, then kept
            ("an agency's page, p50", agencies, 50),
            ("a region's page, report made, p50", regions, 50),
            ("a region's page, report kept, p50", regions, 50),
            ("a region's CSV, report kept, p50", csvs, 50),
            ("the instance's page (/stats), report made", [f"/stats{query}"], 200),
            ("the instance's page (/stats), report kept, p50", [f"/stats{query}"] * 3, 200),
        )
        for name, paths, aim in timed:
            ms = pages_ms(client, paths)
            rows.append(row(name, ms, "ms", aim=f"< {aim}", ok=ms < aim, pages=len(paths)))
        with app.app_context():
            t = time.perf_counter()
            out = io.StringIO()
            exports.write_national_csv(year, "ru", out)
            national = round(time.perf_counter() - t, 2)
        rows.append(
            row("national CSV of the year", national, "s", aim="< 10", ok=national < 10,
                bytes=len(out.getvalue().encode()))
        )  # fmt: skip
        with_counting, without = submission_cost(
            Path(scratch), rounds=3 if args.check else 15, per_round=20 if args.check else 100
        )
        ratio = round(with_counting / without, 3)
        rows.append(
            row(
                "submission with counting / without",
                ratio,
                "ratio",
                aim="< 1.10",
                ok=ratio < 1.10,
                with_us=round(with_counting),
                without_us=round(without),
            )
        )
    print(f"results: {shown(write_results('stats', rows))}")


if __name__ == "__main__":
    main()
