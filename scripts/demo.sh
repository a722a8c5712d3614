#!/usr/bin/env bash
# The main job: set everything up, then run the repo's demo project through the emulator as a
# reassignment drill: the checkpointing trainer is moved to another machine twice and must resume.
# Extra arguments go to `cycle drill` (e.g. --moves 3 --every 2, or --json report.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/cycle drill . --moves 2 --every 3 "$@"
