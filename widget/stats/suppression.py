"""Which figures are not published: the one place that decides.

A count of 1 to 4 (messages, ratings, votes…) is suppressed ("<5", null in exports),
and so is every figure computed over a suppressed count (a median over 3 answers, the
mean of 2 ratings). That alone would not do: published figures add up, so a hidden one
could be worked out from the others. Hence also:

- **Lines that add up** (the months to the period's total, a region's agencies to the
  region's total, the regions to the instance's, the topics and channels of a month to
  its messages, the weeks, the answer-time and score bars to their totals): when the
  hidden parts of a line would add up to 1 to 4 (given the whole and the parts shown),
  the smallest parts shown are hidden too, until the hidden ones add up to 5 or more.
- **Ratings and topics, whatever the period asked for.** A period's total could be
  subtracted from another period's (January–December minus January–November is
  December). So ratings (count, mean score, share solved, the score bars) and topics
  are decided per month, the same for every page and period: a month is hidden when it
  has 1 to 4; a period's total is published only when none of its months is hidden.
- **Ratings across scopes.** A region's month is hidden when its agencies with 1 to 4
  ratings that month had 1 to 4 between them (``stats_small``; else the region's month
  minus its other agencies' would give such an agency's away); the instance's month when
  the regions hidden that month had 1 to 4 between them.

What stays possible, and is not personal: the number of messages of a small agency in a
month can sometimes be worked out from a region's figures (a count, not anyone's topic
or rating).
"""

from __future__ import annotations

from collections.abc import Sequence

from .report import SMALLEST_SHOWN, Cell


def small(n: int) -> bool:
    return 0 < n < SMALLEST_SHOWN


def cell(value: int | float | None, hidden: bool) -> Cell:
    return Cell(None, True) if hidden else Cell(value)


def count(n: int, hidden: bool = False) -> Cell:
    return cell(n, hidden or small(n))


def line(parts: Sequence[int], hidden: Sequence[bool] = ()) -> list[bool]:
    """Which parts of a line that adds up to a published whole to hide: those with 1 to
    4, those ``hidden`` already, then the smallest others until the hidden ones add up
    to 0 or to 5 and more."""
    out = [small(n) or (i < len(hidden) and hidden[i]) for i, n in enumerate(parts)]
    while 0 < sum(n for n, h in zip(parts, out, strict=True) if h) < SMALLEST_SHOWN:
        shown = [(n, i) for i, (n, h) in enumerate(zip(parts, out, strict=True)) if n and not h]
        if not shown:
            break  # the whole is itself under 5, and hidden
        out[min(shown)[1]] = True
    return out


def month_hidden(n: int, others_small: int = 0) -> bool:
    """Whether a month's ratings are hidden: 1 to 4 of them, or the ratings of the
    parts below (agencies, regions) hidden that month add up to 1 to 4."""
    return small(n) or small(others_small)
