"""What a statistics page, its exports and ``flask stats`` show: one scope (the instance,
a region or an agency) over a period of whole months. Built by ``widget.stats`` from the
counts kept as facts arrive; read by the pages, the CSV and JSON exports and the CLI,
which never count anything themselves.

Every number is a ``Cell``: a figure over 1 to 4 messages (or ratings, or votes) is
``suppressed`` (shown "<5", exported as null with ``"suppressed": true``), so that no
citizen of a small agency can be picked out; a figure with nothing to stand on (the
median of no answers) is ``None`` without being suppressed.

A suppressed figure is not always under 5 itself: widget.stats.suppression also hides
figures from which a small one could be worked out (a region's month whose small
agencies would show by subtraction, a period's total of ratings when one of its months
is hidden). A page may say "<5 or hidden" beside its tables (docs/statistics.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from typing import NamedTuple

# Below this many messages (but not zero) a figure is not published.
SMALLEST_SHOWN = 5
# The longest period a page or export covers, in months: ten years of monthly rows.
LONGEST_PERIOD = 120
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DIGITS = re.compile(r"(\d+)")


class Cell(NamedTuple):
    """A figure, or None when there is none to give; ``suppressed``: not published.
    (A tuple: a region's page makes 20,000 of them.)"""

    value: int | float | None
    suppressed: bool = False


@dataclass(frozen=True)
class Figures:
    """The figures of one scope over one month or a whole period. The column order of
    the exports is this order (``COLUMNS``): append, never reorder (open data)."""

    messages: Cell  # messages received
    answered: Cell  # of them, answered (a first "answered" update)
    on_time: Cell  # of them, answered by the answer-by date in force then
    median_days: Cell  # days from received to the first answer
    p90_days: Cell  # 90th percentile of the same
    ratings: Cell  # ratings of answers
    mean_score: Cell  # their mean score, 1 to 5
    solved_share: Cell  # the share (0 to 1) of ratings saying the question was solved
    polls: Cell  # polls open at some time in the period
    votes: Cell  # votes cast in them


COLUMNS = tuple(f.name for f in fields(Figures))


@dataclass(eq=False)
class Row:
    """A line of a table: a month ("2026-03"), a region's code, an agency's id.

    Its figures are worked out when first read, then kept with the report: a region's
    page shows a hundred of its 2,000 agencies at a time (all of them only when sorted
    by a figure), its exports read them all. ``Row.of`` makes one of figures at hand."""

    key: str
    label: str
    work_out: Callable[[], Figures] = field(repr=False)

    @functools.cached_property
    def figures(self) -> Figures:
        return self.work_out()

    @classmethod
    def of(cls, key: str, label: str, figures: Figures) -> Row:
        return cls(key, label, lambda: figures)


@dataclass(frozen=True)
class Breakdown:
    """Messages of one topic or one channel: in all, and per month of the period."""

    key: str
    label: str
    total: Cell
    months: tuple[Cell, ...]  # aligned with Period.months


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label ("2026-W14", "8–14", "5") and its value."""

    label: str
    value: Cell


@dataclass(frozen=True)
class Period:
    """Whole months, ``first`` to ``last`` inclusive, as "YYYY-MM"."""

    first: str
    last: str

    @property
    def months(self) -> tuple[str, ...]:
        y, m = map(int, self.first.split("-"))
        out = []
        while f"{y:04d}-{m:02d}" <= self.last:
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return tuple(out)

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: date) -> Period:
        """The period a query asks for (``?from=2026-01&to=2026-12``); by default the
        twelve months up to today's. ValueError, in plain words, for a bad one."""
        this_month = f"{today.year:04d}-{today.month:02d}"
        last = last or this_month
        if first is None:
            y, m = map(int, _month(last, "to").split("-"))
            y, m = (y - 1, m + 1) if m < 12 else (y, 1)
            first = f"{y:04d}-{m:02d}"
        period = cls(_month(first, "from"), _month(last, "to"))
        if period.first > period.last:
            raise ValueError("from: the period starts after it ends")
        if len(period.months) > LONGEST_PERIOD:
            raise ValueError(f"the period is longer than {LONGEST_PERIOD} months")
        return period


def _month(value: str, name: str) -> str:
    if not MONTH.match(value):
        raise ValueError(f"{name}: a month as YYYY-MM, such as 2026-01")
    return value


@dataclass(frozen=True)
class Report:
    """One page's figures. ``scope``: "instance", "region" or "agency"; ``key``: the
    region's code or the agency's id (None for the instance)."""

    scope: str
    key: str | None
    name: str
    period: Period
    total: Figures
    months: tuple[Row, ...]  # one per month of the period, in order
    rows: tuple[Row, ...]  # the instance: its regions; a region: its agencies; else ()
    topics: tuple[Breakdown, ...]  # an agency: messages per topic; else ()
    channels: tuple[Breakdown, ...]  # messages per channel (embed, page, open311, …)
    weeks: tuple[Bar, ...]  # messages per ISO week of the period
    answer_days: tuple[Bar, ...]  # answers by days taken: buckets, fastest first
    scores: tuple[Bar, ...]  # ratings by score, 1 to 5

    @functools.cached_property
    def rows_by_name(self) -> list[Row]:
        """The rows in the order people read names: «Школа № 8» before «Школа № 80», case
        aside. Worked out once for a report a worker keeps (2,000 names to split)."""
        return sorted(self.rows, key=lambda row: name_order(row.label))


def name_order(label: str) -> list:
    """A name's sort key: its runs of digits as numbers, the rest without case."""
    return [int(part) if part.isdigit() else part.casefold() for part in DIGITS.split(label)]
