"""Jobs whose agent died: noticed on every read, ended FAILED (LOST), their container and machine freed.

A job belongs to the process recorded as its agent (jobs.agent_pid): the CLI that creates it,
then the detached agent, or the CLI itself for a foreground `cycle project test`. When that
process is gone (`kill -9`, a crash, a reboot) and the job is still PENDING or RUNNING, nobody
will ever end it, so the next read (`job list`, `job status`, the TUI) does: one sqlite query of
the unfinished jobs plus a pid check each; Docker is asked only when something died.

The rules are pure (pids in, decisions out); `reap` and `end_job` do the writing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from emulator.models import Artifact, JobState, Stream

Alive = Callable[[int], bool]

RECOVERED_TEXT = ("{count} stored file(s) the dead process had not recorded yet were recorded from the store's "
                  "manifest")
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
            ended.append(job_id)
    return ended


def end_job(store, home: Path, job_id: int, state: JobState, reason: str, text: str, pid: int | None = None) -> bool:
    """End a job nobody runs any more: state, reason and event in one transaction (only one
    process wins when several notice at once), its machines given back, then its containers
    removed. False when the job had already ended."""
    if not store.end_abandoned(job_id, state, reason, text, pid=pid):
        return False
    record_unrecorded(store, home, job_id)
    remove_job_containers(home, job_id)
    return True


def record_unrecorded(store, home: Path, job_id: int) -> int:
    """Record the files a dead agent stored but had not recorded yet; returns how many.

    An agent records a local store's small files in batches (emulator/artifacts/upload.py
    RECORD_BATCH): killed between a batch's puts and its record, it leaves up to a batch of files
    in storage that no record names, and pull, `job status` and the TUI read the records. The
    local store's manifest names every stored file, so the job's newest version of each path that
    no record names is recorded from it (stored time as both times: the file's mtime is not in
    the manifest). Only the local store (<home>/storage): to S3 each file is recorded as soon as
    it is stored, and a read must not wait on a network. Nothing is made when there is no store."""
    from cycle.api.keys import artifact_prefix
    from emulator.blobs import LOCAL_STORE_NAME, LocalStore

    if not (home / "storage" / "manifests").is_dir():
        return 0
    job = store.job(job_id)
    prefix = artifact_prefix(job.name)
    newest = {a.key: a.sha256 for a in store.artifacts(job_id)}  # a path's newest record, as readers see it
    missing = [Artifact(path=o.key[len(prefix):], key=o.key, size=o.size, sha256=o.sha256,
                        mtime_ns=o.stored_ns or 0, uploaded_ns=o.stored_ns or 0, store=LOCAL_STORE_NAME)
               for o in LocalStore(home / "storage").list(prefix) if o.sha256 and newest.get(o.key) != o.sha256]
    if missing:
        store.add_artifacts(job_id, missing)
        store.append_logs(job_id, [(time.time_ns(), Stream.SYSTEM, RECOVERED_TEXT.format(count=len(missing)))])
    return len(missing)


def remove_job_containers(home: Path, job_id: int, client=None) -> None:
    """Remove the job's containers in this emulator home (quietly: without an engine, the next
    `project test` sweeps them, as their agent pid is dead)."""
    from cycle.errors import CycleError
    from emulator.engine import docker as runtime
    from emulator.engine.protocol import job_labels

    try:
        client = client or runtime.connect()
    except CycleError:
        return
    runtime.remove_labelled(client, job_labels(home, job_id))
