"""`cycle job list|status|logs`: read what the emulator recorded."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from cycle.api.wording import listed, lost_named, machine_shown, older_restored
from cycle.cli.style import CycleTyper, JobArg, examples, whole_number
from cycle.logline import moment, ns_of

app = CycleTyper(help="Jobs: list them, see one's state, read or follow its log (logs, tail), download its "
                      "artifacts (pull); queue an uploaded project, cancel, reassign to another machine, archive.",
                 no_args_is_help=True)


def _iso(ns: int | None) -> str | None:
    return moment(ns).isoformat(timespec="milliseconds") if ns else None


def job_dict(job) -> dict:
    return {
        "id": job.id, "name": job.name, "project": job.project, "state": job.state.value, "reason": job.reason,
        "machine": job.machine, "image": job.image, "exit_code": job.exit_code,
        "created": _iso(job.created_ns), "started": _iso(job.started_ns), "finished": _iso(job.finished_ns),
        "upload_queue": job.queue_len, "upload_queue_warning": job.queue_warning, "archived": job.archived,
    }


@app.command("list", epilog=examples('cycle job list --limit 5', "cycle job list --json | jq '.[0].name'"))
def list_jobs(
    state: Annotated[str | None, typer.Option(
        metavar="STATE", help="Only jobs in this state: PENDING, RUNNING, FINISHED, FAILED, CANCELLED.")] = None,
    limit: Annotated[int, typer.Option(
        parser=whole_number("--limit", 1), metavar="N", help="At most this many jobs.")] = 50,
    offset: Annotated[int, typer.Option(
        parser=whole_number("--offset", 0), metavar="K", help="Skip this many (newest first).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List jobs, newest first.

    A header row, then one job a line; when more jobs match than are shown, "showing 50 of 53" goes
    to stderr (stdout keeps only the table). --json prints the listed jobs."""
    from cycle.api import JobState
    from cycle.cli.output import fail, table_lines
    from cycle.platform import reading_platform

    wanted = None
    if state is not None:
        try:
            wanted = JobState(state.upper())
        except ValueError:
            fail(f"--state {state!r} is not a job state. Use one of: {', '.join(s.value for s in JobState)}.")
    platform = reading_platform()
    jobs = platform.jobs(wanted, limit, offset)
    if as_json:
        typer.echo(json.dumps(_list_json(platform, jobs), indent=2))
        return
    if not jobs:
        typer.echo("no jobs yet: run `cycle project test` in a project" if wanted is None and offset == 0
                   else "no jobs match")
        return
    for line in table_lines([LIST_HEADER, *(_list_row(job) for job in jobs)]):
        typer.echo(line)
    total = platform.count_jobs(wanted)
    if offset or len(jobs) < total:
        typer.echo(f"showing {_shown_range(offset, len(jobs))} of {total}; --limit N and --offset K show others",
                   err=True)


def _list_json(platform, jobs) -> list[dict]:
    """Each listed job as `job status --json` names it, with its stored artifacts (count and bytes)
    counted for all of them in one query, so a script needs no `job status` per job."""
    import time

    stored = platform.stored_artifacts_of(jobs) if jobs else {}  # no jobs: nothing to open (the home stays untouched)
    now = time.time_ns()
    return [{**job_dict(job), **_duration_dict(job, now), **_stored_dict(stored[job.name])} for job in jobs]


def _duration_dict(job, now_ns: int) -> dict:
    """`duration_seconds` of `job status --json` and `job list --json`: the run's seconds so far
    (to its end once it ended), None before it started."""
    seconds = job.run_seconds(now_ns)
    return {"duration_seconds": None if seconds is None else round(seconds, 3)}


def _stored_dict(stored) -> dict:
    """The artifact fields of `job status --json` and `job list --json`: the same names in both."""
    return {"artifacts_stored": stored.files, "artifacts_bytes": stored.bytes}


LIST_HEADER = ("NAME", "STATE", "REASON", "CREATED")


