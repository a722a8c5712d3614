"""The `cycle` command line: `main()` is the entry point (pyproject.toml [project.scripts]).

The typer app (cycle/cli/root.py) costs ~60 ms of imports before any command runs, so `main()`
first offers the command line to the fast path (cycle/cli/fast.py, `cycle job logs JOB --tail N`
without typer) and imports the app only when that does not take it. `from cycle.cli import app`
still gives the typer app (imported on first use)."""

from __future__ import annotations

import sys


def main() -> None:
    from cycle.cli.fast import fast_job_logs

    if fast_job_logs(sys.argv[1:]):
        return
    from cycle.cli.root import run

    run()


def __getattr__(name: str):
    """`cycle.cli.app`: the typer app (tests drive it with click's CliRunner), imported on first use."""
    if name == "app":
        from cycle.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
