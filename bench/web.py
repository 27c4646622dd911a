"""The web tier against what Flask and SQLite allow, in the same run.

- the form page (GET /embed/<agency>) against Flask's hello world;
- a submission (POST with a fresh token each) against a bare Flask route that
  validates a form and inserts one row with the same SQLite settings;
- whole visits (GET the form, POST it, follow the redirect);
- time from process start to the first 200, and each worker's peak memory.

All servers run under the production gunicorn.conf.py (same worker count).
Run: ``.venv/bin/python bench/web.py [--seconds N]``; see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BENCH,
    PUBLIC_URL,
    ROOT,
    Load,
    Server,
    have_wrk,
    print_machine,
    ratio_row,
    row,
    write_results,
    wrk,
)
from bench._pyload import python_load

AGENCY = "orel-school-57"
SECRET = "bench-secret-not-for-production"
# A message as a citizen writes it: every field the agency shows, with consent.
FIELDS = {
    "topic": "food",
    "text": "В столовой на втором этаже третий день нет горячей воды. Просим разобраться. " * 3,
    "name": "Тестовый Житель",
    "email": "bench@example.ru",
    "consent": "y",
    "website": "",
}
BODY = urlencode(FIELDS)
CONNECTIONS = 16
THREADS = 2


def make_instance(folder: Path) -> Path:
    instance = folder / "instance"
    shutil.copytree(ROOT / "instance" / "agencies", instance / "agencies")
    # The rate limiter keeps counting (its cost is part of every request), but one
    # address sends all the load here: lift the limits far above it.
    (instance / "settings.toml").write_text(
        f'secret_key = "{SECRET}"\ntoken_min_seconds = 0\npublic_url = "{PUBLIC_URL}"\n'
        'ratelimit_pages = "100000000 per minute"\n'
        'ratelimit_per_agency = "100000000 per minute"\n',
        encoding="utf-8",
    )
    agency_file = instance / "agencies" / f"{AGENCY}.toml"
    agency_file.write_text(
        agency_file.read_text(encoding="utf-8") + '\n[limits]\nper_ip = "100000000 per hour"\n'
        'attempts_per_ip = "100000000 per hour"\n',
        encoding="utf-8",
    )
    return instance


def mint_tokens(instance: Path, count: int, path: Path) -> float:
    """Mint ``count`` form tokens with the app's own tokens.issue; return seconds taken."""
    from widget import create_app, tokens

    app = create_app(
        {"secret_key": SECRET, "token_min_seconds": 0, "public_url": PUBLIC_URL},
        instance_path=instance,
    )
    start = time.monotonic()
    with app.app_context(), path.open("w") as f:
        for _ in range(count):
            f.write(tokens.issue(AGENCY) + "\n")
    return time.monotonic() - start


def load(server: Server, path: str, seconds: float, kind: str, tokens: Path | None = None) -> Load:
    """``kind``: get, post (one fresh token per request) or visit. The result's
    ``cpu_ms`` is the server's CPU time per request, which other jobs on the machine
    disturb less than the rate."""
    cpu = server.cpu_seconds()
    run = _load(server.url + path, seconds, kind, tokens)
    run.extra["cpu_ms"] = round((server.cpu_seconds() - cpu) / max(run.requests, 1) * 1000, 2)
    return run


def _load(url: str, seconds: float, kind: str, tokens: Path | None = None) -> Load:
    if not have_wrk():
        return python_load(url, seconds, kind, BODY, tokens)
    env = {"OTKLIK_BENCH_BODY": BODY, "OTKLIK_BENCH_THREADS": str(THREADS)}
    if kind == "get":
        return wrk(url, seconds, CONNECTIONS, THREADS)
    if kind == "post":
        env["OTKLIK_BENCH_TOKENS"] = str(tokens)
        return wrk(url, seconds, CONNECTIONS, THREADS, BENCH / "wrk" / "post.lua", env)
    # one connection per thread keeps each visit's three requests in order
    return wrk(url, seconds, 8, 8, BENCH / "wrk" / "visit.lua", env)


