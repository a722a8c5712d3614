#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its figures and ratios against a baseline
# measured in the same run, and records them; the run ends with ONE summary table of them all
# (benchmarks/summary.py), the table the README's Benchmarks section shows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# bytecode as an installed package has it (PYTHONDONTWRITEBYTECODE would make every start compile the changed modules)
.venv/bin/python -m compileall -q src emulator > /dev/null
export CYCLE_BENCH_RESULTS
CYCLE_BENCH_RESULTS="$(mktemp -t cycle-bench-XXXXXX.jsonl)"
for bench in benchmarks/bench_*.py; do
    echo "== $bench"
    .venv/bin/python "$bench" "$@" || echo "!! $bench failed (exit $?): its rows are missing below"
done
echo
echo "== summary (every figure against its baseline, measured in this run)"
.venv/bin/python benchmarks/summary.py "$CYCLE_BENCH_RESULTS"
