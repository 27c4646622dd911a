"""Instructions per form-page request, counted by valgrind: a figure that other jobs on
the machine cannot disturb (not a benchmark: the leading underscore keeps `make bench`
from running it; it takes about a minute per figure).

    .venv/bin/python bench/_instructions.py                  # the form page, and hello world
    .venv/bin/python bench/_instructions.py --without count token edge
    .venv/bin/python bench/_instructions.py --page done      # the message's page, answered
    .venv/bin/python bench/_instructions.py --page results   # a poll's results, 1,000 votes

Each figure runs the WSGI app in one process under ``valgrind --tool=callgrind`` twice,
with 0 and with ``-n`` requests after a warm-up, and divides the difference. ``--without``
takes parts of the page out, to show what each costs (docs/performance.md):

    count    the page-view count (limits.Limits.page_view)
    token    signing the form token (tokens.issue)
    edge     the request id and the response headers (security.add_headers)
    metrics  the request metrics (metrics' after_request hook)
    lang     choosing the language (i18n.choose)
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("count", "token", "edge", "metrics", "lang")


def serve(requests: int, app_name: str, without: list[str], page: str = "form") -> None:
    """The measured process: build the app, warm it up, answer ``requests`` requests."""
    sys.path.insert(0, str(ROOT))
    from werkzeug.test import EnvironBuilder

    tmp = Path(tempfile.mkdtemp(prefix="otklik-instructions-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics")
    (tmp / "metrics").mkdir()
    if app_name == "hello":
        sys.path.insert(0, str(ROOT / "bench"))
        from _hello import app

        path = "/"
    else:
        from bench._compare import AGENCY, bench_app, make_instance
        from bench.answers import answered_message
        from bench.polls import POLL_PATH, fill_tallies, poll_instance

        if page == "results":  # the tally's size does not change the page's cost
            instance = poll_instance(tmp)
            fill_tallies(instance, 1000)
            path = f"{POLL_PATH}/results"
        else:
            instance = make_instance(tmp)
            path = answered_message(instance) if page == "done" else f"/embed/{AGENCY}"
        app = bench_app(instance)
        take_out(app, without)
    path, _, query = path.partition("?")
    environ = EnvironBuilder(
        path=path, query_string=query, base_url="http://127.0.0.1:8000"
    ).get_environ()

    def start_response(status, headers, exc_info=None):
        pass

    gc.collect()  # as gunicorn.conf.py's when_ready, before forking the workers
    gc.freeze()
    for _ in range(50 + requests):
        b"".join(app(dict(environ), start_response))
    shutil.rmtree(tmp)


def take_out(app, without: list[str]) -> None:
    from widget import i18n, tokens
    from widget.web import limits

    for part in without:
        if part == "count":
            limits.Limits.page_view = lambda self, remote_addr: None
        elif part == "token":
            tokens.issue = lambda *args, **kwargs: "t" * 90
        elif part == "lang":
            i18n.choose = lambda agency, req: agency.language
        elif part == "edge":
            funcs = app.after_request_funcs
            funcs[None] = [f for f in funcs[None] if f.__name__ != "add_headers"]
        elif part == "metrics":
            funcs = app.after_request_funcs
            funcs[None] = [f for f in funcs[None] if f.__name__ != "count_request"]


def instructions(requests: int, app_name: str, without: list[str], page: str) -> int:
    """Instructions the whole measured process executed."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--serve",
        str(requests),
        "--app",
        app_name,
        "--page",
        page,
        "--without",
        *without,
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", nargs="*", default=[], choices=PARTS)
    parser.add_argument("--page", choices=["form", "done", "results"], default="form",
                        help="the form page, the message's page with an answer, or a poll's "
                        "results")  # fmt: skip
    parser.add_argument("-n", type=int, default=300, help="requests measured")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--app", default="widget", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.app, args.without, args.page)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    figures = [("Flask hello world", "hello", [])]
    label = {
        "form": "form page GET /embed/<agency>",
        "done": "message's page GET /embed/<agency>/done/<receipt>",
        "results": "poll results GET /embed/<agency>/polls/<poll>/results",
    }[args.page]
    figures.append(
        (
            f"{label} without {', '.join(args.without)}" if args.without else label,
            "widget",
            args.without,
        )
    )
    for name, app_name, without in figures:
        per_request = (
            instructions(args.n, app_name, without, args.page)
            - instructions(0, app_name, without, args.page)
        ) / args.n
        print(f"{name}: {per_request / 1000:,.0f} thousand instructions a request")


if __name__ == "__main__":
    main()
