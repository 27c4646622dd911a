"""Statistics: the figures behind the rating (issue 20).

- ``report``: what a page, an export and ``flask stats`` show (``Report``, ``Cell``…);
- ``exports``: a report as CSV and JSON (the open data's stable columns);
- ``regions``: the 85 subjects' codes and names;
- ``suppression``: which small figures are not published.

``report(scope, key, period, lang)`` builds a Report, in an app context, from the counts
kept in the outbox (table ``stats_counts``) as facts arrive; it never reads a message.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, timedelta

from flask import current_app
from flask_babel import force_locale, gettext

from .. import agencies, outbox
from . import regions, suppression
from .report import COLUMNS, Bar, Breakdown, Cell, Figures, Period, Report, Row

__all__ = ["COLUMNS", "SCOPES", "Period", "Report", "init_app", "report"]

SCOPES = ("instance", "region", "agency")
# Answers by days taken, fastest first: (label, fewest days, most days or None).
ANSWER_DAYS = (("0", 0, 0), ("1–7", 1, 7), ("8–14", 8, 14), ("15–30", 15, 30), ("31+", 31, None))
SCORES = (1, 2, 3, 4, 5)

Counts = dict[str, Counter]  # month -> figure -> count


def report(scope: str, key: str | None, period: Period, lang: str) -> Report:
    """The figures of the instance (``key`` None), a region (its code) or an agency (its
    id) over ``period``. LookupError for an unknown region or agency."""
    if scope not in SCOPES:
        raise ValueError(f"scope: one of {', '.join(SCOPES)}")
    db = outbox.get_db()
    key = "" if scope == "instance" else key
    with force_locale(lang):
        name = _name(db, scope, key, lang)
        counts = _counts(db, scope, key, period)
        months = tuple(Row(m, m, _figures(counts.get(m, Counter()))) for m in period.months)
        whole = sum(counts.values(), Counter())
        return Report(
            scope=scope,
            key=key or None,
            name=name,
            period=period,
            total=_figures(whole),
            months=months,
            rows=_rows(db, scope, key, period),
            topics=_breakdowns(counts, period, "topic:", _topic_labels(scope, key, lang))
            if scope == "agency"
            else (),
            channels=_breakdowns(counts, period, "channel:", _channel_labels()),
            weeks=_weeks(counts, period),
            answer_days=_answer_days(whole),
            scores=tuple(Bar(str(s), suppression.count(_scores(whole)[s])) for s in SCORES),
        )


def _name(db, scope: str, key: str, lang: str) -> str:
    if scope == "instance":
        return gettext("Все организации")
    if scope == "region":
        known = db.execute(
            "SELECT 1 FROM stats_counts WHERE scope = 'region' AND key = ? LIMIT 1", [key]
        ).fetchone()
        if key not in regions.REGIONS and not known:
            raise LookupError(f"no region {key!r}")
        return regions.label(key)
    try:
        return agencies.load(key).name
    except agencies.AgencyNotFound:
        row = db.execute("SELECT name FROM stats_agencies WHERE agency_id = ?", [key]).fetchone()
        if row is None:
            raise LookupError(f"no agency {key!r}") from None
        return row[0]  # counted, and since removed from the agency files


def _counts(db, scope: str, key: str, period: Period) -> Counts:
    counts: Counts = defaultdict(Counter)
    for month, figure, n in db.execute(
        "SELECT month, figure, sum(count) FROM stats_counts"
        " WHERE scope = ? AND key = ? AND month BETWEEN ? AND ? GROUP BY month, figure",
        [scope, key, period.first, period.last],
    ):
        counts[month][figure] = n
    return counts


def _scores(c: Counter) -> Counter:
    """Ratings by score, from the "score:<s>:<solved>" counts."""
    out = Counter()
    for figure, n in c.items():
        if figure.startswith("score:"):
            out[int(figure.split(":")[1])] += n
    return out


def _figures(c: Counter) -> Figures:
    messages, answered = c["messages"], c["answered"]
    days = sorted((int(f[5:]), n) for f, n in c.items() if f.startswith("days:") and n)
    scores = _scores(c)
    ratings = sum(scores.values())
    solved = sum(n for f, n in c.items() if f.startswith("score:") and f.endswith(":yes"))
    polls = sum(1 for f, n in c.items() if f.startswith("poll:") and n > 0)
    return Figures(
        messages=suppression.count(messages),
        answered=suppression.count(answered),
        on_time=suppression.count(c["on_time"]),
        median_days=suppression.over(answered, _percentile(days, 0.5)),
        p90_days=suppression.over(answered, _percentile(days, 0.9)),
        ratings=suppression.count(ratings),
        mean_score=suppression.over(
            ratings, round(sum(s * n for s, n in scores.items()) / ratings, 2) if ratings else None
        ),
        solved_share=suppression.over(ratings, round(solved / ratings, 3) if ratings else None),
        polls=Cell(polls),  # a poll is public: how many were held reveals no one
        votes=suppression.count(c["votes"]),
    )


def _percentile(histogram: list[tuple[int, int]], q: float) -> int | None:
    """The nearest-rank percentile of a histogram of whole days: the smallest value with
    at least ``q`` of the answers at or below it."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    rank, seen = math.ceil(q * total), 0
    for value, n in histogram:
        seen += n
        if seen >= rank:
            return value
    return histogram[-1][0]


