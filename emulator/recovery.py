"""Files a dead agent stored but had not recorded: recorded from the local store's manifest.

An agent records a local store's small files in batches (emulator/artifacts/upload.py
RECORD_BATCH): killed between a batch's puts and its record, it leaves up to a batch of files in
storage that no record names, and pull, `job status` and the TUI read the records. Run only for a
job whose agent is known dead (reaper.reap, the start-up sweep of dead runs' containers): a live
agent would write the same rows again. No Docker here: the job's stages call it too."""

from __future__ import annotations

from pathlib import Path

from emulator.models import Artifact, Stream, now_ns

RECOVERED_TEXT = ("{count} stored file(s) the dead process had not recorded yet were recorded from the store's "
                  "manifest")


def recover_records(store, home: Path, job_id: int) -> int:
    """record_unrecorded for a job whose agent is known dead (never one that may still record:
    its rows would be written twice), after the job ended. A failure is the job's system event,
    not an error of the read that noticed the death (a traceback in `job list`)."""
    try:
        return record_unrecorded(store, home, job_id)
    except Exception as error:  # noqa: BLE001 - whatever failed, the read goes on
        text = f"stored files the dead process had not recorded could not be recorded from the manifest: {error}"
        try:
            store.append_logs(job_id, [(now_ns(), Stream.SYSTEM, text)])
        except Exception:  # noqa: BLE001 - the store itself failed: nothing more to tell it
            pass
        return 0


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
