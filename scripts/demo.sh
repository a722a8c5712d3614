#!/usr/bin/env bash
# The main job: set everything up, then run the repo's demo project through the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/cycle project test . "$@"