def _list_row(job) -> tuple[str, str, str, str]:
    return job.name, job.state.value, job.reason or "", _iso(job.created_ns) or ""


def _shown_range(offset: int, count: int) -> str:
    """"50" for the first 50 jobs, "51-53" for a later page."""
    return str(count) if offset == 0 else f"{offset + 1}-{offset + count}"


@app.command(epilog=examples('cycle job status mnist-3 --json'))
def status(
    name: JobArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show one job's state, reason, machine, times, duration, the artifacts stored so far and
    whether it is archived."""
    import time

    from cycle.api import QUEUE_WARNING_TEXT
    from cycle.platform import reading_platform
    from cycle.sizes import human_size

    platform = reading_platform()
    job = platform.job(name)
    now = time.time_ns()
    seconds = job.run_seconds(now)
    stored = platform.stored_artifacts(job.name)  # two numbers, counted by the platform
    moves = platform.moves(job.name)
    info = {**job_dict(job), **_duration_dict(job, now), **_stored_dict(stored),
            "moves": [move_dict(move) for move in moves]}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    hidden = ("duration_seconds", "artifacts_stored", "artifacts_bytes", "moves")
    text = {**info, "machine": machine_shown(job.state, job.machine), "archived": "yes" if job.archived else "no",
            "upload_queue_warning": "yes" if job.queue_warning else "no",
            "duration": _duration_text(job, seconds),
            "artifacts": f"{stored.files} stored, {human_size(stored.bytes)}"}
    for key, value in text.items():
        if key not in hidden:
            typer.echo(f"{key:20} {value if value is not None else '-'}")
    typer.echo(f"{'moves':20} {len(moves)}")
    for number, move in enumerate(moves, start=1):
        typer.echo(f"{'  move ' + str(number):20} {_move_text(move)}")
    if info["upload_queue_warning"]:
        typer.secho(QUEUE_WARNING_TEXT, fg="yellow", err=True)


def move_dict(move) -> dict:
    """One reassignment in `job status --json`, with the names `cycle drill --json` gives it."""
    return {"from": move.from_machine, "to": move.to_machine, "trigger": move.trigger, "at": _iso(move.ts_ns),
            "restarted": _iso(move.restarted_ns), "files_uploaded": move.uploaded, "files_lost": move.lost,
            "files_lost_older_restored": older_restored(move.lost, move.restored),
            "restored_files": len(move.restored), "restored_bytes": move.restored_bytes,
            "restore_seconds": None if move.restore_seconds is None else round(move.restore_seconds, 3)}


def _move_text(move) -> str:
    """A move on one line: where, when, why, and what it cost (the files lost in the queue named)."""
    from cycle.sizes import human_size

    where = f"{move.from_machine} -> {move.to_machine or '(no machine yet)'}"
    when = moment(move.ts_ns).strftime("%Y-%m-%d %H:%M:%S")
    cost = (f"{move.uploaded} in storage, {len(move.lost)} lost in the queue, {len(move.restored)} restored "
            f"({human_size(move.restored_bytes)})")
    lost = f"; lost: {lost_named(move.lost, set(move.restored), 3)}" if move.lost else ""
    return f"{where} at {when} ({move.trigger}): {cost}{lost}"


def human_duration(seconds: float) -> str:
    """1h 02m 03s, 4m 05s, 12.3s: short, and sortable by eye in a column."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _duration_text(job, seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return human_duration(seconds) + ("" if job.state.is_final else " so far")


def _stream(stream: str | None):
    from cycle.api import Stream
    from cycle.cli.output import fail

    if stream is None:
        return None
    try:
        return Stream(stream.lower())
    except ValueError:
        fail(f"--stream {stream!r} is not a log stream. Use stdout, stderr or system.")


LATEST_NS = 2**63 - 1  # the latest time a log's ts_ns holds (sqlite's INTEGER: 64 bits, year 2262)
EPOCH_NOTE_BEFORE_NS = 10**18  # 2001-09-09: an epoch --since earlier than that is more likely a slip


def parse_since(text: str) -> int:
    """An ISO 8601 time, seconds since the epoch (1700000000, 1700000000.123456789: as `docker logs
    --since` takes them) or an age like 90s, 10m, 2h, 1d, as ns since the epoch. A time without a
    zone is local (the TUI shows local times; `docker logs --since` reads it so too). Numbers are
    read in integer ns, never through a float (1700000000.000000001 is ...001 ns, not ...000).
    Clamped to what a log holds: a time before 1970 (`0001-01-01`, "from the beginning") or an age
    older than that means every line, a time past 2262 none (either was a traceback: sqlite's
    integers stop at 64 bits)."""
    import re
    import time

    from cycle.cli.output import fail

    usage = ("an ISO 8601 time (2026-11-23T14:00:00Z; without a zone: local time), seconds since the epoch "
             "(1700000000 or 1700000000.123456789) or an age (90s, 10m, 2h, 1d)")
    given = text.strip()
    if match := re.fullmatch(r"(\d+)(?:\.(\d+))?", given):
        if match.group(2) and len(match.group(2)) > 9:
            fail(f"--since {text!r} has {len(match.group(2))} digits after the point: seconds since the epoch "
                 "take at most 9 (nanoseconds, the finest a log's time holds), e.g. 1700000000.123456789.")
        ns = _ns_of_number(given)
        if ns < EPOCH_NOTE_BEFORE_NS:  # `--since 90` (an age without its unit?) or `--since 20261124` (a date?)
            sys.stderr.write(f"note: --since {given} is read as seconds since the epoch, "
                             f"{datetime.fromtimestamp(ns // 10**9, timezone.utc):%Y-%m-%d %H:%M:%S} UTC, as "
                             f"`docker logs --since` reads it; for an age write {given}s or {given}m, for a date "
                             "2026-11-24.\n")
        return _clamped(ns)
    if match := re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", given):
        age = _ns_of_number(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return _clamped(time.time_ns() - age)
    if not given:
        fail(f"--since is empty: give {usage}.")
    try:
        stamp = datetime.fromisoformat(given.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {text!r} is not {usage}.")
    if stamp.tzinfo is None:
        try:
            stamp = stamp.astimezone()  # local, with that date's offset (summer time or not)
        except (OverflowError, OSError, ValueError):  # year 1 or 9999: the edges, clamped below
            stamp = stamp.replace(tzinfo=timezone.utc)
    return _clamped(ns_of(stamp))


def _ns_of_number(seconds: str) -> int:
    """A decimal number of seconds ("90", "1.5", "1700000000.000000001") in whole ns, exactly: the
    digits are shifted, not multiplied through a float (which keeps ~16 digits: an epoch time in
    ns has 19). Digits past the ninth after the point (below a ns) are dropped. More than 20 whole
    digits is past any log's time either way (and Python refuses to read 4,300): 10**30 ns."""
    whole, _, fraction = seconds.partition(".")
    whole = whole.lstrip("0") or "0"
    if len(whole) > 20:
        return 10**30
    return int(whole) * 10**9 + int((fraction + "0" * 9)[:9])


def _clamped(ns: int) -> int:
    return min(max(ns, 0), LATEST_NS)


@app.command(epilog=examples(
    'cycle job logs mnist-3 -n 100',
    'cycle job logs mnist-3 -f --stream stderr',
    'cycle job logs mnist-3 --since 10m',
))
def logs(
    name: JobArg,
    tail: Annotated[int | None, typer.Option(
        "--tail", "-n", parser=whole_number("-n/--tail", 0), metavar="N",
        help="Only the last N lines (0 with -f: only new ones).")] = None,
    since: Annotated[str | None, typer.Option(
        metavar="TIME", help="Only lines from this time on: ISO 8601 (no zone: local), seconds since the "
                             "epoch (1700000000.5), or an age like 10m.")] = None,
    stream: Annotated[str | None, typer.Option(
        metavar="STREAM", help="Only one stream: stdout, stderr or system.")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new lines until the job ends (Ctrl-C stops, exit 130).")] = False,
    interval: Annotated[float, typer.Option(
        min=0.1, metavar="SECONDS", help="With --follow: seconds between checks for new lines.")] = 1.0,
) -> None:
    """Print a job's log: stdout, stderr and system events interleaved by timestamp.

    Logs reach storage on the platform's 600 s cadence (and when the job ends), so a running job's
    newest lines show up late, as on the platform. --follow waits for them and prints each upload as
    it lands, until the job ends (or the reader of a pipe leaves, as `tail -f | head`).
    """
    from cycle.cli.fast import print_log
    from cycle.platform import reading_platform
    from cycle.pull import format_line

    platform = reading_platform()
    chosen = _stream(stream)
    since_ns = parse_since(since) if since is not None else 0  # an empty --since is refused, not ignored
    records = print_log(platform, name, tail, chosen, since_ns, follow)  # the fast path's too (cycle/cli/fast.py)
    out = sys.stdout
    if follow:
        after = records[-1].id if records else _last_id(platform, name) if tail == 0 else 0
        follow_log(platform, name, after, interval, lambda record: out.write(format_line(record) + "\n"),
                   stream=chosen, since_ns=since_ns)


def _last_id(platform, name: str) -> int:
    """The newest line's id (0: none yet): where `-n 0 -f` starts, printing only what comes after,
    as `tail -n 0 -f` and `docker logs -n 0 -f` do."""
    newest = platform.logs_before(name, None, 1)
    return newest[-1].id if newest else 0


def follow_log(platform, name: str, after_id: int, interval: float, write, stream=None, since_ns: int = 0,
               each_pass=None):
    """Hand every log line after `after_id` to `write` as it reaches storage, until the job ends;
    returns the ended job. The state is read before the lines, so once it is final the lines
    read after it are the last ones. `each_pass(job)` runs after each read (tail downloads there).
    Between reads it stops (BrokenPipeError) as soon as the reader of a piped stdout has left."""
    from cycle.cli.output import wait_unless_reader_left

    while True:
        job = platform.job(name)
        for record in platform.logs(name, stream, after_id=after_id, since_ns=since_ns):
            write(record)
            after_id = record.id
        sys.stdout.flush()
        if each_pass is not None:
            each_pass(job)
        if job.state.is_final:
            return job
        wait_unless_reader_left(interval)


@app.command()
def cancel(name: JobArg) -> None:
    """Cancel a PENDING or RUNNING job: it ends CANCELLED (a running job's container removed).

    Cancelling a cancelled job does nothing and succeeds (as archiving an archived job does), so a
    script can cancel without checking first; one that FINISHED or FAILED cannot be cancelled (exit 2)."""
    from cycle.api import JobState
    from cycle.platform import reading_platform

    platform = reading_platform()
    already = platform.job(name).state is JobState.CANCELLED  # for the message: cancel() itself accepts it
    job = platform.cancel(name)
    typer.echo(f"job {name} was already CANCELLED; nothing to do" if already else f"job {job.name}: {job.state.value}")


@app.command()
def queue(
    project: Annotated[str | None, typer.Argument(
        metavar="PROJECT", help="Project name (default: the project in this folder).", show_default=False)] = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="Run without a GPU even when [job] cuda asks for one.")] = False,
) -> None:
    """Queue the latest uploaded version of a project (see `cycle project upload`); prints the job name.

    The job waits PENDING for the scheduler's next pass (every 60 s, as on the platform), then runs
    detached on the least-loaded eligible machine."""
    from cycle.api import TestOptions
    from cycle.platform import open_platform

    name = project or _project_here()
    platform = open_platform()
    _note_changes_since_upload(platform, name)
    job = platform.queue(name, TestOptions(cpu=cpu))
    typer.echo(job.name)


def _note_changes_since_upload(platform, name: str) -> None:
    """A `note:` on stderr when this folder is project `name` and differs from its latest upload:
    the job runs the uploaded version, and edits not uploaded yet are the classic surprise."""
    from cycle.api.manifest import find_project_root, load_manifest
    from cycle.errors import CycleError

    try:
        root = find_project_root(Path("."))
        if load_manifest(root).name != name:
            return
        found = platform.changes_since_upload(name, root)
    except (CycleError, OSError):
        return  # not in this project's folder, or unreadable: the queue itself says what is wrong
    if found and found[1]:
        version, changes = found
        typer.echo(f"note: {root} has changed since version {version} was uploaded ({listed(changes, 3)}); this job "
                   f"runs version {version}. To run the changes, `cycle project upload` first.", err=True)


def _project_here() -> str:
    """The name of the project this folder is in, for `job queue` without PROJECT: outside any
    project, the fix is to name one (the command takes a project NAME, not a folder)."""
    from cycle.api.manifest import find_project_root, load_manifest
    from cycle.cli.output import fail
    from cycle.errors import BadInput

    try:
        root = find_project_root(Path("."))
    except BadInput:
        fail(f"no project here: {Path.cwd()} is not inside a project (no .cycleswap/manifest.toml in it or above). "
             "Pass the project's name, e.g. `cycle job queue my-project` (its [main] name, as uploaded with "
             "`cycle project upload`), or run it from inside the project's folder.")
    return load_manifest(root).name


@app.command(epilog=examples('cycle job reassign mnist-3 --to local-2 --grace 30'))
def reassign(
    name: JobArg,
    to: Annotated[str | None, typer.Option(
        metavar="MACHINE", help="Machine to move to (default: the least-loaded free one).")] = None,
    grace: Annotated[float | None, typer.Option(
        min=0, metavar="SECONDS",
        help="Send SIGTERM and wait this many seconds before killing (default: kill at once).")] = None,
) -> None:
    """Move a running job to another machine, as the platform does (emulator only).

    The container is killed, files still waiting in the old machine's upload queue are lost, the
    new machine gets every uploaded artifact in its /artifacts, and run.sh starts again.
    """
    from cycle.platform import reading_platform

    move = reading_platform().reassign(name, to, grace)
    typer.echo(f"job {name}: moved {move.from_machine} -> {move.to_machine}; restored {len(move.restored)} file(s) "
               f"({move.restored_bytes} bytes) in {move.restore_seconds:.2f} s; "
               f"lost {len(move.lost)} file(s) from the upload queue")


@app.command()
def archive(name: JobArg) -> None:
    """Delete an ended job's stored artifacts; its record and log stay, marked archived.

    A job archived before is left as it is (exit 0): there is nothing left to delete."""
    from cycle.platform import reading_platform

    platform = reading_platform()
    if platform.job(name).archived:
        typer.echo(f"job {name} was already archived: its artifacts were deleted before; nothing done")
        return
    job = platform.archive(name)
    typer.echo(f"job {job.name}: artifacts deleted from storage; record kept (archived)")


def _folder(platform, job, project_dir: Path | None) -> Path:
    from cycle.cli.output import fail
    from cycle.pull import job_folder

    if project_dir is not None and not project_dir.is_dir():
        problem = "is not a folder (it is a file)" if project_dir.exists() else "the folder does not exist"
        fail(f"--project-dir {project_dir}: {problem}. Pass the project's root folder (the one "
             "holding .cycleswap/), or leave --project-dir out to save into the folder the job's project was run "
             "or uploaded from.")
    if project_dir is not None and (named := _project_name(project_dir)) not in (None, job.project):
        typer.echo(f"note: {project_dir} holds the project {named}, not {job.project} (job {job.name}'s); saving "
                   "there as asked.", err=True)
    root = project_dir or platform.project_root(job)
    if root is None or not root.is_dir():
        here = _this_project(job.project)
        if here is None:
            fail(f"the project folder of job {job.name} ({root}) is not here. Pass --project-dir to say where to "
                 "save it, or run this inside the project's folder.")
        typer.echo(f"note: the project folder of job {job.name} ({root}) is not here; saving into {here}, the "
                   f"project {job.project} this command runs in.", err=True)
        root = here
    return job_folder(root, job.name)


def _this_project(name: str) -> Path | None:
    """The project folder the current folder is in, when its manifest's [main] name is `name` (a
    project folder moved or renamed since its job ran: `project test` takes the name over too)."""
    from cycle.api.manifest import find_project_root
    from cycle.errors import BadInput

    try:
        root = find_project_root(Path.cwd())
    except BadInput:
        return None
    return root if _project_name(root) == name else None


def _project_name(folder: Path) -> str | None:
    """The [main] name of the project whose root is `folder`; None when it has no readable one."""
    from cycle.api.manifest import project_name

    try:
        return project_name(folder)
    except (OSError, ValueError):
        return None


def _warn_queue(job) -> None:
    from cycle.api import QUEUE_WARNING_TEXT

    if job.queue_warning:
        typer.secho(QUEUE_WARNING_TEXT, fg="yellow", err=True)


@app.command(epilog=examples('cycle job pull mnist-3             # into ./.cycleswap/jobs/mnist-3/'))
def pull(
    name: JobArg,
    project_dir: Annotated[Path | None, typer.Option(
        metavar="PATH", help="Project root to save into (default: the folder the job's project was run or "
        "uploaded from).")] = None,
) -> None:
    """Download all of a job's logs and artifacts into <project>/.cycleswap/jobs/<job-name>/.

    Logs go to output.log, artifacts to artifacts/. Files already there byte for byte are skipped.
    An archived job has only its log: pull saves output.log, says so and exits 1.
    """
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TransferSpeedColumn

    from cycle.cli.fast import log_lag_hint
    from cycle.cli.output import fail, progress_bar
    from cycle.platform import reading_platform
    from cycle.pull import SyncResult, sync_artifacts, write_output_log

    platform = reading_platform()
    job = platform.job(name)
    folder = _folder(platform, job, project_dir)
    write_output_log(folder, platform.logs(name))
    result = SyncResult()
    with progress_bar("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TextColumn("{task.fields[files]}"), TransferSpeedColumn()) as bar:
        task = bar.add_task(f"pulling {name}", total=None, files="")

        def files_done(_artifact=None) -> None:  # a bar of bytes alone read "nearly done" with most files to go
            bar.update(task, files=f"{len(result.downloaded):,}/{result.wanted:,} files")

        compared: list[int] = []  # the bytes to download, once the stored files were compared with the folder's
        try:
            sync_artifacts(platform, job, folder, result=result, landed=files_done,
                           on_start=lambda total: (compared.append(total), bar.update(task, total=total), files_done()),
                           progress=lambda n: bar.advance(task, n))
        except KeyboardInterrupt:
            bar.stop()
            where = folder / "artifacts"
            saved = (f"{len(result.downloaded):,} of {result.wanted:,} file(s) to download saved in {where}" if compared
                     else f"while comparing the job's stored files with those in {where}, nothing downloaded yet")
            typer.echo(f"pull interrupted: {saved}; run it again to finish (files already there byte for byte are "
                       "skipped).", err=True)
            raise
    if result.archived:
        fail(f"job {name} is archived: its artifacts were deleted from storage (`cycle job archive`); "
             f"only its log was saved, to {folder / 'output.log'}.", code=1)
    typer.echo(f"{folder}: output.log, {len(result.downloaded)} artifact(s) downloaded ({result.bytes} bytes), "
               f"{len(result.skipped)} unchanged")
    for key in result.refused:
        typer.echo(f"refused storage key {key!r}: it would escape {folder}", err=True)
    if result.superseded:
        typer.echo(f"{len(result.superseded)} older stored file(s) not downloaded: the job replaced each by a newer "
                   f"file or folder of the same name ({listed(result.superseded, 5)})", err=True)
    job = platform.job(name)
    if hint := log_lag_hint(job, saved=str(folder / "output.log")):
        typer.echo(hint, err=True)
    _warn_queue(job)


def _say_downloaded(paths: list[str], each_up_to: int = 5) -> None:
    """The artifacts a pass of `job tail` downloaded: each by name when few, else one line (a flood
    of small files printed thousands of lines a second)."""
    if len(paths) <= each_up_to:
        for path in paths:
            typer.echo(f"downloaded artifacts/{path}", err=True)
        return
    typer.echo(f"downloaded {len(paths):,} artifacts: {listed([f'artifacts/{path}' for path in paths], 3)}", err=True)


@app.command(epilog=examples('cycle job tail mnist-3 && echo trained'))
def tail(
    name: JobArg,
    project_dir: Annotated[Path | None, typer.Option(
        metavar="PATH", help="Project root to save into (default: the folder the job's project was run or "
        "uploaded from).")] = None,
    interval: Annotated[float, typer.Option(
        min=0.1, metavar="SECONDS", help="Seconds between checks for new lines and artifacts.")] = 1.0,
) -> None:
    """Stream a job's log to stdout and download new artifacts as they appear, until the job ends.

    Saves like `pull`: output.log and artifacts/ under <project>/.cycleswap/jobs/<job-name>/.
    Exits like `cycle project test`: 0 when the job FINISHED, else the job's exit code (1 when it
    has none), so `cycle job tail JOB && next-step` waits for a good result. A failed build's
    explanation closes the output, after the job's state, as in `cycle project test`.
    """
    from cycle.cli.fast import log_lag_hint
    from cycle.cli.output import build_explanation, is_build_explanation, job_exit_code
    from cycle.platform import reading_platform
    from cycle.pull import SyncResult, format_line, saving_into, sync_artifacts

    platform = reading_platform()
    folder = _folder(platform, platform.job(name), project_dir)
    log_path = folder / "output.log"
    with saving_into(folder, writing=log_path):
        folder.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "w", encoding="utf-8", errors="surrogateescape")  # a job's bytes as printed
    known: dict[str, str] = {}
    warned = hinted = False  # the queue's 600 s warning, the log's lag: said once each
    saved: set[str] = set()  # the files downloaded (once each, however often they changed)
    passing = [SyncResult()]  # the pass under way: what an interrupted one saved counts too

    def download(job) -> None:
        nonlocal warned
        synced = passing[0] = SyncResult()
        sync_artifacts(platform, job, folder, known=known, result=synced)
        saved.update(synced.downloaded)
        _say_downloaded(synced.downloaded)
        if synced.archived:
            typer.echo(f"job {name} is archived: its artifacts were deleted from storage (`cycle job archive`)",
                       err=True)
        if job.queue_warning and not warned:
            warned = True
            _warn_queue(job)

    held: list[str] = []  # a failed build's explanation: printed once, last, as `project test` does
    with saving_into(folder, writing=log_path), log:  # a full disk while writing output.log: one paragraph
        def write(record) -> None:
            line = format_line(record)
            if record.stream.value == "system" and is_build_explanation(record.text):
                held.append(record.text)  # output.log still keeps the whole log
            else:
                sys.stdout.write(line + "\n")
            log.write(line + "\n")

        def each_pass(job) -> None:
            nonlocal hinted
            if not hinted and (hint := log_lag_hint(job, follow=True)):  # (once: why lines come 600 s apart)
                typer.echo(hint, err=True)
                hinted = True
            log.flush()
            download(job)

        try:
            job = follow_log(platform, name, 0, interval, write, each_pass=each_pass)
        except KeyboardInterrupt:
            saved.update(passing[0].downloaded)
            typer.echo(f"job tail interrupted: job {name} keeps running; {len(saved):,} artifact(s) saved in "
                       f"{folder / 'artifacts'} and its log so far in {log_path}; `cycle job tail {name}` goes on "
                       "(files already there byte for byte are skipped).", err=True)
            raise
    typer.echo(f"job {job.name}: {job.state.value}" + (f" ({job.reason})" if job.reason else ""), err=True)
    explanation = build_explanation(held)
    if explanation:
        typer.echo("\n" + "\n".join(explanation), err=True)
    raise typer.Exit(job_exit_code(job))
