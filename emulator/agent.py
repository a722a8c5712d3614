"""Runs one job on one machine: build image, container, log pump, final state.

The container gets the project in /app (not .git, not .cycleswap/jobs, not what .cycleignore
names), runs `bash .cycleswap/run.sh` with env_vars and INSIDE_CYCLESWAP_CONTAINER=1, has
networking off unless asked, and /artifacts bound to the machine's own folder for this job.
"""

from __future__ import annotations

import os
import queue
import threading
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cycle.errors import JobCancelled
from cycle.manifest import Manifest
from emulator import runtime
from emulator.artifacts import ArtifactPipeline
from emulator.blobs import BlobStore
from emulator.build import Builder, BuildFailed
from emulator.config import ImageChoice
from emulator.context import project_files
from emulator.logship import LogShipper
from emulator.models import Job, JobState, Stream, now_ns, state_for_exit
from emulator.state import StateStore

MEMORY_SHARE = 0.9
MEMORY_LIMIT_ENV = "CYCLE_MEMORY_LIMIT"
PIDS_LIMIT = 4096
DEFAULT_MACHINE = "local-0"
FLUSH_RECORDS = 2000

Sink = Callable[[int, Stream, str], None]


@dataclass(frozen=True)
class RunOptions:
    rebuild: bool = False
    clean: bool = False
    skip_limits: bool = False
    network: str = "none"


