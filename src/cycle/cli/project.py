"""`cycle project init|test`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cycle.cli.style import CycleTyper, examples

app = CycleTyper(help="Create a project's .cycleswap/ and run the project locally.", no_args_is_help=True)


@app.command(epilog=examples(
    'cycle project init                 # the current folder, named after it',
    'cycle project init ~/code/mnist --name mnist',
))
def init(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="Project root to create .cycleswap/ in.")] = Path("."),
    name: Annotated[str | None, typer.Option(metavar="N", help="Project name (default: the folder's name).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite existing manifest.toml, run.sh and build.sh.")] = False,
) -> None:
    """Write .cycleswap/manifest.toml, run.sh and build.sh with the platform's defaults."""
    from cycle.api.manifest import default_scripts_notes, init_project

    for path in init_project(directory, name=name, force=force):
        typer.echo(f"wrote {path}")
    for note in default_scripts_notes(directory.resolve()):
        typer.echo(f"note: {note}", err=True)


@app.command(epilog=examples(
    'cycle project test                 # build (cached) and run, output here',
    'cycle project test --detach        # prints the job name; then cycle job tail NAME',
    'cycle project test --rebuild --cpu',
))
def test(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="Project root, or any folder inside it.")] = Path("."),
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Re-run build.sh on top of the previous build image, even on a cache hit.")] = False,
    clean: Annotated[bool, typer.Option(
        "--clean", help="Re-run build.sh from the base image, dropping earlier build layers.")] = False,
    skip_limits: Annotated[bool, typer.Option(
        "--skip-limits", help="Lift the platform's memory (90% of RAM) and process (4096) caps.")] = False,
    network: Annotated[str, typer.Option(
        help="Network for build.sh and the job: auto (the default, as on the platform: the engine's bridge, or the "
        "host's network where the engine has none), none (hermetic), host, or a Docker network name.")] = "auto",
    detach: Annotated[bool, typer.Option(
        "--detach", "-d", help="Print the job's name and return; the job runs on in a background agent.")] = False,
    cpu: Annotated[bool, typer.Option("--cpu", help="Run without a GPU even when [job] cuda asks for one.")] = False,
    mount_job: Annotated[list[str] | None, typer.Option(
        "--mount-job", metavar="JOB:/PATH",
        help="Mount an earlier job's artifacts read-only: JOB:/container/path, optionally ending in :ro "
        "(repeatable).")] = None,
) -> None:
    """Build the project's image (cached) and run .cycleswap/run.sh in it once, exactly as the platform would.

    Output shows live: the job's stdout on stdout, its stderr on stderr (a progress bar redrawn
    with \\r shows as it is drawn), system events on stderr marked [system]. Exits with the job's
    exit code (130 when cancelled with Ctrl-C here, 1 when cancelled elsewhere: `cycle job
    cancel`, a SIGTERM).
    """
    from cycle.api import TestOptions
    from cycle.cli.output import is_build_explanation, job_exit_code, live_sink
    from cycle.platform import open_platform

    check_rebuild_clean(rebuild, clean)
    mounts = parse_mounts(mount_job)
    platform = open_platform()
    options = TestOptions(rebuild, clean, skip_limits, network, cpu, mounts)
    if detach:
        job = platform.start_detached(directory, options)
        typer.echo(job.name)
        return
    # a failed build's explanation is printed once, as the closing paragraph (not live as well)
    job = platform.test_project(directory, options, live_sink(hold_back=is_build_explanation))
    summary = f"job {job.name}: {job.state.value}" + (f" ({job.reason})" if job.reason else "")
    typer.echo(summary, err=True)
    if job.reason == "BUILD_FAILED":
        _explain_build_failure(platform, job)
    if job.state.value != "FINISHED":
        raise typer.Exit(job_exit_code(job))


def _mount_spec(spec: str) -> tuple[str, str]:
    """(job, container path) from `--mount-job JOB:/container/path[:ro]`. Mounts are always
    read-only, so `:ro` is accepted and any other mode refused; the path itself is checked by the
    platform before the job starts."""
    from cycle.cli.output import fail

    job_name, sep, rest = spec.partition(":")
    path, colon, mode = rest.partition(":")
    example = "e.g. --mount-job prep-3:/data/preprocessed"
    if not sep or not job_name or not path or (colon and ":" in mode):
        fail(f"--mount-job {spec!r} must be JOB:/container/path (optionally ending in :ro), {example}.")
    if colon and mode == "rw":
        fail(f"--mount-job {spec!r}: an earlier job's artifacts are always mounted read-only; `:rw` is not offered. "
             f"Drop it ({job_name}:{path}) and write what the job makes to /artifacts.")
    if colon and mode != "ro":
        fail(f"--mount-job {spec!r} must be JOB:/container/path (optionally ending in :ro); mode {mode!r} is not "
             f"offered, {example}.")
    return job_name, path


def _explain_build_failure(platform, job) -> None:
    """Close with why the build failed and what to do (the diagnosis the agent logged), so the
    cause is the last thing on the screen rather than the build's last symptom."""
    from cycle.api import Stream
    from cycle.cli.output import build_explanation

    explanation = build_explanation(record.text for record in platform.logs(job.name, stream=Stream.SYSTEM))
    if explanation:
        typer.echo("\n" + "\n".join(explanation), err=True)


def check_rebuild_clean(rebuild: bool, clean: bool) -> None:
    """--rebuild and --clean (shared by `project test`, `project upload` and `drill`) exclude each other."""
    from cycle.cli.output import fail

    if rebuild and clean:
        fail("--rebuild and --clean exclude each other: --rebuild builds on the previous build image, "
             "--clean on the base image. Pass one.")


def parse_mounts(specs: list[str] | None) -> tuple[tuple[str, str], ...]:
    """--mount-job values (shared by `project test` and `drill`) as (job, container path) pairs."""
    return tuple(_mount_spec(spec) for spec in specs or [])


@app.command(epilog=examples('cycle project upload && cycle job queue'))
def upload(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="Project root, or any folder inside it.")] = Path("."),
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Re-run build.sh on top of the previous build image, even on a cache hit.")] = False,
    clean: Annotated[bool, typer.Option("--clean", help="Re-run build.sh from the base image.")] = False,
) -> None:
    """Upload the project as a new version (not .git, .cycleswap/jobs or what .cycleignore lists) and
    build its image with the same cache as `project test`. `cycle job queue` then runs it. An
    unchanged project keeps its latest version (no new one), as `cycle volume upload` does."""
    from rich.progress import BarColumn, DownloadColumn

    from cycle.api import TestOptions
    from cycle.cli.output import live_sink, progress_bar
    from cycle.platform import open_platform

    check_rebuild_clean(rebuild, clean)
    with progress_bar("[progress.description]{task.description}", BarColumn(), DownloadColumn()) as bar:
        task = bar.add_task("uploading the project", total=None)
        version, files, new_bytes, image, created = open_platform().upload_project(
            directory, TestOptions(rebuild=rebuild, clean=clean),
            progress=lambda done, total: bar.update(task, completed=done, total=total), sink=live_sink())
    if created:
        typer.echo(f"uploaded version {version}: {files} file(s), {new_bytes} new bytes stored; image {image}")
    else:
        stored = f"{new_bytes} bytes stored again (the store in use lacked them)" if new_bytes else "no bytes stored"
        typer.echo(f"project unchanged: still version {version} ({files} file(s), {stored}); image {image}")
