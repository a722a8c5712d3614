"""How every `cycle` command's help reads, in one place: plain text (no Rich markup, which ate
`[system]` and `[job]` from help texts), metavars in capitals as gh and docker write them
(`cycle job logs [OPTIONS] JOB`, `-n, --tail N`), and the job-name argument with its completion.

Every sub-app is a CycleTyper, so every command gets this; tests/unit/test_cli_help.py checks that
no help shows typer's default metavars (`TEXT`, `<int range>`, `{name}`)."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

WHOLE = 1_000_000  # a short help's length limit no sentence reaches


class _WholeSummary:
    """A command's line in its group's listing: its help's first sentence whole, wrapped by the
    listing, never cut with "..." (`Show one job's state, reason, machine, times, duration, the...`)."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit=WHOLE)  # type: ignore[misc]


class CycleCommand(_WholeSummary, TyperCommand):
    """A command whose parameters show capital metavars: an explicit one (`JOB`, `N`, `PATH`), or
    else argparse's default, the parameter's name in capitals (`DIRECTORY`, `--network NETWORK`),
    never typer's `<int range>`; and whose usage line names required arguments `JOB`, not `{JOB}`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None and not getattr(param, "is_flag", False) and param.name:
                param.metavar = param.name.upper()

    def collect_usage_pieces(self, ctx):
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]


class WholeSummaryGroup(_WholeSummary, TyperGroup):
    """A group of commands (`cycle job`) whose line in `cycle --help` is whole too."""


class CycleTyper(typer.Typer):
    """typer.Typer with plain help and CycleCommand for every command."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("cls", WholeSummaryGroup)
        super().__init__(**kwargs)

    def command(self, *args, cls=CycleCommand, **kwargs):
        return super().command(*args, cls=cls, **kwargs)


def examples(*commands: str) -> str:
    """A command's help epilog: example command lines, shown as written (click's \\b keeps them
    from being rewrapped into one paragraph)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {command}" for command in commands)


def complete_job_names(incomplete: str) -> list[str]:
    """Job names starting with what was typed, newest first, for shell completion. Never raises:
    a completion that fails prints a traceback into the user's prompt, so with no emulator home
    yet (or any other problem) it offers nothing."""
    try:
        from cycle.platform import existing_platform

        platform = existing_platform()
        if platform is None:
            return []
        return [job.name for job in platform.jobs(None, 1000, 0) if job.name.startswith(incomplete)]
    except Exception:
        return []


JobArg = Annotated[str, typer.Argument(
    metavar="JOB", help="Job name, e.g. my-experiment-3.", autocompletion=complete_job_names, show_default=False)]
"""The JOB argument of every `cycle job` command."""



MAX_COUNT = 2**62
"""A count past any store's size: a larger one (`--limit 99999999999999999999`) means "all" and is
read as this, since sqlite's integers end at 2**63."""


def whole_number(option: str, minimum: int):
    """A typer `parser` for a count option (lines, jobs) of at least `minimum`: says in plain words
    what the option takes, where click's IntRange says "'abc' is not a valid int range" or "0 is
    not in the range x>=1"."""

    def parse(value) -> int:
        from cycle.cli.fast import plain_digits

        number = int(value) if plain_digits(str(value)) else None
        if number is None or number < minimum:
            example = f"{option.split('/')[-1]} 10"
            raise typer.BadParameter(f"{option} takes a whole number, {minimum} or more (e.g. {example}); "
                                     f"{str(value)!r} is not one.")
        return min(number, MAX_COUNT)

    parse.__name__ = "N"
    return parse
