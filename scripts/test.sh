#!/usr/bin/env bash
# The tests: set everything up (dependencies, Docker engine, base image), check style and types, then run pytest.
# Any pytest arguments pass through. Unless they name test paths, the two tiers run one after the other
# with them: the fast tier in parallel (pytest-xdist, one worker per core), then the integration tier
# serially (its Docker engine and S3 server fixtures are per session). A tier whose tests the arguments
# deselect all (pytest's exit code 5, e.g. `-m unit`) counts as passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# ruff on the whole tree (line length 120, pyproject.toml), mypy strict on the contract and the rules;
# the import contracts (lint-imports) run inside the unit tier, tests/unit/test_imports.py.
.venv/bin/ruff check .
.venv/bin/mypy
for arg in "$@"; do
    if [[ "$arg" == *::* || ( "$arg" != -* && -e "${arg%%::*}" ) ]]; then
        exec .venv/bin/python -m pytest "$@"  # the caller chose the tests
    fi
done
tier() {
    local status=0
    .venv/bin/python -m pytest "$@" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 5 ] || return "$status"
}
tier tests/unit -n auto "$@"
tier tests/integration "$@"
