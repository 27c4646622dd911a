"""Each benchmark of issues 18, 19 and 21 starts, measures both sides and writes its
results, in a run too short to mean anything: so that a broken benchmark shows in
`make test`, not only on the lead's quiet machine. (bench/web.py and the others take longer even at
their shortest; see bench/README.md.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import require

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path: Path, script: str, *args: str) -> dict:
    env = {**os.environ, "OTKLIK_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((tmp_path / script.replace(".py", ".json")).read_text(encoding="utf-8"))


def first_row(results: dict, figure: str) -> dict:
    return next(r for r in results["rows"] if r["figure"].startswith(figure))


def test_answers_bench_measures_the_page_and_the_rating(tmp_path):
    results = run(tmp_path, "answers.py", "--check")
    page = first_row(results, "message's page with an answer")
    rating = first_row(results, "rating POST")
    for measured in (page, rating):
        assert measured["value"] > 0 and measured["baseline"] > 0
        assert measured["errors"] == 0  # every page a 200, every rating a 303
        assert measured["ratio"] is not None and "aim" in measured
    assert rating["stored"] > 0  # the ratings were committed, not only answered


def test_polls_bench_measures_the_results_and_every_vote(tmp_path):
    results = run(tmp_path, "polls.py", "--check")
    page = first_row(results, "poll results page")
    vote = first_row(results, "vote POST")
    for measured in (page, vote):
        assert measured["value"] > 0 and measured["baseline"] > 0
        assert measured["errors"] == 0  # every page a 200, every vote a 303
        assert measured["ratio"] is not None and "aim" in measured
    # every vote committed, and counted once in the poll's tally
    assert vote["stored"] > 0
    assert vote["tallied"] == vote["stored"]


@pytest.mark.services
def test_listener_bench_commits_every_update(tmp_path):
    require(5672, "RabbitMQ")
    results = run(tmp_path, "listener.py", "--messages", "150", "--rounds", "1")
    taken = first_row(results, "listener from RabbitMQ")
    assert taken["value"] > 0 and taken["baseline"] > 0
    assert taken["stored"] == 150


def test_open311_bench_measures_the_services_and_every_request(tmp_path):
    results = run(tmp_path, "open311.py", "--check")
    services = first_row(results, "Open311 GET services.xml")
    posted = first_row(results, "Open311 POST requests.json")
    for measured in (services, posted):
        assert measured["value"] > 0 and measured["baseline"] > 0
        assert measured["errors"] == 0  # every list a 200, every request a 200 with its receipt
        assert measured["ratio"] is not None and "aim" in measured
    assert posted["stored"] > 0  # the requests were committed, not only answered


def test_stats_bench_generates_checks_and_times_the_figures(tmp_path):
    results = run(tmp_path, "stats.py", "--check")
    assert first_row(results, "figures of the sample against the recount")["value"] == 0
    for figure in ("an agency's page", "a region's page", "a region's CSV", "the instance's",
                   "national CSV"):  # fmt: skip
        assert first_row(results, figure)["value"] > 0
    submission = first_row(results, "submission with counting")
    assert submission["with_us"] > 0 and submission["without_us"] > 0
