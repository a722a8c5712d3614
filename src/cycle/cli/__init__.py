"""The `cycle` command line. Heavy modules (docker-py, the emulator) are imported inside
commands, so `cycle --help` starts fast."""

from __future__ import annotations

import sys

import typer

from cycle.cli import emulator as emulator_cli
from cycle.cli import job as job_cli
from cycle.cli import project as project_cli
from cycle.errors import CycleError

app = typer.Typer(
    name="cycle",
    help="Run Cycleswap GPU jobs locally exactly as the platform would, and browse their logs and artifacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(project_cli.app, name="project")
app.add_typer(job_cli.app, name="job")
app.add_typer(emulator_cli.app, name="emulator")


def main() -> None:
    """Entry point: a CycleError becomes one paragraph on stderr and its exit code."""
    try:
        app()
    except CycleError as error:
        print(f"error: {error.message}", file=sys.stderr)
        sys.exit(error.exit_code)
