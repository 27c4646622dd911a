"""The adversarial test of suppression (issue 20): a small agency, every figure that any
page or export of any scope publishes for every period, and an attacker who knows how
they add up. Each published figure is a linear equation over the unknown counts (per
agency, month and score; per agency, month and topic); a citizen's rating or topic is
given away exactly when the unknown behind it is a combination of those equations. We
check, by exact linear algebra, that it never is."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from widget import outbox, stats
from widget.outbox import counts, write_transaction
from widget.stats import exports
from widget.stats.report import Period

MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04")
SCORES = (1, 2, 3, 4, 5)
TOPICS = ("food", "lessons", "building")
# Ratings per agency and month, as scores: the school's March has one citizen's alone.
RATINGS = {
    "orel-school-57": {"2026-01": [5, 5, 4, 4, 3, 5], "2026-02": [4] * 6, "2026-03": [2],
                       "2026-04": [5, 4, 4, 3, 5, 5]},
    "orel-polyclinic-1": {m: [3, 4, 5, 5, 4] for m in MONTHS} | {"2026-03": [1, 5, 4]},
    "orel-city-admin": {m: [5, 4, 3, 2, 1, 5, 4] for m in MONTHS},
}  # fmt: skip
# Messages per agency, month and topic: the school's February has one on the building.
MESSAGES = {
    "orel-school-57": {m: {"food": 6, "lessons": 5} for m in MONTHS}
    | {"2026-02": {"food": 6, "building": 1}},
    "orel-polyclinic-1": {m: {"food": 7} for m in MONTHS},
    "orel-city-admin": {m: {"lessons": 9, "food": 2} for m in MONTHS},
}


def moment(month: str, day: int = 10) -> float:
    return datetime(*map(int, month.split("-")), day, 12, tzinfo=UTC).timestamp()


def fill(app) -> None:
    with app.app_context():
        db = outbox.get_db()
        with write_transaction(db):
            for agency_id, months in MESSAGES.items():
                for month, topics in months.items():
                    for topic, n in topics.items():
                        for i in range(n):
                            counts.message(
                                db, agency_id=agency_id, region="57", name=agency_id,
                                receipt=f"{agency_id}-{month}-{topic}-{i}", topic_id=topic,
                                channel="embed", received_at=moment(month, 1 + i),
                                answer_within_days=30,
                            )  # fmt: skip
            for agency_id, months in RATINGS.items():
                for month, scores in months.items():
                    for i, score in enumerate(scores):
                        counts.rating(
                            db, agency_id=agency_id, region="57", receipt=f"r-{month}-{i}",
                            score=score, solved="yes", at=moment(month, 1 + i),
                        )  # fmt: skip


def periods():
    for i in range(len(MONTHS)):
        for j in range(i, len(MONTHS)):
            yield Period(MONTHS[i], MONTHS[j])


def published(app) -> list:
    """Every report of every scope and period, as its JSON export holds it."""
    out = []
    with app.app_context():
        for period in periods():
            for scope, key in [("instance", None), ("region", "57")] + [
                ("agency", a) for a in MESSAGES
            ]:
                out.append(
                    (scope, key, period, exports.to_json(stats.report(scope, key, period, "ru")))
                )
    return out


def agencies_of(scope: str, key: str | None) -> list[str]:
    return [key] if scope == "agency" else list(MESSAGES)


def rating_equations(reports) -> list[dict]:
    """Each published ratings figure as {(agency, month, score): coefficient}."""
    rows = []

    def add(agency_ids, months, value_of):
        for field, coefficient in (("ratings", lambda s: 1), ("mean_score", lambda s: s)):
            if value_of(field)["value"] is not None:  # mean × count = the sum of scores
                rows.append(
                    {(a, m, s): coefficient(s) for a in agency_ids for m in months for s in SCORES}
                )

    for scope, key, period, data in reports:
        ids = agencies_of(scope, key)
        add(ids, period.months, lambda f, d=data: d["total"][f])
        for month in data["months"]:
            add(ids, [month["month"]], lambda f, m=month: m[f])
        for row in data["rows"]:
            if scope == "region":
                add([row["key"]], period.months, lambda f, r=row: r[f])
        for bar in data["scores"]:
            if bar["value"] is not None:
                s = int(bar["label"])
                rows.append({(a, m, s): 1 for a in ids for m in period.months})
    return rows


def topic_equations(reports) -> list[dict]:
    rows = []
    for scope, key, period, data in reports:
        ids = agencies_of(scope, key)
        everything = {(a, m, t): 1 for a in ids for m in period.months for t in TOPICS}
        if data["total"]["messages"]["value"] is not None:
            rows.append(everything)
        for month in data["months"]:
            if month["messages"]["value"] is not None:
                rows.append({(a, month["month"], t): 1 for a in ids for t in TOPICS})
        for topic in data["topics"]:
            t = topic["key"]
            if topic["total"]["value"] is not None:
                rows.append({(a, m, t): 1 for a in ids for m in period.months})
            for m, cell in zip(period.months, topic["months"], strict=True):
                if cell["value"] is not None:
                    rows.append({(a, m, t): 1 for a in ids})
    return rows


def rank(rows: list[dict], columns: list) -> int:
    matrix = [[Fraction(r.get(c, 0)) for c in columns] for r in rows]
    found, col = 0, 0
    while found < len(matrix) and col < len(columns):
        pivot = next((i for i in range(found, len(matrix)) if matrix[i][col]), None)
        if pivot is None:
            col += 1
            continue
        matrix[found], matrix[pivot] = matrix[pivot], matrix[found]
        for i in range(len(matrix)):
            if i != found and matrix[i][col]:
                factor = matrix[i][col] / matrix[found][col]
                matrix[i] = [a - factor * b for a, b in zip(matrix[i], matrix[found], strict=True)]
        found += 1
        col += 1
    return found


def derivable(rows: list[dict], target: dict) -> bool:
    columns = sorted({c for r in [*rows, target] for c in r})
    unique = [dict(t) for t in {tuple(sorted(r.items())) for r in rows}]
    return rank([*unique, target], columns) == rank(unique, columns)


def test_no_single_citizens_rating_or_topic_can_be_worked_out(app):
    fill(app)
    reports = published(app)
    # The figures are there to be used: the big agency's months and the region's are shown.
    city = next(
        d for s, k, p, d in reports if k == "orel-city-admin" and p == Period("2026-01", "2026-04")
    )
    assert city["total"]["mean_score"]["value"] is not None
    ratings = rating_equations(reports)
    # The school's March holds one rating: its score, as the sum of its month's scores.
    alone = {("orel-school-57", "2026-03", s): s for s in SCORES}
    assert not derivable(ratings, alone)
    # The polyclinic's March holds three: neither their sum nor any one's is given away.
    assert not derivable(ratings, {("orel-polyclinic-1", "2026-03", s): s for s in SCORES})
    # A sanity check of the attacker: a month shown is derivable.
    assert derivable(ratings, {("orel-city-admin", "2026-02", s): s for s in SCORES})
    topics = topic_equations(reports)
    assert not derivable(topics, {("orel-school-57", "2026-02", "building"): 1})
    assert derivable(topics, {("orel-polyclinic-1", "2026-02", "food"): 1})
