"""`cycle job list|status|logs`: read what the emulator recorded."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated

import typer

app = typer.Typer(help="Inspect jobs: list them, see one's state, read its log.", no_args_is_help=True)


def _iso(ns: int | None) -> str | None:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds") if ns else None


def job_dict(job) -> dict:
    return {
        "id": job.id, "name": job.name, "project": job.project, "state": job.state.value, "reason": job.reason,
        "machine": job.machine, "image": job.image, "exit_code": job.exit_code,
        "created": _iso(job.created_ns), "started": _iso(job.started_ns), "finished": _iso(job.finished_ns),
        "upload_queue": job.queue_len, "upload_queue_warning": job.queue_warning,
    }


@app.command("list")
def list_jobs(
    state: Annotated[str | None, typer.Option(help="Only jobs in this state: PENDING, RUNNING, FINISHED, FAILED, CANCELLED.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many jobs.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (newest first).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List jobs, newest first."""
    from cycle.cli.output import fail
    from cycle.platform import open_platform
    from emulator.models import JobState

    wanted = None
    if state is not None:
        try:
            wanted = JobState(state.upper())
        except ValueError:
            fail(f"--state {state!r} is not a job state. Use one of: {', '.join(s.value for s in JobState)}.")
    jobs = open_platform().jobs(wanted, limit, offset)
    if as_json:
        typer.echo(json.dumps([job_dict(j) for j in jobs], indent=2))
        return
    if not jobs:
        typer.echo("no jobs yet: run `cycle project test` in a project")
        return
    for job in jobs:
        typer.echo(f"{job.name:30} {job.state.value:10} {job.reason or '':18} {_iso(job.created_ns)}")


@app.command()
def status(
    name: Annotated[str, typer.Argument(help="Job name, e.g. my-experiment-3.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show one job's state, reason, machine and times."""
    from cycle.platform import open_platform

    from emulator.models import QUEUE_WARNING_TEXT

    info = job_dict(open_platform().job(name))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        typer.echo(f"{key:20} {value if value is not None else '-'}")
    if info["upload_queue_warning"]:
        typer.secho(QUEUE_WARNING_TEXT, fg="yellow", err=True)


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Job name, e.g. my-experiment-3.")],
    stream: Annotated[str | None, typer.Option(help="Only one stream: stdout, stderr or system.")] = None,
) -> None:
    """Print a job's log: stdout, stderr and system events interleaved by timestamp."""
    from cycle.cli.output import fail
    from cycle.platform import open_platform
    from emulator.models import Stream

    chosen = None
    if stream is not None:
        try:
            chosen = Stream(stream.lower())
        except ValueError:
            fail(f"--stream {stream!r} is not a log stream. Use stdout, stderr or system.")
    for record in open_platform().logs(name, chosen):
        typer.echo(f"{_iso(record.ts_ns)} {record.stream.value:6} {record.text}")
