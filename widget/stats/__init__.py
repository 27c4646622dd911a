"""Statistics: the figures behind the rating (issue 20).

- ``report``: what a page, an export and ``flask stats`` show (``Report``, ``Cell``…);
- ``exports``: a report as CSV and JSON (the open data's stable columns);
- ``regions``: the 85 subjects' codes and names;
- ``suppression``: which small figures are not published.

``report(scope, key, period, lang)`` builds a Report, in an app context, from the counts
kept in the outbox (``widget.outbox.counts``) as facts arrive; it never reads a message.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from flask_babel import force_locale, gettext

from .. import agencies, outbox
from ..outbox import counts as stored
from . import regions, suppression
from .report import COLUMNS, Bar, Breakdown, Cell, Figures, Period, Report, Row

__all__ = ["COLUMNS", "SCOPES", "Period", "Report", "init_app", "report"]

SCOPES = ("instance", "region", "agency")
# Answers by days taken, fastest first: (label, fewest days, most days or None).
ANSWER_DAYS = (("0", 0, 0), ("1–7", 1, 7), ("8–14", 8, 14), ("15–30", 15, 30), ("31+", 31, None))
SCORES = (1, 2, 3, 4, 5)
# Reports kept per worker (``report``): a region's is some 2 MB.
KEPT = "otklik.stats.reports"
REPORTS_KEPT = 16
# The counts that add up across months and rows (ratings are decided per month).
ADDITIVE = ("messages", "answered", "on_time", "votes")


@dataclass
class Raw:
    """The counts behind one line of figures, before anything is hidden."""

    counts: dict[str, int] = field(default_factory=Counter)  # a month's: a Counter
    # answers by whole days: days -> answers, or (an agency's row) as its rows list them
    days: Counter | str = field(default_factory=Counter)
    ratings_hidden: bool = False  # by the month rule (suppression)
    hidden: set = field(default_factory=set)  # counts hidden to protect a line

    def __getitem__(self, figure: str) -> int:
        return self.counts[figure]


def report(scope: str, key: str | None, period: Period, lang: str) -> Report:
    """The figures of the instance (``key`` None), a region (its code) or an agency (its
    id) over ``period``. LookupError for an unknown region or agency.

    A region's report (2,000 agencies) or the instance's is kept, per worker, while
    the counts it is made of stay the same (``counts.version``): made again only after
    a fact of the region (or, for the instance, of any region) has been counted."""
    if scope not in SCOPES:
        raise ValueError(f"scope: one of {', '.join(SCOPES)}")
    key = "" if scope == "instance" else key
    if scope == "agency":
        return _report(scope, key, period, lang)
    version = stored.version(outbox.get_db(), key or None)
    return current_app.extensions[KEPT](scope, key, period, lang, version)


def _report(scope: str, key: str, period: Period, lang: str, _version: int = 0) -> Report:
    """``report``, made now (``_version``: for the reports kept, made by it)."""
    db = outbox.get_db()
    with force_locale(lang):
        name = _name(db, scope, key)
        per_month = _by_month(stored.of_scope(db, scope, key, period.first, period.last))
        per_month = {m: per_month.get(m, Counter()) for m in period.months}
        inner = _inner(db, scope, key, period)
        hidden = _hidden_months(db, scope, key, period, per_month, inner)
        months = [_raw(per_month[m], m in hidden) for m in period.months]
        total = _raw(sum(per_month.values(), Counter()), bool(hidden))
        _protect_line(months)
        rows = _rows(db, scope, key, period, inner)
        _protect_line([r for _, _, r in rows])
        return Report(
            scope=scope,
            key=key or None,
            name=name,
            period=period,
            total=_figures(total),
            months=tuple(
                Row.of(m, m, _figures(r)) for m, r in zip(period.months, months, strict=True)
            ),
            rows=tuple(Row(k, label, functools.partial(_figures, r)) for k, label, r in rows),
            topics=_breakdowns(per_month, period, "topic:", _topic_labels(key, lang))
            if scope == "agency"
            else (),
            channels=_breakdowns(per_month, period, "channel:", _channel_labels()),
            weeks=_bars(_weeks(per_month, period)),
            answer_days=_bars(_answer_days(total.days)),
            scores=_bars(
                [(str(s), _scores(total.counts)[s]) for s in SCORES], every=total.ratings_hidden
            ),
        )


def _name(db, scope: str, key: str) -> str:
    if scope == "instance":
        return gettext("Все организации")
    if scope == "region":
        if key not in regions.REGIONS and not stored.region_counted(db, key):
            raise LookupError(f"no region {key!r}")
        return regions.label(key)
    try:
        return agencies.load(key).name
    except (agencies.AgencyNotFound, agencies.AgencyError):
        # Removed from the agency files since, or its file broken now: its figures stand.
        names = stored.agency_names(db, agency_id=key)
        if not names:
            raise LookupError(f"no agency {key!r}") from None
        return names[key]


def _by_month(rows) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for month, figure, n in rows:
        out[month][figure] += n
    return out


def _raw(counts: Counter, ratings_hidden: bool) -> Raw:
    """A line of figures from a scope's counts, its answers by days given as "days:<n>"."""
    days = Counter({int(f[5:]): n for f, n in counts.items() if f.startswith("days:")})
    return Raw(counts, days, ratings_hidden)


