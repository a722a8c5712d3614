"""The `cycle` command line. Heavy modules (docker-py, the emulator) are imported inside
commands, so `cycle --help` starts fast."""

from __future__ import annotations

import typer

from cycle.cli import drill as drill_cli
from cycle.cli import emulator as emulator_cli
from cycle.cli import job as job_cli
from cycle.cli import project as project_cli
from cycle.cli import volume as volume_cli
from cycle.cli.style import CycleTyper
from cycle.errors import CycleError

INTERRUPTED = 130
"""Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""


class CycleGroup(typer.core.TyperGroup):
    """Turns a CycleError raised by any command into one paragraph on stderr and its exit code, and
    Ctrl-C into exit 130 without a traceback (click would say "Aborted!" and exit 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CycleError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("", err=True)
            raise typer.Exit(INTERRUPTED) from None


app = CycleTyper(
    cls=CycleGroup,
    name="cycle",
    help="Run Cycleswap GPU jobs locally exactly as the platform would, and browse their logs and artifacts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(project_cli.app, name="project")
app.add_typer(job_cli.app, name="job")
app.add_typer(volume_cli.app, name="volume")
app.add_typer(emulator_cli.app, name="emulator")
app.command("drill")(drill_cli.drill)


@app.command()
def tui(
    job: str = typer.Argument(None, metavar="[JOB]", help="Open this job at once (Escape then lists the jobs)."),
) -> None:
    """Browse jobs, their interleaved logs and their artifacts in the terminal (q quits, ? shows keys)."""
    from cycle.platform import open_platform
    from cycle.tui.app import CycleApp

    platform = open_platform()
    if job is not None:
        platform.job(job)  # an unknown job is one paragraph and exit 2 before the app takes the terminal
    CycleApp(platform, job=job).run()


def main() -> None:
    # named, so completion (_CYCLE_COMPLETE) works however it is started (python -m, an entry point)
    app(prog_name="cycle")
