"""How the web benchmarks compare the widget with a baseline: the bench instance, tokens
minted beforehand, alternating rounds of load pooled per side, and the rows they give.
Kept apart from bench/_common.py (the machine, gunicorn, wrk, the results file), which
every benchmark uses.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sqlite3
import statistics
import time
import uuid
from pathlib import Path

from bench._common import (
    BENCH,
    CONNECTIONS,
    PUBLIC_URL,
    ROOT,
    THREADS,
    Load,
    Server,
    have_wrk,
    ratio_row,
    row,
    wrk,
)


@contextlib.contextmanager
def three_servers(instance: Path, tmp: Path, ready_path: str):
    """Flask hello world, the widget on ``instance`` (up once ``ready_path`` answers) and
    the bare Flask + SQLite route (its database in ``tmp``), each under the production
    gunicorn.conf.py: every comparing benchmark's servers."""
    bare_db = tmp / "bare.sqlite3"
    with (
        Server("_hello:app", pythonpath=str(BENCH)) as hello,
        Server(
            "wsgi:app", env={"OTKLIK_INSTANCE_PATH": str(instance)}, ready_path=ready_path
        ) as widget,
        Server("_bare:app", pythonpath=str(BENCH), env={"OTKLIK_BENCH_DB": str(bare_db)}) as bare,
    ):
        print(f"# gunicorn.conf.py: {widget.worker_count()} sync workers each", flush=True)
        yield hello, widget, bare


# The instance every web benchmark serves: a demo agency, a fixed secret.
AGENCY = "orel-school-57"
SECRET = "bench-secret-not-for-production"


def comparison_args(doc: str) -> argparse.Namespace:
    """The options of a benchmark that compares in rounds (``doc``: its docstring):
    ``--seconds`` and ``--rounds``, or ``--check`` for one round of a second and no warm-up."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3, help="each measured run")
    parser.add_argument("--rounds", type=int, default=6, help="A/B rounds per comparison")
    parser.add_argument(
        "--check", action="store_true", help="one round of a second, no warm-up: that it runs"
    )
    args = parser.parse_args()
    if args.check:
        args.seconds, args.rounds = 1, 1
    return args


def make_instance(folder: Path) -> Path:
    """An instance with the demo agencies, tokens good at once (``token_min_seconds = 0``)
    and the rate limits lifted far above the load (one address sends all of it; the
    limiter keeps counting, its cost is part of every request)."""
    instance = folder / "instance"
    shutil.copytree(ROOT / "instance" / "agencies", instance / "agencies")
    (instance / "settings.toml").write_text(
        f'secret_key = "{SECRET}"\ntoken_min_seconds = 0\npublic_url = "{PUBLIC_URL}"\n'
        'ratelimit_pages = "100000000 per minute"\n'
        'ratelimit_per_agency = "100000000 per minute"\n',
        encoding="utf-8",
    )
    lift_limits(instance, AGENCY)
    return instance


def lift_limits(instance: Path, agency: str) -> None:
    """Lift ``agency``'s own limits per address far above the load."""
    agency_file = instance / "agencies" / f"{agency}.toml"
    agency_file.write_text(
        agency_file.read_text(encoding="utf-8") + '\n[limits]\nper_ip = "100000000 per hour"\n'
        'attempts_per_ip = "100000000 per hour"\n',
        encoding="utf-8",
    )


def bench_app(instance: Path):
    """The widget's app on ``instance``, in this process (to mint tokens, to set up)."""
    from widget import create_app

    return create_app(
        {"secret_key": SECRET, "token_min_seconds": 0, "public_url": PUBLIC_URL},
        instance_path=instance,
    )


def mint_tokens(instance: Path, count: int, path: Path, issuer: str = AGENCY) -> float:
    """Mint ``count`` tokens for ``issuer`` (an agency's form, or ``tokens.for_message``)
    with the app's own tokens.issue; return seconds taken."""
    from widget import tokens

    app = bench_app(instance)
    start = time.monotonic()
    with app.app_context(), path.open("w") as f:
        for _ in range(count):
            f.write(tokens.issue(issuer) + "\n")
    return time.monotonic() - start


def load(
    server: Server, path: str, seconds: float, kind: str, body: str = "", tokens: Path | None = None
) -> Load:
    """``kind``: get, post (``body`` and one fresh token from ``tokens`` per request) or
    visit. The result's ``cpu_ms`` is the server's CPU time per request, which other
    jobs on the machine disturb less than the rate."""
    cpu = server.cpu_seconds()
    run = _load(server.url + path, seconds, kind, body, tokens)
    run.extra["cpu_ms"] = round((server.cpu_seconds() - cpu) / max(run.requests, 1) * 1000, 2)
    return run


