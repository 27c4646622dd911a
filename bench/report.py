"""Print every benchmark's rows as one table, and write them all to
bench/results/summary.json. `make bench` runs it after the benchmarks; it runs
no benchmark itself."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SUMMARY = "summary.json"
COLUMNS = ("benchmark", "figure", "value", "unit", "baseline", "ratio", "aim", "ok")


def load(folder: Path) -> list[dict]:
    reports = []
    for path in sorted(folder.glob("*.json")):
        if path.name == SUMMARY:
            continue
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            reports.append({"name": path.stem, "rows": [], "error": str(e)})
    return reports


def cell(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "NO"
    return str(value)


def table(reports: list[dict]) -> list[list[str]]:
    lines = []
    for report in reports:
        name = report.get("name", "?")
        if report.get("error"):
            lines.append([name, f"unreadable results: {report['error']}", "", "", "", "", "", ""])
        for row in report.get("rows", []):
            ok = row.get("ok") if row.get("aim") else None
            lines.append(
                [
                    name,
                    cell(row.get("figure")),
                    cell(row.get("value")),
                    cell(row.get("unit")),
                    cell(row.get("baseline")),
                    cell(row.get("ratio")),
                    cell(row.get("aim")),
                    cell(ok),
                ]
            )
    return lines


def render(lines: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [list(COLUMNS), *lines]) for i in range(len(COLUMNS))]
    out = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    return "\n".join(line.rstrip() for line in out)


def main() -> int:
    reports = load(RESULTS)
    if not reports:
        print(f"no results in {RESULTS}: run `make bench`", file=sys.stderr)
        return 1
    machines = {  # one line per machine (a benchmark may add details, e.g. load averages)
        f"Machine: {m.get('cores', '?')} cores, Python {m.get('python', '?')}, "
        f"load generator: {m.get('load_generator', '?')}. "
        f"Note: {m.get('note', 'the load generator shares the machine')}."
        for m in (r.get("machine", {}) for r in reports)
    }
    for line in sorted(machines):
        print(line)
    print(render(table(reports)))
    missed = [
        f"{r.get('name')}: {row.get('figure')}"
        for r in reports
        for row in r.get("rows", [])
        if row.get("aim") and row.get("ok") is False
    ]
    if missed:
        print(f"\nAims missed ({len(missed)}): " + "; ".join(missed))
    (RESULTS / SUMMARY).write_text(
        json.dumps({"reports": reports, "missed": missed}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"\nAll figures: {os.path.relpath(RESULTS / SUMMARY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
