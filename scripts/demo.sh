#!/usr/bin/env bash
# The main job: set everything up, then run the Python trainer (fixtures/python-trainer: uv +
# numpy, the platform's default run.sh and build.sh) through the emulator as a reassignment drill:
# it is moved to another machine twice and must resume from its checkpoints.
# The first run builds its image (apt-get, uv, numpy: needs the package registries); later runs hit
# the build cache. Extra arguments go to `cycle drill` (e.g. --moves 3 --every 2, or --json report.json).
# The bash trainer of the repo's own project (`cycle project test .`) stays for fast tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/cycle drill fixtures/python-trainer --moves 2 --every 4 "$@"
