"""A report as open data: CSV and JSON with stable, documented columns
(docs/statistics.md). Columns are only ever appended.

CSV: one table, a header row first (so ``csv.DictReader`` reads it), then one row per
line of the report: ``section`` says which (total, month, row, topic, channel, week,
answer_days, score). A figure is empty when it is suppressed or has nothing to stand
on; ``suppressed`` names the suppressed columns of the row, space-separated; every row
carries the ``licence``, so that a row copied out keeps it.

JSON: the same figures, each as ``{"value": …, "suppressed": …}`` (a suppressed one is
``{"value": null, "suppressed": true}``), with the licence at the top.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from .report import COLUMNS, Bar, Breakdown, Cell, Figures, Report

LICENCE = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
ATTRIBUTION = "Otklik statistics"
LEAD = ("scope", "key", "section", "row", "label", "month")
CSV_COLUMNS = (*LEAD, *COLUMNS, "suppressed", "licence")
# Which figure column holds a breakdown's or a bar's count.
BAR_COLUMN = {"week": "messages", "answer_days": "answered", "score": "ratings"}


def to_csv(report: Report) -> str:
    out = io.StringIO()
    write_csv(report, out)
    return out.getvalue()


def write_csv(report: Report, out, header: bool = True) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))


def csv_rows(report: Report) -> Iterator[list]:
    """The rows of ``report``'s CSV, without the header."""
    lead = (report.scope, report.key or "")
    yield _line(lead, "total", "", report.name, "", _cells(report.total))
    for row in report.months:
        yield _line(lead, "month", row.key, row.label, row.key, _cells(row.figures))
    for row in report.rows:
        yield _line(lead, "row", row.key, row.label, "", _cells(row.figures))
    for section, breakdowns in (("topic", report.topics), ("channel", report.channels)):
        for b in breakdowns:
            yield _line(lead, section, b.key, b.label, "", {"messages": b.total})
            for month, cell in zip(report.period.months, b.months, strict=True):
                yield _line(lead, section, b.key, b.label, month, {"messages": cell})
    for section, bars in _bar_sections(report):
        for bar in bars:
            yield _line(lead, section, bar.label, bar.label, "", {BAR_COLUMN[section]: bar.value})


def _bar_sections(report: Report) -> Iterable[tuple[str, tuple[Bar, ...]]]:
    return (("week", report.weeks), ("answer_days", report.answer_days), ("score", report.scores))


def _cells(figures: Figures) -> dict[str, Cell]:
    return {name: getattr(figures, name) for name in COLUMNS}


def _line(lead: tuple, section: str, key: str, label: str, month: str, cells: dict) -> list:
    values = [_value(cells.get(c)) for c in COLUMNS]
    hidden = " ".join(c for c in COLUMNS if c in cells and cells[c].suppressed)
    return [*lead, section, key, label, month, *values, hidden, LICENCE]


def _value(cell: Cell | None):
    return "" if cell is None or cell.value is None else cell.value


def write_national_csv(period, lang: str, out) -> None:
    """The open data of the whole instance over ``period``: the instance's report, then
    each region's with its agencies' rows, as their pages show them, one header."""
    from . import report, stored_regions

    write_csv(report("instance", None, period, lang), out)
    for region in sorted(stored_regions(), key=lambda code: (len(code), code)):
        write_csv(report("region", region, period, lang), out, header=False)


def to_json(report: Report) -> dict:
    def figures(f: Figures) -> dict:
        return {name: _cell(getattr(f, name)) for name in COLUMNS}

    def breakdown(b: Breakdown) -> dict:
        return {
            "key": b.key,
            "label": b.label,
            "total": _cell(b.total),
            "months": [_cell(c) for c in b.months],
        }

    def bars(items: tuple[Bar, ...]) -> list[dict]:
        return [{"label": b.label, **_cell(b.value)} for b in items]

    return {
        "licence": {"name": LICENCE, "url": LICENCE_URL, "attribution": ATTRIBUTION},
        "columns": list(COLUMNS),
        "scope": report.scope,
        "key": report.key,
        "name": report.name,
        "period": {"from": report.period.first, "to": report.period.last},
        "total": figures(report.total),
        "months": [{"month": r.key, **figures(r.figures)} for r in report.months],
        "rows": [{"key": r.key, "label": r.label, **figures(r.figures)} for r in report.rows],
        "topics": [breakdown(b) for b in report.topics],
        "channels": [breakdown(b) for b in report.channels],
        "weeks": bars(report.weeks),
        "answer_days": bars(report.answer_days),
        "scores": bars(report.scores),
    }


def _cell(cell: Cell) -> dict:
    return {"value": cell.value, "suppressed": cell.suppressed}
