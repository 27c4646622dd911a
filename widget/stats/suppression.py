"""Small numbers are not published: the one place that decides which figures are.

Primary: a count of 1 to 4 (messages, ratings, votes), and any figure computed over
such a count (a median over 3 answers, a mean over 2 ratings), is suppressed.
"""

from __future__ import annotations

from .report import SMALLEST_SHOWN, Cell


def small(n: int) -> bool:
    return 0 < n < SMALLEST_SHOWN


def count(n: int) -> Cell:
    return Cell(None, True) if small(n) else Cell(n)


def over(base: int, value: int | float | None) -> Cell:
    """A figure computed over ``base`` messages or ratings: suppressed with its base, and
    nothing (None) when there is nothing to compute it over."""
    if small(base):
        return Cell(None, True)
    return Cell(None if base == 0 else value)