def _load(url: str, seconds: float, kind: str, body: str, tokens: Path | None) -> Load:
    if not have_wrk():
        from bench._pyload import python_load

        return python_load(url, seconds, kind, body, tokens)
    env = {"OTKLIK_BENCH_BODY": body, "OTKLIK_BENCH_THREADS": str(THREADS)}
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


def alternate_gets(
    app: tuple[Server, str], base: tuple[Server, str], seconds, rounds, warm: bool = True
):
    """GET the app's and the baseline's (server, path) in alternating rounds, after a
    second of each to warm every worker up (unless not ``warm``: a check that it runs)."""
    for server, path in (base, app) if warm else ():
        load(server, path, 1, "get")
    app_runs, base_runs = [], []
    for _ in range(rounds):
        base_runs.append(load(*base, seconds, "get"))
        app_runs.append(load(*app, seconds, "get"))
    return app_runs, base_runs


def alternate_fresh_posts(
    instance: Path, tmp: Path, app, base, issuer: str, rate: float, args, warm: bool = True
):
    """``alternate_posts`` with enough fresh tokens for every round: ``rate`` (requests a
    second) bounds the posts, which are no faster than a page. ``app`` and ``base``:
    (server, path, body); the app's tokens are minted for ``issuer``, the baseline's are
    unique ids."""
    count = posts_needed(rate, args)
    tokens_file = tmp / "tokens.txt"
    took = mint_tokens(instance, count, tokens_file, issuer)
    print(f"# minted {count} tokens in {took:.1f} s", flush=True)
    unique = unique_ids(tmp / "unique.txt", count)
    return alternate_posts(
        (*app, tokens_file), (*base, unique), args.seconds, args.rounds, warm=warm
    )


def posts_needed(rate: float, args) -> int:
    """How many fresh tokens every round of posts at ``rate`` (requests a second) uses,
    with room to spare."""
    return int(rate * (args.seconds * args.rounds + 1) * 1.5) + 2000


def unique_ids(path: Path, count: int) -> Path:
    """``count`` unique ids, one a line: the "tokens" of a side that needs none."""
    path.write_text("".join(f"{uuid.uuid4()}\n" for _ in range(count)))
    return path


def alternate_posts(app, base, seconds: float, rounds: int, warm: bool = True):
    """POST to the app and the baseline in alternating rounds, each request with a fresh
    token. ``app`` and ``base``: (server, path, body, tokens file); each round takes its
    tokens off the front of the file. Round 0 (a second) warms every worker's database
    and is not counted (none unless ``warm``). Returns both sides' runs."""
    app_runs, base_runs = [], []
    for round_ in range(0 if warm else 1, rounds + 1):
        took = 1 if round_ == 0 else seconds
        for side, runs in ((base, base_runs), (app, app_runs)):
            server, path, body, tokens = side
            runs.append(load(server, path, took, "post", body, tokens))
            used = int(runs[-1].extra.get("used", 0))
            lines = tokens.read_text().splitlines(keepends=True)
            tokens.write_text("".join(lines[used:]))
    if warm:
        app_runs, base_runs = app_runs[1:], base_runs[1:]
    exhausted = sum(int(r.extra.get("exhausted", 0)) for r in app_runs + base_runs)
    if exhausted:
        print(f"# WARNING: {exhausted} requests reused a token", flush=True)
    return app_runs, base_runs


def rate_rows(
    figure: str, short: str, app_runs, base_runs, aim: float, note: str, **extra
) -> list[dict]:
    """The rate row, the server-CPU row and the latency row of one comparison; ``short``
    names it in the last two."""
    app, base = pooled(app_runs), pooled(base_runs)
    return [
        ratio_row(
            figure,
            app.rate,
            base.rate,
            "req/s",
            aim,
            note=note,
            runs=[r.rate for r in app_runs],
            baseline_runs=[r.rate for r in base_runs],
            errors=app.errors,
            **extra,
        ),
        cpu_row(f"{short}: server CPU per request", app, base, aim),
        row(
            f"{short} latency p50 / p99",
            f"{app.p50_ms} / {app.p99_ms}",
            "ms",
            baseline=f"{base.p50_ms} / {base.p99_ms}",
            note=f"{CONNECTIONS} connections",
        ),
    ]


SERVER_CPU = "gunicorn workers and arbiter, user + system, over all the rounds"


def cpu_row(figure: str, run: Load, baseline: Load, aim: float, note: str = SERVER_CPU) -> dict:
    """CPU per request (``cpu_ms``), the app against its baseline; the ratio is
    baseline / app, so that it reads like the rate ratio (1.0 = as cheap as the
    baseline)."""
    app, base = run.extra["cpu_ms"], baseline.extra["cpu_ms"]
    return row(
        figure,
        app,
        "ms",
        baseline=base,
        ratio=round(base / app, 2) if app else None,
        aim=f"ratio >= {aim}",
        ok=bool(app) and base / app >= aim,
        note=note,
    )


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
