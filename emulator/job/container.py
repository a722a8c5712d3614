"""Stage 4, container: create the job's container on its machine (limits, binds, the project in
/app), start it, and sweep containers of runs whose process died.

The container gets the project in /app (not .git, not .cycleswap/jobs, not what .cycleignore
names), runs `bash .cycleswap/run.sh` with env_vars and INSIDE_CYCLESWAP_CONTAINER=1, has the
platform's network (the engine's bridge, else the host's; --network none for hermetic runs), and
/artifacts bound to the machine's own folder for this job.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait

from emulator.artifacts.files import CONTAINER_ARTIFACTS
from emulator.context import project_files
from emulator.engine.archive import tar_of
from emulator.engine.protocol import LABEL_JOB, LABEL_KIND, LABEL_PID, ContainerRuntime, ContainerSpec, close_output
from emulator.job import artifacts
from emulator.job.context import JobContext, StartFailed, Stay
from emulator.models import JobState
from emulator.recovery import recover_records
from emulator.store import StateStore

MEMORY_SHARE = 0.9
PIDS_LIMIT = 4096


def start_stay(ctx: JobContext, machine: str, restored: dict[str, tuple]) -> Stay:
    """The job's container on `machine`, started, with its artifact pipeline watching /artifacts
    (`restored`: the files a move brought back, known as stored). StartFailed when the engine refuses."""
    pipeline = artifacts.open_pipeline(ctx, machine)
    pipeline.seed(restored)
    container = _create_while_watching(ctx, machine, pipeline)
    output = None
    try:
        output = ctx.runtime.output(container)
        ctx.runtime.start(container)
    except Exception as error:  # protocol.EngineRefused: the engine refused to start it
        close_output(output)
        pipeline.abandon()
        ctx.runtime.remove(container)
        raise StartFailed(_start_hint(ctx, error)) from None
    return Stay(machine, container, pipeline, time.monotonic(), output=output)


def _create_while_watching(ctx: JobContext, machine: str, pipeline) -> str:
    """The container created while the pipeline starts watching, in a thread of its own: the
    engine's create and copy-in leave this process waiting, and the watcher's start-up (watchdog,
    inotify, its threads) fits in that wait instead of following it. Both are in place before the
    container starts, as before. If either fails, the pipeline stops and the container goes."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="artifacts-start") as pool:
        watching = pool.submit(pipeline.start)
        try:
            container = create(ctx, machine)
        except BaseException:  # Ctrl-C too: the watcher must not outlive the job
            futures_wait([watching])
            pipeline.abandon()
            raise
        try:
            watching.result()
        except BaseException:
            pipeline.abandon()
            ctx.runtime.remove(container)
            raise
    artifacts.announce(ctx)
    return container


def create(ctx: JobContext, machine: str) -> str:
    """The container (created, not started; its id) with its limits, binds and the project copied into /app."""
    options, manifest = ctx.options, ctx.manifest
    limits = {} if options.skip_limits else {"mem_limit": memory_limit(ctx), "pids_limit": PIDS_LIMIT}
    spec = ContainerSpec(
        image=ctx.image,
        command=["bash", ".cycleswap/run.sh"],
        labels={**ctx.labels, LABEL_JOB: str(ctx.job.id), LABEL_KIND: "job"},
        environment=manifest.container_env(),
        binds={str(ctx.machine_folder(machine)): {"bind": CONTAINER_ARTIFACTS, "mode": "rw"}, **_extra_binds(ctx)},
        network_mode=ctx.runtime.network(options.network),
        gpus=bool(manifest.cuda and not options.cpu),
        engine_log=False,  # its output reaches the job's log through runtime.output (attach)
        **limits,
    )
    container = ctx.runtime.create(spec)
    archive = tar_of(project_files(manifest.root), "app")
    with archive:
        ctx.runtime.put_archive(container, "/", archive)
    if options.skip_limits:
        ctx.event("--skip-limits: no memory or process limit on this container")
    else:
        ctx.event(f"limits: memory {limits['mem_limit'] // 2**20} MiB, at most {PIDS_LIMIT} processes")
    return container


def memory_limit(ctx: JobContext) -> int:
    """90 % of the machine's memory, as the platform sets it; $CYCLE_MEMORY_LIMIT (bytes) overrides it for tests."""
    if ctx.settings.memory_limit:
        return ctx.settings.memory_limit
    return int(ctx.runtime.memory() * MEMORY_SHARE)


def _extra_binds(ctx: JobContext) -> dict:
    """Read-only mounts: the manifest's volumes at /volumes/<name>, earlier jobs' artifacts."""
    from emulator.volumes import job_artifacts_folder, volume_folder

    binds = {}
    for name in ctx.manifest.volumes:
        folder, version = volume_folder(ctx.home, ctx.store, ctx.blobs, name)
        binds[str(folder)] = {"bind": f"/volumes/{name}", "mode": "ro"}
        ctx.event(f"volume {name} version {version} mounted read-only at /volumes/{name}")
    for other, path in ctx.options.mounts:
        folder = job_artifacts_folder(ctx.home, ctx.store, ctx.blobs, other)
        binds[str(folder)] = {"bind": path, "mode": "ro"}
        ctx.event(f"artifacts of job {other} mounted read-only at {path}")
    return binds


def _start_hint(ctx: JobContext, error: Exception) -> str:
    text = str(error)
    if ctx.manifest.cuda and not ctx.options.cpu:
        return (f"the engine could not start the container with the GPUs ({text}). The Docker engine needs the "
                "NVIDIA container toolkit for GPU jobs; install it, or run with --cpu to run without a GPU.")
    return f"the engine could not start the container ({text})."


def sweep(engine: ContainerRuntime, home, store: StateStore) -> None:
    """Remove containers of dead runs; their unfinished jobs are marked FAILED (LOST)."""

    def orphan(labels: dict[str, str]) -> None:
        job_id = labels.get(LABEL_JOB)
        if not job_id:
            return
        text = "the process running this job died; its leftover container was removed"
        pid = int(labels.get(LABEL_PID, "0") or 0) or None  # the dead run's, as engine.sweep read it
        if store.end_abandoned(int(job_id), JobState.FAILED, "LOST", text):
            recover_records(store, home, int(job_id), pid)  # as when a read notices the death (reaper.reap)

    engine.sweep(home, orphan)
