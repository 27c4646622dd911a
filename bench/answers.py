"""The message's page and the rating against what Flask and SQLite allow, in the same run.

- the message's page with an answer (GET of the done URL with its seal, the message's
  history ending in ``answered`` with a multi-paragraph answer) against Flask's hello
  world;
- a rating POST (a fresh rating token each, the message answered) against the bare
  Flask + SQLite insert route bench/web.py compares a submission with.

All servers run under the production gunicorn.conf.py (same worker count).
Run: ``.venv/bin/python bench/answers.py [--seconds N] [--rounds N]``; see bench/README.md.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, print_machine, shown, write_results
from bench._compare import (
    AGENCY,
    alternate_fresh_posts,
    alternate_gets,
    bench_app,
    comparison_args,
    count_rows,
    make_instance,
    pooled,
    rate_rows,
    three_servers,
)
from bench._updates import answered_history, body_of
from bench.web import BODY as SUBMISSION

# A rating as a citizen gives one: partly solved, with a comment (a typo, an emoji).
RATING = urlencode(
    {
        "solved": "partly",
        "score": "4",
        "comment": "Вода горячая есть, спасибо! Но журнал у дежурного никто не показал 😕 "
        "и на сайте меню за прошлую неделю, поправте пожалуйста.",
    }
)


def answered_message(instance: Path) -> str:
    """Send a message through the app, as a citizen would, and record its updates up to
    the answer as an intake does; return its done URL (path and seal)."""
    from widget import outbox, updates
    from widget.outbox import updates as stored

    app = bench_app(instance)
    client = app.test_client()
    form = f"/embed/{AGENCY}"
    token = re.search(r'name="token" value="([^"]+)"', client.get(form).get_data(as_text=True))
    response = client.post(form, data=f"{SUBMISSION}&token={token.group(1)}",
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 303, response.status_code
    done = urlsplit(response.headers["Location"])
    receipt = done.path.rsplit("/", 1)[1]
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        history = [updates.parse(body_of(e)) for e in answered_history(receipt)]
        stored.record(db, history, "http")
    finally:
        db.close()
    return f"{done.path}?{done.query}"


def main() -> None:
    args = comparison_args(__doc__)
    print_machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="otklik-bench-") as tmp:
        tmp = Path(tmp)
        instance = make_instance(tmp)
        done = answered_message(instance)
        receipt = urlsplit(done).path.rsplit("/", 1)[1]
        with three_servers(instance, tmp, done) as (hello, widget, bare):
            print("the message's page with its answer vs Flask hello world:", flush=True)
            page, base = alternate_gets(
                (widget, done), (hello, "/"), args.seconds, args.rounds, warm=not args.check
            )
            rows += rate_rows(
                "message's page with an answer GET /embed/<agency>/done/<receipt>?at=",
                "message's page",
                page,
                base,
                0.6,
                note="baseline: Flask hello world; the page signs a rating token each",
            )

            print("rating POST vs a bare Flask + SQLite route:", flush=True)
            from widget import tokens

            rated, base = alternate_fresh_posts(
                instance, tmp, (widget, done, RATING), (bare, "/", SUBMISSION),
                tokens.for_message(AGENCY, receipt), pooled(page).rate, args,
                warm=not args.check,
            )  # fmt: skip
            rows += rate_rows(
                "rating POST (fresh token, synchronous=FULL)",
                "rating",
                rated,
                base,
                0.5,
                note="baseline: bare Flask route, WTForms + one SQLite insert (as web.py's)",
                stored=count_rows(instance / "outbox.sqlite3", "ratings"),
            )
    path = write_results("answers", rows)
    print(f"# wrote {shown(path)}", flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
