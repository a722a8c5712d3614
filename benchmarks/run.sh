#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its figures and ratios against a baseline
# measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for bench in benchmarks/bench_*.py; do
    echo "== $bench"
    .venv/bin/python "$bench" "$@"
done
