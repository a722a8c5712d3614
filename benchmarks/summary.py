"""The one summary table benchmarks/run.sh ends with (the README's Benchmarks table is its output).

Each bench_*.py calls `record(...)` for every figure besides printing it; `record` appends one JSON
line to the file named by $CYCLE_BENCH_RESULTS (nothing when unset, so a benchmark run on its own
just prints). `python benchmarks/summary.py FILE` prints the rows as a Markdown table.

    {"figure": ..., "baseline": "0.21 s", "measured": "0.52 s", "value": 2.49, "goal": "<= 1.5", "met": false}
"""

from __future__ import annotations

import json
import operator
import os
import sys

RESULTS_ENV = "CYCLE_BENCH_RESULTS"
COMPARE = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


def record(figure: str, baseline: str, measured: str, value: float, goal: str) -> bool:
    """Append one row; `value` (a ratio, or a figure in the goal's unit) is checked against `goal`,
    e.g. "<= 1.5" or "< 200 ms" (the first word is the comparison, the second the bound)."""
    comparison, bound = goal.split()[:2]
    met = COMPARE[comparison](value, float(bound))
    path = os.environ.get(RESULTS_ENV)
    if path:
        row = {"figure": figure, "baseline": baseline, "measured": measured, "value": value, "goal": goal, "met": met}
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
    return met


def shown(value: float) -> str:
    """Three significant figures, never in exponent form (1317, not 1.32e+03)."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(rows: list[dict]) -> str:
    lines = ["| figure | baseline | measured | ratio or value | goal | met |", "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        cells = (row["figure"], row["baseline"], row["measured"], shown(row["value"]), row["goal"],
                 "yes" if row["met"] else "NO")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(path: str) -> None:
    """One row per figure: a figure recorded twice (bench_tui.py's navigation part records again
    when it runs after the rest) keeps its place and shows its last measurement."""
    latest: dict[str, dict] = {}
    with open(path, encoding="utf-8") as rows:
        for line in rows:
            if line.strip():
                row = json.loads(line)
                latest[row["figure"]] = row
    print(table(list(latest.values())))


if __name__ == "__main__":
    main(sys.argv[1])
