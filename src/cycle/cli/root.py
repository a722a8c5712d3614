"""The `cycle` command group (typer). Heavy modules (the engine client, the emulator, rich) are imported
inside commands, so `cycle --help` and the read-only commands start fast (tests/unit/test_imports.py);
`cycle.cli.main()` imports this module only when its fast path (cycle/cli/fast.py) does not apply."""

from __future__ import annotations

import functools
import importlib

import typer

from cycle.cli import drill as drill_cli
from cycle.cli.fast import INTERRUPTED, quiet_closed_stdout
from cycle.cli.style import CycleTyper, complete_job_names, examples
from cycle.errors import CycleError

# The command groups, by module. Each is imported and turned into click commands only when it is
# invoked (or `cycle --help` lists it): typer otherwise inspects the signature of every command
# of every group at each start, ~0.1 s before `cycle job list` reads anything (issue 14).
GROUPS = {"project": "cycle.cli.project", "job": "cycle.cli.job", "volume": "cycle.cli.volume",
          "emulator": "cycle.cli.emulator"}


@functools.cache
def command_group(name: str) -> typer.core.TyperGroup:
    """The click group of `cycle <name> ...`, built from its module's Typer app on first use."""
    sub_app = importlib.import_module(GROUPS[name]).app
    sub_app.rich_markup_mode = None  # plain help and errors, like the top level
    group = typer.main.get_group(sub_app)
    group.name = name
    return group


class CycleGroup(typer.core.TyperGroup):
    """Turns a CycleError raised by any command into one paragraph on stderr and its exit code, and
    Ctrl-C into exit 130 without a traceback (click would say "Aborted!" and exit 1), a closed
    pipe on stdout into a quiet exit 0 (click would exit 1); builds a
    command group only when it is asked for (GROUPS)."""

    def list_commands(self, ctx) -> list[str]:
        return [*GROUPS, *super().list_commands(ctx)]

    def get_command(self, ctx, name: str):
        if name in GROUPS:
            return command_group(name)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CycleError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("", err=True)
            raise typer.Exit(INTERRUPTED) from None
        except BrokenPipeError:
            quiet_closed_stdout()
            raise typer.Exit(0) from None


app = CycleTyper(
    cls=CycleGroup,
    name="cycle",
    help="Run Cycleswap GPU jobs locally exactly as the platform would, and browse their logs and artifacts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help and usage errors: rich's formatting costs ~0.3 s of imports at every `--help`
    # and bad flag (issue 14); rich is still used where it draws something (pull's progress bar)
    rich_markup_mode=None,
)
app.command("drill", epilog=examples(
    "cycle drill . --moves 2 --every 20 --timeout 1800 --json drill-report.json",
    "cycle drill . --at 5,12 --strict --progress-glob 'ckpt/*.pt'",
))(drill_cli.drill)


@app.command()
def tui(
    job: str = typer.Argument(None, metavar="[JOB]", help="Open this job at once (Escape then lists the jobs).",
                              autocompletion=complete_job_names, show_default=False),
) -> None:
    """Browse jobs, their interleaved logs and their artifacts in the terminal (q quits, ? shows keys)."""
    from cycle.platform import reading_platform
    from cycle.tui.app import CycleApp

    platform = reading_platform()
    if job is not None:
        platform.job(job)  # an unknown job is one paragraph and exit 2 before the app takes the terminal
    _refuse_without_a_terminal()
    CycleApp(platform, job=job).run()


def _refuse_without_a_terminal() -> None:
    """The TUI reads keys from stdin and draws for the terminal on stdout: with either one a pipe or
    a file (`cycle tui | cat`, a script) it would wait for keys no one can press, so say so at once."""
    import sys

    from cycle.cli.output import fail

    not_terminals = [name for name, stream in (("input", sys.stdin), ("output", sys.stdout))
                     if stream is None or not stream.isatty()]
    if not_terminals:
        are = "are pipes or files" if len(not_terminals) > 1 else "is a pipe or a file"
        which = f"{' and '.join(not_terminals)} {are}"
        fail(f"`cycle tui` needs a terminal, but its {which}. "
             "Run it directly in a terminal, without `|`, `<` or `>`; for text a script can read, use "
             "`cycle job list`, `cycle job status JOB` or `cycle job logs JOB`.")


def run() -> None:
    """The typer app on sys.argv."""
    # named, so completion (_CYCLE_COMPLETE) works however it is started (python -m, an entry point)
    app(prog_name="cycle")