def pooled(runs: list[Load]) -> Load:
    """The rounds of one side taken together: all their requests over all their seconds,
    and CPU time over requests. The two sides' rounds alternate, a few seconds each, so
    both see the same spells of a busy machine (this one's speed drifts by a third within
    a minute); the latency is the median round's."""
    requests = sum(r.requests for r in runs)
    cpu = sum(r.extra["cpu_ms"] * r.requests for r in runs)
    return Load(
        requests=requests,
        seconds=sum(r.seconds for r in runs),
        p50_ms=round(statistics.median(r.p50_ms for r in runs), 2),
        p99_ms=round(statistics.median(r.p99_ms for r in runs), 2),
        errors=sum(r.errors for r in runs),
        extra={"cpu_ms": round(cpu / requests, 3) if requests else 0.0},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3, help="each measured run")
    parser.add_argument("--rounds", type=int, default=6, help="A/B rounds per comparison")
    args = parser.parse_args()
    print_machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="otklik-bench-") as tmp:
        tmp = Path(tmp)
        instance = make_instance(tmp)
        env = {"OTKLIK_INSTANCE_PATH": str(instance)}
        form_path = f"/embed/{AGENCY}"
        bare_db = tmp / "bare.sqlite3"
        with (
            Server("_hello:app", pythonpath=str(BENCH)) as hello,
            Server("wsgi:app", env=env, ready_path=form_path) as widget,
            Server(
                "_bare:app", pythonpath=str(BENCH), env={"OTKLIK_BENCH_DB": str(bare_db)}
            ) as bare,
        ):
            workers = widget.worker_count()
            print(f"# gunicorn.conf.py: {workers} sync workers each", flush=True)
            rows.append(
                row(
                    "time to serve after start (widget, first 200 of the form)",
                    round(widget.started_in, 2),
                    "s",
                    baseline=round(hello.started_in, 2),
                    note="baseline: hello world under the same config",
                )
            )

            # warm every worker up (imports, template compilation, agency cache)
            load(hello, "/", 1, "get")
            load(widget, form_path, 1, "get")

            print("form page GET /embed/<agency> vs Flask hello world:", flush=True)
            page, base = [], []
            for _ in range(args.rounds):
                base.append(load(hello, "/", args.seconds, "get"))
                page.append(load(widget, form_path, args.seconds, "get"))
            page_run, base_run = pooled(page), pooled(base)
            rows.append(
                ratio_row(
                    "form page GET /embed/<agency>",
                    page_run.rate,
                    base_run.rate,
                    "req/s",
                    0.6,  # issue 17: readability over the last microseconds, once 0.6 is met
                    note="baseline: Flask hello world",
                    runs=[r.rate for r in page],
                    baseline_runs=[r.rate for r in base],
                    errors=page_run.errors,
                )
            )
            rows.append(cpu_row("form page: server CPU per request", page_run, base_run, 0.6))
            rows.append(
                row(
                    "form page latency p50 / p99",
                    f"{page_run.p50_ms} / {page_run.p99_ms}",
                    "ms",
                    baseline=f"{base_run.p50_ms} / {base_run.p99_ms}",
                    note=f"{CONNECTIONS} connections",
                )
            )

            print("submission POST /embed/<agency> vs a bare Flask + SQLite route:", flush=True)
            # enough fresh tokens for every round: a POST is not faster than the page
            count = int(page_run.rate * (args.seconds * args.rounds + 1) * 1.5) + 2000
            tokens_file = tmp / "tokens.txt"
            took = mint_tokens(instance, count, tokens_file)
            print(f"# minted {count} tokens in {took:.1f} s", flush=True)
            unique = tmp / "unique.txt"
            unique.write_text("".join(f"{uuid.uuid4()}\n" for _ in range(count)))
            submit, base = [], []
            for round_ in range(args.rounds + 1):  # round 0 warms every worker's database
                seconds = 1 if round_ == 0 else args.seconds
                base.append(load(bare, "/", seconds, "post", unique))
                submit.append(load(widget, form_path, seconds, "post", tokens_file))
                # each round takes fresh tokens: shift the files by what was used
                for path, run in ((unique, base[-1]), (tokens_file, submit[-1])):
                    used = int(run.extra.get("used", 0))
                    lines = path.read_text().splitlines(keepends=True)
                    path.write_text("".join(lines[used:]))
            base, submit = base[1:], submit[1:]
            exhausted = sum(int(r.extra.get("exhausted", 0)) for r in submit + base)
            if exhausted:
                print(f"# WARNING: {exhausted} requests reused a token", flush=True)
            post_run, bare_run = pooled(submit), pooled(base)
            stored = _count(instance / "outbox.sqlite3")
            rows.append(
                ratio_row(
                    "submission POST (fresh token, synchronous=FULL)",
                    post_run.rate,
                    bare_run.rate,
                    "req/s",
                    0.6,
                    note="baseline: bare Flask route, WTForms + one SQLite insert",
                    runs=[r.rate for r in submit],
                    baseline_runs=[r.rate for r in base],
                    errors=post_run.errors,
                    stored=stored,
                )
            )
            rows.append(cpu_row("submission: server CPU per request", post_run, bare_run, 0.6))
            rows.append(
                row(
                    "submission latency p50 / p99",
                    f"{post_run.p50_ms} / {post_run.p99_ms}",
                    "ms",
                    baseline=f"{bare_run.p50_ms} / {bare_run.p99_ms}",
                    note=f"{CONNECTIONS} connections",
                )
            )

            print("whole visits (GET form, POST, follow the redirect):", flush=True)
            visit = load(widget, form_path, args.seconds, "visit")
            visits = int(visit.extra.get("visits", 0))
            rows.append(
                row(
                    "whole visits (GET form, POST, GET done)",
                    round(visits / visit.seconds, 1),
                    "visits/s",
                    note=f"8 connections; broken visits: {visit.extra.get('broken', '?')}",
                )
            )

            peaks = widget.peak_rss_mb()
            rows.append(
                row(
                    "peak memory per worker (VmHWM)",
                    max(peaks) if peaks else None,
                    "MiB",
                    baseline=max(hello.peak_rss_mb() or [0]),
                    note=f"max of {len(peaks)} workers: {peaks}; baseline: hello world",
                )
            )
    path = write_results("web", rows)
    print(f"# wrote {path.relative_to(ROOT)}", flush=True)


def cpu_row(figure: str, run: Load, baseline: Load, aim: float) -> dict:
    """CPU per request, the app against its baseline; the ratio is baseline / app, so
    that it reads like the rate ratio (1.0 = as cheap as the baseline)."""
    app, base = run.extra["cpu_ms"], baseline.extra["cpu_ms"]
    return row(
        figure,
        app,
        "ms",
        baseline=base,
        ratio=round(base / app, 2) if app else None,
        aim=f"ratio >= {aim}",
        ok=bool(app) and base / app >= aim,
        note="gunicorn workers and arbiter, user + system, over all the rounds",
    )


def _count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