class JobRunner:
    def __init__(self, home: Path, store: StateStore, client, sink: Sink, blobs: BlobStore) -> None:
        self.home = home
        self.store = store
        self.client = client
        self.sink = sink
        self.blobs = blobs
        self.labels = {
            runtime.LABEL: "1",
            runtime.LABEL_HOME: runtime.home_label(home),
            runtime.LABEL_PID: str(os.getpid()),
        }

    def event(self, job_id: int, text: str) -> None:
        """A system event: shown live, stored with the job's log at the next shipment."""
        self.shipper.add([(now_ns(), Stream.SYSTEM, text)])

    def machine_folder(self, machine: str, job: Job) -> Path:
        """The job's /artifacts on the machine's local disk."""
        folder = self.home / "machines" / machine / "artifacts" / job.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def run(self, manifest: Manifest, base: ImageChoice, base_image, options: RunOptions, job: Job | None = None) -> Job:
        """Run the job to its end; `job` is the record a detached start created, else a new one."""
        self.store.upsert_project(manifest.name, manifest.root)
        job = job or self.store.create_job(manifest.name)
        self.store.set_agent(job.id, os.getpid())
        self.shipper = LogShipper(self.store, job.id, self.sink)
        restore = _cancel_on_sigterm()
        container = None
        pipeline = None
        try:
            self.event(job.id, f"job {job.name} created for project {manifest.name}")
            self.event(job.id, f"base image for [ubuntu] version {base.version}: {base.image} ({base.source})")
            builder = Builder(self.client, self.store, {**self.labels, runtime.LABEL_JOB: str(job.id)},
                              lambda text: self.event(job.id, text))
            try:
                build = builder.ensure(manifest, base_image, options.rebuild, options.clean, options.network)
            except BuildFailed as failure:
                self.event(job.id, f"build failed: build.sh exited with code {failure.build_exit_code}")
                return self.store.set_state(job.id, JobState.FAILED, reason="BUILD_FAILED",
                                            exit_code=failure.build_exit_code)
            container = self._create(manifest, job, build.image, options)
            pipeline = self._pipeline(manifest, job)
            pipeline.start()
            container.start()
            job = self.store.set_state(job.id, JobState.RUNNING, machine=DEFAULT_MACHINE, image=build.image)
            self.event(job.id, f"job started on machine {DEFAULT_MACHINE} (container {container.short_id}, image {build.image})")
            self._pump(job, container)
            return self._finish(job, container, pipeline)
        except KeyboardInterrupt:
            if container is not None:
                runtime.remove_quietly(container)
            if pipeline is not None:
                abandoned = pipeline.abandon().abandoned
                if abandoned:
                    self.event(job.id, f"cancelled: {len(abandoned)} artifact(s) not uploaded: {', '.join(abandoned[:20])}")
            if not self.store.job(job.id).state.is_final:
                self.event(job.id, "job cancelled by the user (Ctrl-C or `cycle job cancel`); container removed")
                self.store.set_state(job.id, JobState.CANCELLED, reason="CANCELLED_BY_USER")
            self.shipper.close()
            raise JobCancelled(self.store.job(job.id)) from None
        finally:
            if container is not None:
                runtime.remove_quietly(container)
            self.shipper.close()
            restore()

    def _create(self, manifest: Manifest, job: Job, image: str, options: RunOptions):
        limits = {}
        if not options.skip_limits:
            limits = {"mem_limit": self._memory_limit(), "pids_limit": PIDS_LIMIT}
        artifacts = self.machine_folder(DEFAULT_MACHINE, job)
        spec = runtime.ContainerSpec(
            image=image,
            command=["bash", ".cycleswap/run.sh"],
            labels={**self.labels, runtime.LABEL_JOB: str(job.id), runtime.LABEL_KIND: "job"},
            environment=manifest.container_env(),
            binds={str(artifacts): {"bind": "/artifacts", "mode": "rw"}},
            network_mode=options.network,
            **limits,
        )
        container = runtime.create_container(self.client, spec)
        archive = runtime.tar_of(project_files(manifest.root), "app")
        with archive:
            container.put_archive("/", archive)
        if options.skip_limits:
            self.event(job.id, "--skip-limits: no memory or process limit on this container")
        else:
            self.event(job.id, f"limits: memory {limits['mem_limit'] // 2**20} MiB, at most {PIDS_LIMIT} processes")
        return container

    def _memory_limit(self) -> int:
        """90 % of the machine's memory, as the platform sets it; $CYCLE_MEMORY_LIMIT (bytes) overrides it for tests."""
        override = os.environ.get(MEMORY_LIMIT_ENV)
        if override:
            return int(override)
        return int(runtime.engine_memory(self.client) * MEMORY_SHARE)

    def _pump(self, job: Job, container) -> None:
        """Copy stdout and stderr into the log store and the sink until the container exits."""
        records: queue.Queue = queue.Queue()
        done = object()

        def read(stream: Stream) -> None:
            try:
                for ts, line in runtime.stream_lines(container, stderr=stream is Stream.STDERR):
                    records.put((ts, stream, line))
            finally:
                records.put(done)

        threads = [threading.Thread(target=read, args=(s,), daemon=True) for s in (Stream.STDOUT, Stream.STDERR)]
        for thread in threads:
            thread.start()
        open_streams = len(threads)
        while open_streams:
            item = records.get()
            batch = []
            while True:
                if item is done:
                    open_streams -= 1
                else:
                    batch.append(item)
                if len(batch) >= FLUSH_RECORDS:
                    break
                try:
                    item = records.get_nowait()
                except queue.Empty:
                    break
            self.shipper.add(batch)

    def _pipeline(self, manifest: Manifest, job: Job) -> ArtifactPipeline:
        self.event(job.id, f"artifacts: /artifacts is watched and uploaded to {self.blobs.description} "
                           f"in {manifest.artifact_upload_order} order")
        return ArtifactPipeline(
            self.machine_folder(DEFAULT_MACHINE, job), job.name, self.blobs, manifest.artifact_upload_order,
            on_event=lambda text: self.event(job.id, text),
            on_uploaded=lambda artifact: self.store.add_artifact(job.id, artifact),
            on_queue=lambda length, warning: self.store.set_queue(job.id, length, warning),
        )

    def _finish(self, job: Job, container, pipeline: ArtifactPipeline) -> Job:
        exit_code = int(container.wait().get("StatusCode", 1))
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        report = pipeline.finish()
        self.event(job.id, f"artifacts: {len(report.uploaded)} upload(s), {report.uploaded_bytes} bytes stored"
                           + (f"; {len(report.failed)} failed" if report.failed else ""))
        state, reason = state_for_exit(exit_code, oom, upload_failed=bool(report.failed))
        if oom:
            self.event(job.id, f"out of memory: the container hit its memory limit and was killed (exit code {exit_code})")
        if state is JobState.FINISHED:
            self.event(job.id, "job finished: run.sh exited with code 0")
        elif reason == "UPLOAD_ERROR":
            self.event(job.id, f"job failed: run.sh exited with code 0 but {len(report.failed)} artifact(s) could not be "
                               f"stored ({', '.join(report.failed[:10])}); UPLOAD_ERROR is not retried")
        else:
            self.event(job.id, f"job failed: run.sh exited with code {exit_code} ({reason})")
        return self.store.set_state(job.id, state, reason=reason, exit_code=exit_code)

    def sweep(self) -> None:
        """Remove containers of dead runs; their unfinished jobs are marked FAILED (LOST)."""

        def orphan(labels: dict[str, str]) -> None:
            job_id = labels.get(runtime.LABEL_JOB)
            if not job_id:
                return
            try:
                job = self.store.job(int(job_id))
            except KeyError:
                return
            if not job.state.is_final:
                text = "the process running this job died; its leftover container was removed"
                self.store.append_logs(job.id, [(now_ns(), Stream.SYSTEM, text)])
                self.store.set_state(job.id, JobState.FAILED, reason="LOST")

        runtime.sweep(self.client, self.home, orphan)


def _cancel_on_sigterm() -> Callable[[], None]:
    """`cycle job cancel` sends SIGTERM to the process running the job: treat it like Ctrl-C.
    Returns the function that puts the old handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """The detached agent: `python -m emulator.agent JOB_ID PROJECT_DIR OPTIONS_JSON`.

    Started by `cycle project test --detach`; runs the job to its end in its own session, so it
    outlives the CLI that started it."""
    import json

    from emulator.platform import EmulatorPlatform

    job_id, project_dir, options = (argv or sys.argv[1:])[:3]
    platform = EmulatorPlatform()
    try:
        platform.run_existing(int(job_id), Path(project_dir), RunOptions(**json.loads(options)))
    except JobCancelled:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
