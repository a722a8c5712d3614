"""Stage 1, prepare: the job's record exists, belongs to this process, and says what it will run on."""

from __future__ import annotations

import os

from emulator.context import ignore_note
from emulator.engine import baseimage
from emulator.job.context import JobContext
from emulator.models import Job
from emulator.store import StateStore


def take_job(store: StateStore, project: str, root, job: Job | None) -> Job:
    """The job's record (a new PENDING one unless a detached start made it), answered for by this
    process from now on: a job whose agent dies is noticed by the reaper."""
    store.upsert_project(project, root)
    job = job or store.create_job(project, agent_pid=os.getpid())
    store.set_agent(job.id, os.getpid())
    return job


def announce(ctx: JobContext) -> None:
    """The first events: the job was created, which base image it builds on and why, and which
    .cycleswap/ files .cycleignore matches (they go to /app anyway)."""
    manifest, base = ctx.manifest, ctx.base
    ctx.event(f"job {ctx.job.name} created for project {manifest.name}")
    ctx.event(f"base image for [ubuntu] version {base.version}: "
              f"{baseimage.explain(base.version, base.image, base.source, ctx.base_image.labels)}")
    note = ignore_note(manifest.root)
    if note:
        ctx.event(note)