def _inner(db, scope: str, key: str, period: Period) -> dict[str, stored.Line]:
    """The counts of the rows of the page: the instance's regions, a region's agencies."""
    if scope == "agency":
        return {}
    return stored.of_rows(db, key if scope == "region" else None, period.first, period.last)


def _hidden_months(db, scope: str, key: str, period: Period, per_month, inner) -> set[str]:
    """The months whose ratings are not published (suppression: ratings across scopes)."""
    if scope == "agency":
        return {m for m, c in per_month.items() if suppression.small(c["ratings"])}
    small = stored.small(db, period.first, period.last)
    if scope == "region":
        return {
            m
            for m, c in per_month.items()
            if suppression.month_hidden(c["ratings"], small.get((key, m), 0))
        }
    below: Counter = Counter()  # the ratings of the regions hidden, per month
    for region, line in inner.items():
        for month, n in line.month_ratings.items():
            if suppression.month_hidden(n, small.get((region, month), 0)):
                below[month] += n
    return {m for m, c in per_month.items() if suppression.month_hidden(c["ratings"], below[m])}


def _rows(db, scope: str, key: str, period: Period, inner) -> list[tuple[str, str, Raw]]:
    """The instance's regions or a region's agencies, each with its period's figures."""
    if scope == "agency":
        return []
    small = stored.small(db, period.first, period.last) if scope == "instance" else {}
    # A row's ratings are hidden when any month of the period hides them: it had 1 to 4
    # (its fewest in a month tells), or, for a region, its agencies that had 1 to 4
    # that month had 1 to 4 between them.
    raws = {
        row_key: Raw(
            line.counts,
            line.days,
            suppression.small(line.fewest_ratings)
            or any(suppression.small(small.get((row_key, m), 0)) for m in line.month_ratings),
        )
        for row_key, line in inner.items()
    }
    if scope == "instance":
        labels = {k: regions.label(k) for k in raws}
    else:
        labels = stored.agency_names(db, region=key)
    return [(k, labels.get(k, k), raws[k]) for k in sorted(raws, key=_row_order)]


def _row_order(key: str) -> tuple[int, str]:
    return (len(key), key)  # region codes as numbers: "2" < "10"


def _protect_line(parts: list[Raw]) -> None:
    """Hide more of the ``parts`` of a line that adds up, where a hidden one could be
    worked out (suppression.line), count by count."""
    for figure in ADDITIVE:
        for part, hide in zip(parts, suppression.line([p[figure] for p in parts]), strict=True):
            if hide:
                part.hidden.add(figure)


def _scores(c: Counter) -> Counter:
    """Ratings by score, from the "score:<s>:<solved>" counts."""
    out = Counter()
    for figure, n in c.items():
        if figure.startswith("score:"):
            out[int(figure.split(":")[1])] += n
    return out


def _figures(raw: Raw) -> Figures:
    """A line's figures as published: what is over too few, or hidden to protect its
    line, suppressed, and what is computed over a suppressed count too. (A region's
    page makes 2,000 of these: nothing is computed that would not be shown.)"""
    c, hidden = raw.counts, raw.hidden
    answered, ratings = c["answered"], c["ratings"]
    answers_shown = not ("answered" in hidden or suppression.small(answered))
    ratings_shown = not (raw.ratings_hidden or "ratings" in hidden or suppression.small(ratings))
    median, p90 = (None, None)
    if answers_shown and answered:
        median, p90 = _percentiles(raw.days, (0.5, 0.9))
    mean_score = solved_share = None
    if ratings_shown and ratings:
        mean_score = round(c["score_sum"] / ratings, 2)
        solved_share = round(c["solved"] / ratings, 3)
    return Figures(
        messages=suppression.count(c["messages"], "messages" in hidden),
        answered=suppression.count(answered, not answers_shown),
        on_time=suppression.count(c["on_time"], not answers_shown or "on_time" in hidden),
        median_days=suppression.cell(median, not answers_shown),
        p90_days=suppression.cell(p90, not answers_shown),
        ratings=suppression.count(ratings, not ratings_shown),
        mean_score=suppression.cell(mean_score, not ratings_shown),
        solved_share=suppression.cell(solved_share, not ratings_shown),
        # Polls are public, held by the agency: how many took votes gives no one away.
        polls=Cell(sum(1 for f, n in c.items() if f.startswith("poll:") and n > 0)),
        votes=suppression.count(c["votes"], "votes" in hidden),
    )


