"""Profile the widget's hot paths in one process with pyinstrument (not a benchmark:
the leading underscore keeps `make bench` from running it).

    .venv/bin/python bench/_profile.py get      # the form page
    .venv/bin/python bench/_profile.py post     # a submission with a fresh token
    .venv/bin/python bench/_profile.py done     # the message's page with its answer
    .venv/bin/python bench/_profile.py rate     # a rating of that answer, a fresh token each
    .venv/bin/python bench/_profile.py get --html > profile.html

It calls the WSGI app through Flask's test client (no network, no gunicorn), after a
warm-up, so what it shows is the app's own per-request work.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinstrument import Profiler

from bench._compare import AGENCY, bench_app, make_instance
from bench.answers import RATING, answered_message
from bench.web import BODY
from widget import tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["get", "post", "done", "rate"])
    parser.add_argument("-n", type=int, default=2000, help="requests to profile")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument("--html", action="store_true", help="print pyinstrument's HTML")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="otklik-profile-"))
    try:
        instance = make_instance(tmp)
        url, issuer, body = f"/embed/{AGENCY}", AGENCY, BODY
        if args.path in ("done", "rate"):
            url, body = answered_message(instance), RATING
            issuer = tokens.for_message(AGENCY, url.split("?")[0].rsplit("/", 1)[1])
        app = bench_app(instance)
        client = app.test_client()
        with app.app_context():
            minted = [tokens.issue(issuer) for _ in range(args.n + 50)]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}

        def once(i: int) -> None:
            if args.path in ("get", "done"):
                response = client.get(url)
                assert response.status_code == 200, response.status_code
            else:
                response = client.post(url, data=f"{body}&token={minted[i]}", headers=headers)
                assert response.status_code == 303, response.status_code

        for i in range(50):  # warm up: templates, agency cache, form class
            once(args.n + i)
        profiler = Profiler(interval=0.0005)
        start = time.perf_counter()
        with profiler:
            for i in range(args.n):
                once(i)
        took = time.perf_counter() - start
        print(f"# {args.n} × {args.path}: {took / args.n * 1000:.3f} ms each", file=sys.stderr)
        print(profiler.output_html() if args.html else profiler.output_text(show_all=args.all))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
