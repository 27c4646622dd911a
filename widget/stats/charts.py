"""The statistics pages' charts and the text of their figures: plain functions returning
Markup, drawn by the server as inline SVG (no script; no ``style`` attribute, which the
CSP's ``style-src 'self'`` forbids: colours come from classes in static/otklik.css).

Each chart is a picture for the eye (``role="img"``, named by its ``<title>``); the page
gives the same figures as a table beside it. A suppressed value (1 to 4) is drawn as no
bar with a visible "<5" over its place, never as a bar of its true height.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from babel.numbers import get_decimal_symbol, get_group_symbol
from markupsafe import Markup, escape

from .report import Bar, Cell

SUPPRESSED = "<5"
NOTHING = "—"  # a figure with nothing to stand on: the median of no answers
# How each column's values read; the others are counts.
KINDS = {"median_days": "days", "p90_days": "days", "mean_score": "score", "solved_share": "share"}

# The drawing's own units; the SVG scales to the width the page gives it.
WIDTH, HEIGHT = 480, 200  # narrow: labels stay legible on a 320 px phone
SIDE, TOP, BOTTOM = 8, 22, 26  # room for the scale's top value and the bars' labels
FONT = 15  # the labels' size in drawing units; a label's width is about 0.6 of it a letter
ROOM_FOR_VALUES = 28  # a bar's slot at least this wide shows its value above it


def figure(cell: Cell, column: str, locale: str) -> str:
    """A figure as a page shows it: "<5" when suppressed, "—" when there is none, else
    the number in the page's language (1 234; 2,5 days; 4,3 of 5; 87 %).

    Python's own formatting with the locale's symbols (from Babel, once per locale), not
    Babel's format_decimal per figure: a region's table has 19,000 of them, and Babel's
    took 360 ms of such a page's 600."""
    if cell.suppressed:
        return SUPPRESSED
    if cell.value is None:
        return NOTHING
    kind = KINDS.get(column)
    if kind == "share":
        return f"{cell.value * 100:.0f}\u00a0%"
    if kind == "score":
        text = f"{cell.value:.1f}"
    elif kind == "days":
        text = f"{cell.value:,.1f}".removesuffix(".0")
    else:
        text = f"{cell.value:,.0f}"
    return text.translate(_symbols(locale))


@functools.cache
def _symbols(locale: str) -> dict[int, str]:
    """Python's "," and "." as the locale writes them: 1 234,5 in Russian."""
    return str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})


def bar_chart(chart_id: str, title: str, summary: str, bars: Sequence[Bar], locale: str) -> Markup:
    """Bars of counts, one per ``Bar``, left to right, with the scale's top value; each
    bar's value above it when there is room, every "<5" always. ``chart_id`` must be
    unique on the page: the title's and the summary's ids are made from it."""
    shown = [b.value.value for b in bars if not b.value.suppressed and b.value.value]
    top = max(shown, default=0)
    slot = (WIDTH - 2 * SIDE) / max(len(bars), 1)
    plot = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" font-size="{FONT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
    ]
    if top:
        parts.append(
            f'<line class="chart__grid" x1="{SIDE}" y1="{TOP}" x2="{WIDTH - SIDE}" y2="{TOP}"/>'
            f'<text class="chart__scale" x="{SIDE}" y="{TOP - 6}">'
            f"{escape(figure(Cell(top), 'messages', locale))}</text>"
        )
    every = _label_every(bars, slot)
    for i, bar in enumerate(bars):
        middle = SIDE + (i + 0.5) * slot
        cell = bar.value
        if cell.suppressed:
            parts.append(_text("chart__suppressed", middle, TOP + plot - 4, SUPPRESSED, slot))
        elif cell.value:
            height = plot * cell.value / top
            y = TOP + plot - height
            parts.append(
                f'<rect class="chart__bar" x="{_n(middle - 0.35 * slot)}" y="{_n(y)}" '
                f'width="{_n(0.7 * slot)}" height="{_n(height)}"/>'
            )
            if slot >= ROOM_FOR_VALUES:
                value = figure(cell, "messages", locale)
                parts.append(_text("chart__value", middle, max(y - 4, FONT), value, slot))
        if i % every == 0:
            parts.append(_text("chart__label", middle, HEIGHT - 8, bar.label, slot * every))
    parts.append(
        f'<line class="chart__axis" x1="{SIDE}" y1="{TOP + plot}" '
        f'x2="{WIDTH - SIDE}" y2="{TOP + plot}"/></svg>'
    )
    return Markup("".join(parts))


def _label_every(bars: Sequence[Bar], slot: float) -> int:
    """Label every n-th bar, so that labels never overlap (52 weeks: about every 10th),
    even the first, which is moved right to stay inside the drawing: half a label more."""
    longest = max((len(b.label) for b in bars), default=1)
    return max(1, math.ceil((1.5 * longest * 0.6 * FONT + 6) / slot))


def _text(kind: str, x: float, y: float, words: str, room: float) -> str:
    """A centred label, in a smaller font where its slot is narrow (a "<5" of 53 weeks)."""
    size = min(FONT, max(7, room / max(len(words), 2) / 0.6))
    small = f' font-size="{round(size, 1):g}"' if size < FONT else ""
    half = len(words) * 0.3 * size  # kept inside the drawing: the first week's label
    x = min(max(x, half), WIDTH - half)
    return (
        f'<text class="{kind}" x="{_n(x)}" y="{_n(y)}" text-anchor="middle"{small}>'
        f"{escape(words)}</text>"
    )


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
