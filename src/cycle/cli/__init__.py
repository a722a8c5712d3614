"""The `cycle` command line. Heavy modules (docker-py, the emulator, rich) are imported inside
commands, so `cycle --help` and the read-only commands start fast (tests/unit/test_imports.py)."""

from __future__ import annotations

import typer

from cycle.cli import drill as drill_cli
from cycle.cli import emulator as emulator_cli
from cycle.cli import job as job_cli
from cycle.cli import project as project_cli
from cycle.cli import volume as volume_cli
from cycle.errors import CycleError


class CycleGroup(typer.core.TyperGroup):
    """Turns a CycleError raised by any command into one paragraph on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CycleError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=CycleGroup,
    name="cycle",
    help="Run Cycleswap GPU jobs locally exactly as the platform would, and browse their logs and artifacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help and usage errors: rich's formatting costs ~0.3 s of imports at every `--help`
    # and bad flag (issue 14); rich is still used where it draws something (pull's progress bar)
    rich_markup_mode=None,
)
app.add_typer(project_cli.app, name="project")
app.add_typer(job_cli.app, name="job")
app.add_typer(volume_cli.app, name="volume")
app.add_typer(emulator_cli.app, name="emulator")
app.command("drill")(drill_cli.drill)


@app.command()
def tui() -> None:
    """Browse jobs, their interleaved logs and their artifacts in the terminal (q quits, ? shows keys)."""
    from cycle.platform import open_platform
    from cycle.tui.app import CycleApp

    CycleApp(open_platform()).run()


def main() -> None:
    app()
