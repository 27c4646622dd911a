"""Open311 GeoReport v2 against what Flask and SQLite allow, in the same run.

- ``POST requests.json`` (an integrator's request, through the one intake path: the
  form's rules, the key's and the agency's limits, the consent record, the outbox with
  synchronous=FULL) against the bare Flask + SQLite insert route bench/web.py compares a
  submission with;
- ``GET services.xml`` of an agency with 40 topics against Flask's hello world.

All servers run under the production gunicorn.conf.py (same worker count).
Run: ``.venv/bin/python bench/open311.py [--seconds N] [--rounds N] [--check]``; see
bench/README.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, print_machine, shown, write_results
from bench._compare import (
    AGENCY,
    alternate_gets,
    alternate_posts,
    comparison_args,
    count_rows,
    make_instance,
    pooled,
    posts_needed,
    rate_rows,
    three_servers,
    unique_ids,
)
from bench.web import BODY as SUBMISSION

FORTY = "bench-forty-topics"
SERVICES = f"/open311/v2/services.xml?jurisdiction_id={FORTY}"
REQUESTS = "/open311/v2/requests.json"


def forty_topics(instance: Path) -> None:
    """An agency of the demo's region with 40 topics, each with its answer deadline."""
    topics = "".join(
        f'\n[[topics]]\nid = "topic-{n}"\ntitle = {{ ru = "Тема номер {n}", en = "Topic {n}" }}\n'
        f"answer_within_days = {10 + n}\n"
        for n in range(1, 41)
    )
    (instance / "agencies" / f"{FORTY}.toml").write_text(
        'extends = "_bases/orel"\nname = "Управление с сорока темами"\n'
        f'routing_key = "57.bench.{FORTY}"\n{topics}',
        encoding="utf-8",
    )


def request_body(api_key: str) -> str:
    """A request as the spec's example posts one, with an email and the consent."""
    return urlencode(
        {
            "api_key": api_key,
            "jurisdiction_id": AGENCY,
            "service_code": "food",
            "lat": "52.9651",
            "long": "36.0785",
            "address_string": "Орёл, ул. Ленина, 1",
            "description": "В столовой холодный суп уже вторую неделю.",
            "attribute[name]": "Иван Петров",
            "attribute[email]": "ivan@example.ru",
            "attribute[consent]": "yes",
        }
    )


def main() -> None:
    args = comparison_args(__doc__)
    print_machine()
    from widget.open311 import keys

    rows = []
    with tempfile.TemporaryDirectory(prefix="otklik-bench-") as tmp:
        tmp = Path(tmp)
        instance = make_instance(tmp)
        forty_topics(instance)
        # one address posts everything: the key's limit lifted far above the load
        api_key = keys.add(keys.path_in(instance), "bench", [AGENCY], [], "100000000 per hour")
        with three_servers(instance, tmp, SERVICES) as (hello, widget, bare):
            print("GET services.xml of an agency with 40 topics vs Flask hello world:")
            page, base = alternate_gets(
                (widget, SERVICES), (hello, "/"), args.seconds, args.rounds, warm=not args.check
            )
            rows += rate_rows(
                "Open311 GET services.xml (an agency with 40 topics)",
                "services.xml",
                page,
                base,
                0.6,
                note="baseline: Flask hello world",
            )

            print("POST requests.json vs a bare Flask + SQLite route:", flush=True)
            # the key vouches for each request: the "token" the load adds is ignored
            count = posts_needed(pooled(page).rate, args)
            ids = unique_ids(tmp / "ids.txt", count)
            base_ids = unique_ids(tmp / "base-ids.txt", count)
            posted, base = alternate_posts(
                (widget, REQUESTS, request_body(api_key), ids), (bare, "/", SUBMISSION, base_ids),
                args.seconds, args.rounds, warm=not args.check,
            )  # fmt: skip
        # counted once gunicorn has stopped: its workers finish the posts wrk left in flight
        rows += rate_rows(
            "Open311 POST requests.json (API key, synchronous=FULL)",
            "requests.json",
            posted,
            base,
            0.5,
            note="baseline: bare Flask route, WTForms + one SQLite insert (as web.py's)",
            stored=count_rows(instance / "outbox.sqlite3", "messages"),
        )
    path = write_results("open311", rows)
    print(f"# wrote {shown(path)}", flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
