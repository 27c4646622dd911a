"""An axe-core audit of a page and every frame in it, cross-origin ones included.

axe-core is injected into each frame; ``axe.runPartial`` runs in each, top frame first
and then depth first (the order ``axe.finishRun`` expects), and ``axe.finishRun`` puts
the results together once, in the top frame. This needs JavaScript on: with it off
axe's promises never settle. axe-core itself is the build that the
axe-playwright-python package ships (its own runner audits the top frame only).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

# WCAG 2.2 A and AA (DESIGN.md promise 7), and axe's best practices.
OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


@cache
def axe_source() -> str:
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def _partials(frame, context) -> list:
    frame.evaluate(axe_source())
    children = frame.evaluate("(ctx) => axe.utils.getFrameContexts(ctx)", context)
    results = [frame.evaluate("([ctx, opts]) => axe.runPartial(ctx, opts)", [context, OPTIONS])]
    for child in children:
        selector = child["frameSelector"]
        selector = selector[-1] if isinstance(selector, list) else selector
        element = frame.query_selector(selector)
        inner = element.content_frame() if element else None
        if inner is None:
            results.append(None)  # axe reports the frame as not tested
            continue
        results.extend(_partials(inner, child["frameContext"]))
    return results


def violations(page) -> list[str]:
    """Every violation as one readable line: rule, impact, help, where."""
    partials = _partials(page.main_frame, {"exclude": []})
    found = page.evaluate("([p, opts]) => axe.finishRun(p, opts)", [partials, OPTIONS])
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in found["violations"]
    ]
