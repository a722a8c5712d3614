#!/usr/bin/env bash
# The tests: set everything up (dependencies, Docker engine, base image), then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
