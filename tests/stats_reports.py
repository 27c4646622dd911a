"""Reports built by hand, for testing how the pages show figures whatever the counting
gives: suppressed cells, figures with nothing to stand on, labels that need escaping."""

from __future__ import annotations

from widget.stats.report import COLUMNS, Bar, Breakdown, Cell, Figures, Period, Report, Row

PERIOD = Period("2026-01", "2026-03")
HIDDEN = Cell(None, suppressed=True)
NONE = Cell(None)


def figures(n: int, **cells: Cell) -> Figures:
    """Figures of ``n`` messages, half answered; ``cells`` override any."""
    answered = n // 2
    values = {
        "messages": Cell(n),
        "answered": Cell(answered),
        "on_time": Cell(answered // 2),
        "median_days": Cell(3.5) if answered else NONE,
        "p90_days": Cell(12) if answered else NONE,
        "ratings": Cell(answered),
        "mean_score": Cell(4.25) if answered else NONE,
        "solved_share": Cell(0.6) if answered else NONE,
        "polls": Cell(1),
        "votes": Cell(30),
    }
    values.update(cells)
    return Figures(**{c: values[c] for c in COLUMNS})


def report(scope: str = "region", key: str | None = "57", rows=None, weeks=13) -> Report:
    rows = (
        rows
        if rows is not None
        else (
            Row.of("orel-a", "Школа <№1> & «Сад»", figures(40)),
            Row.of("orel-b", "Поликлиника", figures(120)),
            Row.of("orel-c", "Библиотека", figures(3, **{c: HIDDEN for c in COLUMNS})),
        )
    )
    months = tuple(Row.of(m, m, figures(50 + i)) for i, m in enumerate(PERIOD.months))
    return Report(
        scope=scope,
        key=key,
        name="Орловская область" if scope == "region" else "Отклик",
        period=PERIOD,
        total=figures(163),
        months=months,
        rows=tuple(rows),
        topics=(
            Breakdown("roads", "Дороги", Cell(100), (Cell(40), Cell(60), Cell(0))),
            Breakdown("other", "Другое <b>", HIDDEN, (HIDDEN, Cell(0), Cell(0))),
        ),
        channels=(Breakdown("embed", "На сайте", Cell(163), (Cell(50), Cell(51), Cell(62))),),
        weeks=tuple(
            Bar(f"2026-W{i:02d}", HIDDEN if i == 3 else Cell(10 + i)) for i in range(1, weeks + 1)
        ),
        answer_days=(Bar("0–1", Cell(20)), Bar("2–7", Cell(40)), Bar("8–14", HIDDEN)),
        scores=tuple(Bar(str(s), HIDDEN if s == 2 else Cell(s * 7)) for s in range(1, 6)),
    )
