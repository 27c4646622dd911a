"""A poll's vote and its results page against what Flask and SQLite allow, in the same run.

- a vote POST (a fresh vote token each, the demo poll open) against the bare Flask +
  SQLite insert route bench/web.py compares a submission with;
- the results page of a poll with 1,000,000 votes (its tallies filled directly, as a
  million votes would have left them) against Flask's hello world.

All servers run under the production gunicorn.conf.py (same worker count).
Run: ``.venv/bin/python bench/polls.py [--seconds N] [--rounds N]``; see bench/README.md.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, print_machine, shown, write_results
from bench._compare import (
    alternate_fresh_posts,
    alternate_gets,
    bench_app,
    comparison_args,
    count_rows,
    lift_limits,
    make_instance,
    pooled,
    rate_rows,
    three_servers,
)
from bench.web import BODY as SUBMISSION

# The demo instance's poll (instance/polls/), open from 2026 to 2030.
POLL_AGENCY = "orel-city-admin"
POLL = "blagoustroystvo-2027"
POLL_PATH = f"/embed/{POLL_AGENCY}/polls/{POLL}"
VOTES = 1_000_000

# A vote as a citizen casts one: a single choice, two extras, a scale; the honeypot empty.
VOTE = urlencode(
    [
        ("q-priority", "park"),
        ("q-extras", "lights"),
        ("q-extras", "playground"),
        ("q-satisfaction", "2"),
        ("website", ""),
    ]
)


def poll_instance(folder: Path) -> Path:
    """The bench instance with the demo polls and logos, the poll's agency's limits and
    the per-address vote limit lifted far above the load (one address casts every vote;
    the limiters still count each)."""
    instance = make_instance(folder)
    for kind in ("polls", "logos"):
        shutil.copytree(ROOT / "instance" / kind, instance / kind)
    lift_limits(instance, POLL_AGENCY)
    with (instance / "settings.toml").open("a", encoding="utf-8") as f:
        f.write('ratelimit_votes_per_ip = "100000000 per hour"\n')
    return instance


def ballots(poll) -> list[dict[str, list[str]]]:
    """Every ballot the poll takes: each choice of each question (the optional ones also
    left out), multiple choice up to its maximum."""
    per_question = []
    for q in poll.questions:
        if q.kind == "multiple":
            most = q.max_choices or len(q.choices)
            picks = [
                list(c) for n in range(1, most + 1) for c in itertools.combinations(q.choices, n)
            ]
        else:
            picks = [[c] for c in q.choices]
        per_question.append([(q.id, p) for p in picks] + ([] if q.required else [(q.id, None)]))
    return [{q: p for q, p in combo if p} for combo in itertools.product(*per_question)]


def fill_tallies(instance: Path, votes: int) -> int:
    """Leave the poll's tallies as ``votes`` votes would (spread unevenly over every ballot
    it takes), written straight into the outbox's tally table: each ballot's rows as
    ``outbox.votes.rows_of`` counts a vote, summed, one row per answer. Returns the votes
    counted (read back through the app's tallies)."""
    from widget import outbox, polls
    from widget.outbox import votes as stored

    app = bench_app(instance)
    with app.app_context():
        poll = polls.load(POLL_AGENCY, POLL)
        kinds = ballots(poll)
        rng = random.Random(19)
        weights = [rng.random() ** 2 for _ in kinds]
        share = [int(votes * w / sum(weights)) for w in weights]
        share[0] += votes - sum(share)
        counts: Counter = Counter()
        for answers, n in zip(kinds, share, strict=True):
            for key in stored.rows_of(answers):
                counts[key] += n
        db = outbox.connect(app.config["OUTBOX_PATH"])
        try:
            with outbox.write_transaction(db):
                db.conn.executemany(
                    "INSERT INTO poll_tallies (agency_id, poll_id, question_id, choice, count)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(POLL_AGENCY, POLL, q, c, n) for (q, c), n in counts.items()],
                )
                db.conn.executemany(
                    "INSERT INTO poll_questions (agency_id, poll_id, question_id, fingerprint)"
                    " VALUES (?, ?, ?, ?)",
                    [(POLL_AGENCY, POLL, q, f) for q, f in poll.fingerprints().items()],
                )
        finally:
            db.close()
        return votes_counted(app)


def votes_counted(app) -> int:
    from widget import polls

    with app.app_context():
        return polls.tallies(app).counts(POLL_AGENCY, POLL).get(("", ""), 0)


def main() -> None:
    args = comparison_args(__doc__)
    print_machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="otklik-bench-") as tmp:
        tmp = Path(tmp)
        instance = poll_instance(tmp)
        filled = fill_tallies(instance, VOTES)
        assert filled == VOTES, filled
        results_path = f"{POLL_PATH}/results"
        with three_servers(instance, tmp, results_path) as (hello, widget, bare):
            print(f"the results page of a poll with {VOTES:,} votes vs Flask hello world:")
            page, base = alternate_gets(
                (widget, results_path), (hello, "/"), args.seconds, args.rounds,
                warm=not args.check,
            )  # fmt: skip
            rows += rate_rows(
                f"poll results page GET /embed/<agency>/polls/<poll>/results ({VOTES:,} votes)",
                "poll results",
                page,
                base,
                0.6,
                note="baseline: Flask hello world; tallies in the outbox (the default)",
            )

            print("vote POST vs a bare Flask + SQLite route:", flush=True)
            from widget import tokens

            voted, base = alternate_fresh_posts(
                instance, tmp, (widget, POLL_PATH, VOTE), (bare, "/", SUBMISSION),
                tokens.for_poll(POLL_AGENCY, POLL), pooled(page).rate, args,
                warm=not args.check,
            )  # fmt: skip
        # counted once gunicorn has stopped: its workers finish the votes wrk left in flight
        rows += rate_rows(
            "vote POST (fresh token, tally in the outbox, synchronous=FULL)",
            "vote",
            voted,
            base,
            0.5,
            note="baseline: bare Flask route, WTForms + one SQLite insert (as web.py's)",
            stored=count_rows(instance / "outbox.sqlite3", "messages"),
            tallied=votes_counted(bench_app(instance)) - VOTES,
        )
    path = write_results("polls", rows)
    print(f"# wrote {shown(path)}", flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
