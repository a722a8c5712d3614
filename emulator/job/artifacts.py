"""The artifact pipeline stage: /artifacts watched and uploaded while the job runs (emulator.artifacts
does the work), its report when the container exits, and what a move or a cancel leaves behind."""

from __future__ import annotations

import time

from emulator.artifacts import ArtifactPipeline
from emulator.job.context import JobContext, Stay


def open_pipeline(ctx: JobContext, machine: str) -> ArtifactPipeline:
    """The pipeline for the job's folder on `machine` (not started; announce() tells the user)."""
    manifest, job = ctx.manifest, ctx.job
    return ArtifactPipeline(
        ctx.machine_folder(machine), job.name, ctx.blobs, manifest.artifact_upload_order,
        on_event=ctx.event,
        on_uploaded=lambda artifacts: ctx.store.add_artifacts(job.id, artifacts),
        on_queue=lambda change, warning: ctx.store.record_queue(job.id, change, warning),
    )


def announce(ctx: JobContext) -> None:
    """The event saying where the job's /artifacts go."""
    ctx.event(f"artifacts: /artifacts is watched and uploaded to {ctx.blobs.description} "
              f"in {ctx.manifest.artifact_upload_order} order")


def finish_uploads(ctx: JobContext, stay: Stay):
    """Upload what is left after the container exited; the report (uploaded, failed, failure)."""
    report = stay.pipeline.finish()
    ctx.event(f"artifacts: {len(report.uploaded)} upload(s), {report.uploaded_bytes} bytes stored"
              + (f" on {stay.machine}; the job has {moved_total(ctx)} in all" if stay.move_id is not None else "")
              + (f"; {len(report.failed)} failed" if report.failed else ""))
    return report


def moved_total(ctx: JobContext) -> str:
    """What a moved job has stored on all its machines (the last one's uploads alone undercount:
    a user read `177 upload(s)` at the end of a job that had 240 files)."""
    files, size = ctx.store.artifact_totals(ctx.job.id)
    return f"{files} file(s), {size} bytes"


def note_first_write(ctx: JobContext, stay: Stay) -> None:
    """After a move: how long the restarted job took to write its first artifact."""
    if stay.move_id is not None and not stay.first_write_noted and stay.pipeline.first_write is not None:
        stay.first_write_noted = True
        # the container runs before its start call returns: a write that early counts as at the start (0, not -0.002)
        seconds = max(0.0, stay.pipeline.first_write - stay.started)
        ctx.store.update_move(stay.move_id, next_artifact_seconds=round(seconds, 3))


def upload_in_grace(ctx: JobContext, stay: Stay, grace: float, left: float) -> None:
    """The container exited `left` seconds before its grace period ended: the machine is kept that
    long to store what the job wrote last (a checkpoint saved on SIGTERM), as at a job's end."""
    done = stay.pipeline.drain_until(time.monotonic() + left)
    ctx.event(f"machine {stay.machine}: the job exited {grace - left:.1f} s into its {grace:g} s grace period; "
              + ("its waiting files were stored in the time left" if done else
                 "its waiting files were uploaded in the time left, until the period ended"))


def abandon(ctx: JobContext, stay: Stay) -> list[str]:
    """Stop watching: files still waiting to upload are abandoned (the upload in flight finishes)."""
    return stay.pipeline.abandon().abandoned
