"""Jobs whose agent died: noticed on every read, ended FAILED (LOST), their container and machine freed.

A job belongs to the process recorded as its agent (jobs.agent_pid): the CLI that creates it,
then the detached agent, or the CLI itself for a foreground `cycle project test`. When that
process is gone (`kill -9`, a crash, a reboot) and the job is still PENDING or RUNNING, nobody
will ever end it, so the next read (`job list`, `job status`, the TUI) does: one sqlite query of
the unfinished jobs plus a pid check each; Docker is asked only when something died.

The rules are pure (pids in, decisions out); `reap` and `end_job` do the writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from emulator.models import JobState
from emulator.recovery import recover_records

Alive = Callable[[int], bool]

LOST_TEXT = ("the process running this job (pid {pid}) died; the job is marked LOST, its container removed and its "
             "machine freed")


def dead_jobs(unfinished: Iterable[tuple[int, int | None]], alive: Alive) -> list[tuple[int, int]]:
    """(job id, pid) of the unfinished jobs whose agent is gone. A job with no pid recorded yet
    is left alone: every job made by this emulator gets its creator's pid with the record."""
    return [(job_id, pid) for job_id, pid in unfinished if pid is not None and not alive(pid)]


def holder_gone(job_state: str | None, pid: int | None, alive: Alive) -> bool:
    """Whether a machine held by a job (in `job_state`, claimed by `pid`) may be given to another:
    the job has ended or vanished, or the agent that claimed it is dead."""
    if job_state is None or JobState(job_state).is_final:
        return True
    return pid is not None and not alive(pid)


def reap(store, home: Path, alive: Alive | None = None) -> list[int]:
    """End every unfinished job whose agent died; returns their ids. Cheap when nothing died."""
    from emulator.pids import pid_alive

    ended = []
    for job_id, pid in dead_jobs(store.unfinished_agents(), alive or pid_alive):
        if end_job(store, home, job_id, JobState.FAILED, "LOST", LOST_TEXT.format(pid=pid), pid=pid):
            recover_records(store, home, job_id, pid)  # the agent is dead: nothing else will record them
            ended.append(job_id)
    return ended


def end_job(store, home: Path, job_id: int, state: JobState, reason: str, text: str, pid: int | None = None) -> bool:
    """End a job nobody runs any more: state, reason and event in one transaction (only one
    process wins when several notice at once), its machines given back, then its containers
    removed. False when the job had already ended."""
    if not store.end_abandoned(job_id, state, reason, text, pid=pid):
        return False
    remove_job_containers(home, job_id)
    return True


def remove_job_containers(home: Path, job_id: int, api=None) -> None:
    """Remove the job's containers in this emulator home (quietly: without an engine, the next
    `project test` sweeps them, as their agent pid is dead)."""
    from cycle.errors import CycleError
    from emulator.engine import docker as runtime
    from emulator.engine.protocol import job_labels

    try:
        api = api or runtime.connect()
    except CycleError:
        return
    runtime.remove_labelled(api, job_labels(home, job_id))
