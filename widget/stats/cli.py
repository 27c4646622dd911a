"""``flask stats``: the statistics pages' figures in a terminal, or as CSV or JSON."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from . import SCOPES, exports, report
from .report import COLUMNS, Cell, Period, Report

HEADINGS = {
    "messages": "messages",
    "answered": "answered",
    "on_time": "on time",
    "median_days": "median d",
    "p90_days": "p90 d",
    "ratings": "ratings",
    "mean_score": "mean",
    "solved_share": "solved",
    "polls": "polls",
    "votes": "votes",
}


@click.command("stats")
@click.argument("scope", type=click.Choice([*SCOPES, "national"]))
@click.argument("key", required=False)
@click.option("--from", "first", metavar="YYYY-MM", help="First month (default: a year ago).")
@click.option("--to", "last", metavar="YYYY-MM", help="Last month (default: this one).")
@click.option("--lang", default="ru", show_default=True, help="Language of the labels.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (docs/statistics.md) instead of a table.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), help="Write to this file.")
@with_appcontext
def stats_command(scope, key, first, last, lang, as_csv, as_json, output) -> None:
    """The figures of the instance, a region (KEY: its code, such as 57) or an agency
    (KEY: its id) over whole months, as their pages show them: small numbers
    suppressed ("<5"). `national` writes the open data of every region and agency (CSV).
    """
    if as_csv and as_json:
        raise click.UsageError("--csv or --json, not both")
    if (scope in ("region", "agency")) != bool(key):
        raise click.UsageError(f"{scope}: " + ("give its KEY" if not key else "takes no KEY"))
    try:
        period = Period.parse(first, last, datetime.now(UTC).date())
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    out = output or sys.stdout
    if scope == "national":
        if as_json:
            raise click.UsageError("national: CSV only (--csv)")
        exports.write_national_csv(period, lang, out)
        return
    try:
        found = report(scope, key, period, lang)
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    if as_csv:
        exports.write_csv(found, out)
    elif as_json:
        json.dump(exports.to_json(found), out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        out.write(table(found))


def shown(cell: Cell) -> str:
    if cell.suppressed:
        return "<5"
    if cell.value is None:
        return "—"
    return f"{cell.value:g}" if isinstance(cell.value, float) else str(cell.value)


def table(found: Report) -> str:
    """The report's months, total and rows as aligned plain text."""
    lines = [("", *HEADINGS.values())]
    for row in found.months:
        lines.append((row.label, *(shown(getattr(row.figures, c)) for c in COLUMNS)))
    lines.append(("total", *(shown(getattr(found.total, c)) for c in COLUMNS)))
    for row in found.rows:
        lines.append(
            (f"{row.key} {row.label}"[:40], *(shown(getattr(row.figures, c)) for c in COLUMNS))
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    title = f"{found.name} ({found.period.first} – {found.period.last})"
    body = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    return "\n".join([title, *body]) + "\n"