def _rows(db, scope: str, key: str, period: Period) -> tuple[Row, ...]:
    if scope == "agency":
        return ()
    inner = "region" if scope == "instance" else "agency"
    where = "" if scope == "instance" else " AND region = ?"
    found: dict[str, Counter] = defaultdict(Counter)
    for row_key, figure, n in db.execute(
        "SELECT key, figure, sum(count) FROM stats_counts"
        f" WHERE scope = ?{where} AND month BETWEEN ? AND ?"
        " AND substr(figure, 1, 4) NOT IN ('topi', 'chan', 'day:') GROUP BY key, figure",
        [inner, *([key] if where else []), period.first, period.last],
    ):
        found[row_key][figure] = n
    if inner == "region":
        labels = {k: regions.label(k) for k in found}
    else:
        labels = dict(
            db.execute(
                "SELECT agency_id, name FROM stats_agencies WHERE region = ?", [key]
            ).fetchall()
        )
    return tuple(
        Row(k, labels.get(k, k), _figures(found[k])) for k in sorted(found, key=_row_order)
    )


def _row_order(key: str) -> tuple[int, str]:
    return (len(key), key)  # region codes as numbers: "2" < "10"


def _topic_labels(scope: str, key: str, lang: str) -> dict[str, str]:
    try:
        agency = agencies.load(key)
    except agencies.AgencyError:
        return {}
    return {t.id: t.title_in(lang) for t in agency.topics}


def _channel_labels() -> dict[str, str]:
    return {
        "embed": gettext("Форма на сайте организации"),
        "page": gettext("Страница формы"),
        "open311": gettext("Open311"),
    }


def _breakdowns(
    counts: Counts, period: Period, prefix: str, labels: dict[str, str]
) -> tuple[Breakdown, ...]:
    keys = sorted({f[len(prefix) :] for c in counts.values() for f in c if f.startswith(prefix)})
    out = []
    for k in keys:
        per_month = [counts.get(m, Counter())[prefix + k] for m in period.months]
        out.append(
            Breakdown(
                k,
                labels.get(k, k),
                suppression.count(sum(per_month)),
                tuple(suppression.count(n) for n in per_month),
            )
        )
    return tuple(out)


def _weeks(counts: Counts, period: Period) -> tuple[Bar, ...]:
    """Messages per ISO week, for the weeks that start or end in the period."""
    weeks: Counter = Counter()
    first = date.fromisoformat(period.first + "-01")
    y, m = map(int, period.last.split("-"))
    end = date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)
    day = first
    while day <= end:
        n = counts.get(day.strftime("%Y-%m"), Counter())[f"day:{day.day:02d}"]
        iso = day.isocalendar()
        weeks[f"{iso.year}-W{iso.week:02d}"] += n
        day += timedelta(days=1)
    return tuple(Bar(w, suppression.count(n)) for w, n in sorted(weeks.items()))


def _answer_days(c: Counter) -> tuple[Bar, ...]:
    bars = []
    for label, low, high in ANSWER_DAYS:
        n = sum(
            count
            for f, count in c.items()
            if f.startswith("days:") and low <= int(f[5:]) and (high is None or int(f[5:]) <= high)
        )
        bars.append(Bar(label, suppression.count(n)))
    return tuple(bars)


def init_app(app) -> None:
    app.extensions["otklik.stats"] = {"instance_id": app.config.get("INSTANCE_ID", "")}


def current():
    return current_app.extensions["otklik.stats"]