def _percentiles(days: str | Counter, qs: tuple[float, ...]) -> list[int]:
    """Nearest-rank percentiles of answers by whole days (as an agency's rows list them,
    or a histogram): for each ``q``, the fewest days with at least ``q`` of the answers
    taking as many or fewer."""
    if isinstance(days, str):
        each = stored.each_answer(days)
        return [each[math.ceil(q * len(each)) - 1] for q in qs]
    total = sum(days.values())
    ranks = [math.ceil(q * total) for q in qs]
    found, seen = [], 0
    for value, n in sorted(days.items()):
        seen += n
        while len(found) < len(ranks) and seen >= ranks[len(found)]:
            found.append(value)
    return found


def _topic_labels(key: str, lang: str) -> dict[str, str]:
    try:
        agency = agencies.load(key)
    except (agencies.AgencyNotFound, agencies.AgencyError):
        return {}  # removed since, or broken: its topics by id
    return {t.id: t.title_in(lang) for t in agency.topics}


def _channel_labels() -> dict[str, str]:
    return {
        "embed": gettext("Форма на сайте организации"),
        "page": gettext("Страница формы"),
        "open311": gettext("Open311"),
    }


def _breakdowns(
    per_month: dict[str, Counter], period: Period, prefix: str, labels: dict[str, str]
) -> tuple[Breakdown, ...]:
    """Messages per topic or channel: each month's line (its parts add up to the month's
    messages) protected, and a total only when none of its months is hidden."""
    keys = sorted({f[len(prefix) :] for c in per_month.values() for f in c if f.startswith(prefix)})
    grid = [[per_month[m][prefix + k] for m in period.months] for k in keys]
    hidden = [[False] * len(period.months) for _ in keys]
    for j in range(len(period.months)):
        for i, hide in enumerate(suppression.line([row[j] for row in grid])):
            hidden[i][j] = hide
    return tuple(
        Breakdown(
            k,
            labels.get(k, k),
            suppression.count(sum(grid[i]), any(hidden[i])),
            tuple(suppression.count(n, h) for n, h in zip(grid[i], hidden[i], strict=True)),
        )
        for i, k in enumerate(keys)
    )


def _weeks(per_month: dict[str, Counter], period: Period) -> list[tuple[str, int]]:
    """Messages per ISO week, counting the days of the period only."""
    weeks: Counter = Counter()
    day = date.fromisoformat(period.first + "-01")
    y, m = map(int, period.last.split("-"))
    end = date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)
    while day <= end:
        iso = day.isocalendar()
        weeks[f"{iso.year}-W{iso.week:02d}"] += per_month[day.strftime("%Y-%m")][
            f"day:{day.day:02d}"
        ]
        day += timedelta(days=1)
    return sorted(weeks.items())


def _answer_days(days: Counter) -> list[tuple[str, int]]:
    return [
        (label, sum(n for d, n in days.items() if low <= d and (high is None or d <= high)))
        for label, low, high in ANSWER_DAYS
    ]


def _bars(bars: list[tuple[str, int]], every: bool = False) -> tuple[Bar, ...]:
    """A chart's bars, which add up to a total: protected as a line; ``every``: all
    hidden (the ratings of a month of the period are)."""
    hidden = suppression.line([n for _, n in bars])
    return tuple(
        Bar(label, suppression.count(n, every or h))
        for (label, n), h in zip(bars, hidden, strict=True)
    )


def stored_regions() -> list[str]:
    return stored.regions(outbox.get_db())


def init_app(app) -> None:
    app.extensions["otklik.stats"] = {"instance_id": app.config.get("INSTANCE_ID", "")}
    app.extensions[KEPT] = functools.lru_cache(REPORTS_KEPT)(_report)
