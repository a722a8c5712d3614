#!/usr/bin/env bash
# The tests: set everything up (dependencies, Docker engine, base image), check style and types, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# ruff on the whole tree (line length 120, pyproject.toml), mypy strict on the contract and the rules;
# the import contracts (lint-imports) run inside the unit tier, tests/unit/test_imports.py.
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
