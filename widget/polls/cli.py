"""``flask polls new`` and ``flask polls results``."""

from __future__ import annotations

import csv
import sys
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .. import agencies
from . import registry, tallies
from .reading import PollError, PollNotFound, parse, poll_path
from .schema import POLL_ID

polls_cli = AppGroup("polls", help="Write polls and read their results.")

TEMPLATE = """\
# A poll of {agency}: docs/polls.md says what each key means.
title = {{ {title} }}
description = {{ {description} }}
opens = {opens}
closes = {closes}
results = "after_vote"          # after_vote | after_close | hidden
# binding_url = "https://www.gosuslugi.ru/"   # where a binding vote on this is held

[[questions]]
id = "choice"
kind = "single"                 # single | multiple | scale (1-5)
title = {{ {question} }}

[[questions.options]]
id = "yes"
title = {{ {yes} }}

[[questions.options]]
id = "no"
title = {{ {no} }}
"""
WORDS = {
    "title": {"ru": "Новый опрос", "en": "A new poll"},
    "description": {"ru": "О чём этот опрос.", "en": "What this poll is about."},
    "question": {"ru": "Ваш вопрос?", "en": "Your question?"},
    "yes": {"ru": "Да", "en": "Yes"},
    "no": {"ru": "Нет", "en": "No"},
}


def _table(words: dict[str, str], languages: list[str]) -> str:
    return ", ".join(f'{lang} = "{words.get(lang, words["ru"])}"' for lang in languages)


@polls_cli.command("new")
@click.argument("agency_id")
@click.argument("poll_id")
def polls_new(agency_id: str, poll_id: str) -> None:
    """Write a valid poll file for AGENCY_ID, open for 30 days from tomorrow, to edit."""
    agency = agencies.load(agency_id)
    if not POLL_ID.fullmatch(poll_id):
        raise click.ClickException(f"{poll_id!r} is not a poll id (2–64 of a-z, 0-9 and -)")
    path = poll_path(registry().folder, agency.id, poll_id)
    if path.exists():
        raise click.ClickException(f"{path} exists already")
    start = (datetime.now().astimezone() + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    text = TEMPLATE.format(
        agency=agency.name,
        opens=start.isoformat(),
        closes=(start + timedelta(days=30) - timedelta(seconds=1)).isoformat(),
        **{k: _table(v, agency.languages) for k, v in WORDS.items()},
    )
    parse(path, agency.id, poll_id, text)  # never writes a file it would refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"{path}: written; edit it, then run flask agencies check")


@polls_cli.command("results")
@click.argument("agency_id")
@click.argument("poll_id")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: question,choice,title,votes,percent.")
def polls_results(agency_id: str, poll_id: str, as_csv: bool) -> None:
    """Print a poll's tallies, or export them as CSV."""
    agency = agencies.load(agency_id)
    try:
        poll = registry().get(agency.id, poll_id)
    except PollNotFound:
        raise click.ClickException(f"no poll {poll_id!r} of {agency_id}") from None
    except PollError as e:
        raise click.ClickException("\n".join(e.problems)) from None
    counts = tallies().counts(agency.id, poll.id)
    lang = agency.language
    rows = []
    for q in poll.questions:
        answered = counts.get((q.id, ""), 0)
        titles = {o.id: o.title.get(lang) or next(iter(o.title.values())) for o in q.options}
        for choice in q.choices:
            n = counts.get((q.id, choice), 0)
            percent = round(100 * n / answered, 1) if answered else 0.0
            rows.append((q.id, choice, titles.get(choice, choice), n, percent))
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["question", "choice", "title", "votes", "percent"])
        out.writerows(rows)
        return
    click.echo(f"{poll.title.get(lang) or poll.id}: {counts.get(('', ''), 0)} vote(s)")
    for q_id, choice, title, n, percent in rows:
        click.echo(f"  {q_id}/{choice}  {title}: {n} ({percent} %)")


def check_lines(agency_ids: list[str] | None) -> list[str]:
    """The polls' problems, for ``flask agencies check``."""
    from .lint import check

    folder: Path = registry().folder
    return check(
        folder,
        lambda agency_id: agencies.load(agency_id),
        tallies(current_app).fingerprints,
        agency_ids,
    )
