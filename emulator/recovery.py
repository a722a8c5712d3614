"""Files a dead agent stored but had not recorded: recorded from the local store's manifest.

An agent records a local store's small files in batches (emulator/artifacts/upload.py
RECORD_BATCH): killed between a batch's puts and its record, it leaves up to a batch of files in
storage that no record names, and pull, `job status` and the TUI read the records. Run only for a
job whose agent is known dead (reaper.reap, the start-up sweep of dead runs' containers): a live
agent would write the same rows again. No Docker here: the job's stages call it too."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from emulator.models import Artifact, Stream, now_ns

RECOVERED_TEXT = ("{count} stored file(s) the dead process had not recorded yet were recorded from the store's "
                  "manifest")


def recover_records(store, home: Path, job_id: int, pid: int | None = None) -> int:
    """record_unrecorded for a job whose agent (`pid`) is known dead (never one that may still record:
    its rows would be written twice), after the job ended, and its snapshots removed. A failure is
    the job's system event, not an error of the read that noticed the death (a traceback in `job list`)."""
    if pid is not None:
        _tell(store, job_id, _removed_text(*remove_snapshots(home, pid)))
    try:
        return record_unrecorded(store, home, job_id)
    except Exception as error:  # noqa: BLE001 - whatever failed, the read goes on
        _tell(store, job_id, f"stored files the dead process had not recorded could not be recorded from the "
                             f"manifest: {error}")
        return 0


def _tell(store, job_id: int, text: str | None) -> None:
    """`text` as the job's system event, quietly: the store itself may be what failed."""
    if text:
        try:
            store.append_logs(job_id, [(now_ns(), Stream.SYSTEM, text)])
        except Exception:  # noqa: BLE001 - nothing more to tell it
            pass


def remove_snapshots(home: Path, pid: int) -> tuple[int, int]:
    """Remove the private copies a dead process (`pid`) was making or sending (blobs.snapshot_prefix):
    nothing else ever removes them, and a checkpoint's is as big as the checkpoint. They sit in the
    local store's tmp/ and, for S3, the home's tmp/. (files, bytes) removed."""
    from emulator.blobs import snapshot_pid

    return _remove(entry for entry in _snapshots(home) if snapshot_pid(entry.name) == pid)


def remove_orphan_snapshots(home: Path, alive: Callable[[int], bool] | None = None) -> tuple[int, int]:
    """Remove every snapshot whose process is dead, whoever it was: a job's agent whose job had
    already ended, or a `cycle volume upload` or `project upload` killed mid-copy, which no reap
    ever sees. Run where a job starts (the runner's sweep). (files, bytes) removed."""
    from emulator.blobs import snapshot_pid
    from emulator.pids import pid_alive

    alive = alive or pid_alive
    return _remove(entry for entry in _snapshots(home)
                   if (pid := snapshot_pid(entry.name)) is not None and pid != os.getpid() and not alive(pid))


def _snapshots(home: Path) -> list[os.DirEntry]:
    """The files in the folders snapshots are made in (the local store's tmp/, the home's tmp/)."""
    from emulator.blobs import SNAPSHOT_PREFIX

    found = []
    for folder in (home / "storage" / "tmp", home / "tmp"):
        try:
            found += [e for e in os.scandir(folder)
                      if e.name.startswith(SNAPSHOT_PREFIX) and e.is_file(follow_symlinks=False)]
        except OSError:
            continue
    return found


def _remove(entries: Iterable[os.DirEntry]) -> tuple[int, int]:
    files = size = 0
    for entry in entries:
        try:
            length = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except OSError:
            continue
        files, size = files + 1, size + length
    return files, size


def _removed_text(files: int, size: int) -> str | None:
    return f"removed {files} temporary snapshot file(s), {size} bytes, the dead process left" if files else None


def record_unrecorded(store, home: Path, job_id: int) -> int:
    """Record the files a dead agent stored but had not recorded yet; returns how many.

    The local store's manifest names every stored file, so the job's newest version of each path
    that its newest record does not name is recorded from it (stored time as both times: the
    file's mtime is not in the manifest). Only the local store (<home>/storage): to S3 each file is recorded as soon as
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
        store.append_logs(job_id, [(now_ns(), Stream.SYSTEM, RECOVERED_TEXT.format(count=len(missing)))])
    return len(missing)


def abort_dead_uploads(store, blobs) -> int:
    """Abort the in-place S3 uploads that ended jobs of this home left unfinished (their agent was
    killed mid-upload: nothing else would ever abort them); returns how many. Run where a job
    starts (the runner's sweep), which talks to storage anyway, never on a read. A job still
    PENDING or RUNNING, or one this home does not know (another home sharing the bucket), keeps
    its uploads; each aborted one is a system event of its job."""
    from cycle.api.keys import JOBS_PREFIX

    if not hasattr(blobs, "unfinished_uploads"):
        return 0  # the local store writes whole files under temporary names: nothing stays begun
    aborted = 0
    for key, upload_id in blobs.unfinished_uploads(JOBS_PREFIX):
        job = store.job_by_name(key[len(JOBS_PREFIX):].split("/", 1)[0])
        if job is None or not job.state.is_final:
            continue
        blobs.abort_upload(key, upload_id)
        _tell(store, job.id, f"an upload of {key} its process left unfinished when it died was aborted on "
                             f"{blobs.description}")
        aborted += 1
    return aborted
