"""Runs one job on one machine, as its stages chained top to bottom (see _flow), with the clean-up
always run on a fresh footing: interrupts held, so no job is left PENDING or RUNNING, no
container left behind and no machine held, whatever happened on the way."""

from __future__ import annotations

import os
from pathlib import Path

from cycle.api.manifest import Manifest
from cycle.errors import CycleError, JobCancelled
from emulator.blobs import BlobStore
from emulator.config import ImageChoice
from emulator.engine.protocol import LABEL, LABEL_HOME, LABEL_PID, ContainerRuntime, ImageInfo, home_label, short_id
from emulator.job import build, container, finish, logs, machine, prepare
from emulator.job.context import CancelRequested, JobContext, RestoreFailed, RunOptions, Sink, StartFailed
from emulator.job.guard import Interrupts, describe_error
from emulator.job.move import RecoveryStrategy
from emulator.logship import LOG_CADENCE_SECONDS, LogShipper
from emulator.models import Job, JobState
from emulator.recovery import abort_dead_uploads, remove_orphan_snapshots
from emulator.settings import Settings
from emulator.store import StateStore


class JobRunner:
    """Runs jobs of one emulator home on a container runtime (engine.runtime.DockerRuntime; the
    unit tests give it engine.fake.FakeRuntime): the stages see only the runtime's protocol."""

    def __init__(self, home: Path, store: StateStore, runtime: ContainerRuntime, sink: Sink, blobs: BlobStore,
                 settings: Settings | None = None) -> None:
        self.home = home
        self.store = store
        self.runtime = runtime
        self.sink = sink
        self.blobs = blobs
        self.settings = settings or Settings.from_env()
        self.labels = {
            LABEL: "1",
            LABEL_HOME: home_label(home),
            LABEL_PID: str(os.getpid()),
        }
        self.shipper: LogShipper | None = None

    def run(self, manifest: Manifest, base: ImageChoice, base_image: ImageInfo | None, options: RunOptions,
            job: Job | None = None) -> Job:
        """Run the job to its end, moving it between machines when asked; `job` is the record a
        detached start created, else a new one. Ends with the emails the manifest asks for.
        `base_image`: the base image, as the runtime described it when the job was prepared."""
        ctx, ended = self._run(manifest, base, base_image, options, job)
        finish.tell(ctx, ended)
        return ended

    def _run(self, manifest: Manifest, base: ImageChoice, base_image: ImageInfo | None, options: RunOptions,
             job: Job | None) -> tuple[JobContext, Job]:
        """The job from its record to its final state, whatever happens on the way: an interrupt
        or a cancel request cancels it (a second interrupt during the clean-up only says
        "cleaning up…"), any failure ends it FAILED with the error as an event, and every exit
        runs the clean-up."""
        self.store.upsert_project(manifest.name, manifest.root)
        with Interrupts() as interrupts:
            job = prepare.take_job(self.store, manifest.name, manifest.root, job)
            self.shipper = None  # each run ships its own log
            ctx = self._context(job, manifest, options, base, base_image)
            try:
                return ctx, self._flow(ctx)
            except (KeyboardInterrupt, CancelRequested) as cancel:
                interrupts.hold()
                by = cancel.by if isinstance(cancel, CancelRequested) else interrupts.cancelled_by()
                finish.cancel(ctx, by)
                raise JobCancelled(ctx.current(), by) from None
            except RestoreFailed as failure:
                interrupts.hold()
                ctx.event(f"job failed: {failure}")
                return ctx, finish.end_unless_final(ctx, "RESTORE_FAILED")
            except CycleError as error:  # bad input found late (e.g. an unknown machine): one paragraph, job ended
                interrupts.hold()
                ctx.event(f"job failed: {error.message}")
                finish.end_unless_final(ctx, "AGENT_ERROR")
                raise
            except Exception as error:
                interrupts.hold()
                ctx.event(f"job failed: the agent hit an error: {describe_error(error)}")
                return ctx, finish.end_unless_final(ctx, "AGENT_ERROR")
            finally:
                interrupts.hold()
                try:
                    finish.clean_up(ctx)
                finally:
                    finish.never_left_unfinished(ctx, interrupts.interrupted)

    def _flow(self, ctx: JobContext) -> Job:
        """The job's flow: prepare, build, claim a machine, start the container, pump its logs
        (moving to another machine when asked), finish. A stage that ends the job returns it."""
        prepare.announce(ctx)
        ended = build.build_image(ctx)
        if ended is not None:
            return ended
        ended = self._start(ctx, machine.claim_first(ctx))
        if ended is not None:
            return ended
        recovery = RecoveryStrategy(ctx)
        while (request := logs.pump(ctx, ctx.stay)) is not None:
            ended = recovery.recover(request)
            if ended is not None:
                return ended
        return finish.finish(ctx)

    def _start(self, ctx: JobContext, on: str) -> Job | None:
        """The container starts on machine `on` and the job is RUNNING; or the job fails START_FAILED."""
        try:
            ctx.stay = container.start_stay(ctx, on, restored={})
        except StartFailed as failure:
            ctx.event(f"job failed to start: {failure}")
            return ctx.end(JobState.FAILED, reason="START_FAILED")
        ctx.job = self.store.set_state(ctx.job.id, JobState.RUNNING, machine=on, image=ctx.image)
        ctx.event(f"job started on machine {on} (container {short_id(ctx.stay.container)}, image {ctx.image})")
        return None

    def _context(self, job: Job, manifest: Manifest | None = None, options: RunOptions = RunOptions(),
                 base: ImageChoice | None = None, base_image: ImageInfo | None = None) -> JobContext:
        """The job's context; its log shipper is new unless one was set on the runner (tests)."""
        if self.shipper is None or self.shipper.job_id != job.id:
            self.shipper = LogShipper(self.store, job.id, self.sink)
            if self.shipper.cadence != LOG_CADENCE_SECONDS:  # the column's default: no write for the usual case
                self.store.record_log_cadence(job.id, self.shipper.cadence)  # readers say the cadence it has
        return JobContext(self.home, self.store, self.runtime, self.blobs, self.settings, self.labels, job,
                          self.shipper, manifest, options, base, base_image)

    def sweep(self) -> None:
        """Remove containers of dead runs; their unfinished jobs are marked FAILED (LOST); abort the
        S3 uploads ended jobs left unfinished (a failure only delays that to the next start)."""
        container.sweep(self.runtime, self.home, self.store)
        remove_orphan_snapshots(self.home)  # a killed upload's, or an agent's whose job had ended
        try:
            abort_dead_uploads(self.store, self.blobs)
        except Exception:  # noqa: BLE001 - storage trouble is the job's to report when it stores
            pass

    # entry points kept for callers and tests of the former single-class runner
    def _never_left_unfinished(self, job: Job, interrupted: bool) -> None:
        finish.never_left_unfinished(self._context(job), interrupted)

    def _create(self, manifest: Manifest, job: Job, image: str, options: RunOptions, machine: str) -> str:
        ctx = self._context(job, manifest, options)
        ctx.image = image
        return container.create(ctx, machine)
