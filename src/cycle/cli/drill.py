"""`cycle drill`: a reassignment drill for CI."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def drill(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="Project root, or any folder inside it.")] = Path("."),
    moves: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="How many times to move the job (default 3; with --at, as many as it lists).")] = None,
    every: Annotated[float | None, typer.Option(
        min=0.5, metavar="SECONDS", help="Move every this many seconds after the job starts (not with --at or "
        "--seed).")] = None,
    at: Annotated[str | None, typer.Option(
        metavar="T1,T2,…",
        help="Move at these seconds after the start, e.g. 5,12,20 (not with --every or --seed).")] = None,
    seed: Annotated[int | None, typer.Option(
        metavar="N", help="Seed for random move times (2-6 s apart; not with --every or --at).")] = None,
    timeout: Annotated[float, typer.Option(
        min=1, metavar="SECONDS",
        help="Fail (and cancel the job) when it has not ended after this many seconds.")] = 600.0,
    progress_glob: Annotated[list[str] | None, typer.Option(
        "--progress-glob", metavar="GLOB",
        help="Files that hold progress (repeatable; default: checkpoint patterns).")] = None,
    grace: Annotated[float | None, typer.Option(
        min=0, metavar="SECONDS", help="SIGTERM and wait this long before each kill (default: kill at once).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict",
        help="Fail on warnings too: half a checkpoint restored, a one-file checkpoint it cannot judge.")] = False,
    json_out: Annotated[str | None, typer.Option(
        "--json", metavar="FILE", help="Write the report as JSON to this file ('-' for stdout).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="As `cycle project test --rebuild`.")] = False,
    clean: Annotated[bool, typer.Option("--clean", help="As `cycle project test --clean`.")] = False,
    skip_limits: Annotated[bool, typer.Option("--skip-limits", help="As `cycle project test --skip-limits`.")] = False,
    network: Annotated[str, typer.Option(
        help="Network for build.sh and the job, as `cycle project test --network`: auto "
        "(default: the engine's bridge, else the host's network), none, host, or a Docker network name.")] = "auto",
    cpu: Annotated[bool, typer.Option("--cpu", help="As `cycle project test --cpu`.")] = False,
    mount_job: Annotated[list[str] | None, typer.Option(
        "--mount-job", metavar="JOB:/PATH",
        help="Mount an earlier job's artifacts read-only: JOB:/container/path (repeatable).")] = None,
) -> None:
    """Run the project through the emulator, move it between machines, and judge whether it resumed.

    Verdict PASS (exit 0) when the job FINISHED after every planned move without restarting from
    scratch; FAIL (exit 1) when it failed, timed out, ended before the moves, or after a move
    rewrote a checkpoint that had been restored to it (it started over instead of resuming). A
    move that restored one file of a checkpoint and lost another in the upload queue (half a
    checkpoint), or a job keeping its checkpoint in one file it overwrote with new bytes (which
    resuming and starting over both do), is a warning; with --strict it fails the drill too.
    Ctrl-C (exit 130) or a
    SIGTERM (exit 1) cancels the job and ends the drill with no verdict.
    """
    from cycle.api import DEFAULT_PROGRESS_GLOBS, DrillOptions, TestOptions
    from cycle.cli.project import check_rebuild_clean, parse_mounts
    from cycle.platform import open_platform

    times = _move_times(moves, every, at, seed)
    globs = _progress_globs(progress_glob) or DEFAULT_PROGRESS_GLOBS
    check_rebuild_clean(rebuild, clean)
    plan = DrillOptions(moves=moves or len(times) or 3, every=every, at=times, seed=seed, timeout=timeout,
                        grace=grace, strict=strict, progress_globs=globs)
    options = TestOptions(rebuild=rebuild, clean=clean, skip_limits=skip_limits, network=network, cpu=cpu,
                          mounts=parse_mounts(mount_job))
    report = open_platform().drill(directory, plan, lambda text: typer.echo(text, err=True), options)
    if json_out == "-":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        typer.echo(report.text())
        if json_out:
            Path(json_out).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    raise typer.Exit(0 if report.verdict == "PASS" else 1)


def _move_times(moves: int | None, every: float | None, at: str | None, seed: int | None) -> tuple[float, ...]:
    """The --at times, after refusing flags that exclude each other: --every, --at and --seed are
    three ways of choosing the times (README: `[--every S | --at T1,T2 | --seed N]`), and the one
    not used was silently ignored (`--every 3 --at 4` moved at 4 s only). --moves with --at must
    agree with the count it lists."""
    from cycle.cli.output import fail

    given = [flag for flag, value in (("--every", every), ("--at", at), ("--seed", seed)) if value is not None]
    if len(given) > 1:
        both = f"{', '.join(given[:-1])} and {given[-1]}"
        fail(f"{both} cannot be given together: each chooses the move times (--every S: every S "
             "seconds for --moves N, --at T1,T2: at these seconds, --seed N: random times 2-6 s apart, the same "
             f"for the same N). Keep one of {', '.join(given)}.")
    if at is None:
        return ()
    try:
        times = tuple(float(t) for t in at.split(",") if t.strip())
    except ValueError:
        fail(f"--at {at!r} must be seconds separated by commas, e.g. --at 5,12,20.")
    if not times or any(t <= 0 for t in times):
        fail(f"--at {at!r} must list positive seconds, e.g. --at 5,12,20.")
    if moves is not None and moves != len(times):
        fail(f"--moves {moves} and --at {at!r} disagree: --at lists {len(times)} time(s), one move at each. Drop "
             "--moves, or list as many times as moves.")
    return times


def _progress_globs(globs: list[str] | None) -> tuple[str, ...]:
    """The --progress-glob values; an empty one (`--progress-glob ''`) matches no file, so a drill
    ran to its end and could only FAIL ("no move restored a checkpoint"): refused before it starts."""
    from cycle.cli.output import fail

    for glob in globs or []:
        if not glob.strip():
            fail(f"--progress-glob {glob!r} is empty: it matches no file, so the drill could not tell whether the "
                 "job resumed. Name the files that hold progress, e.g. --progress-glob 'checkpoints/*' or "
                 "--progress-glob '*.pt', or leave it out for the default checkpoint patterns.")
    return tuple(globs or ())
