"""Runs one job on one machine: build image, container, log pump, final state.

The container gets the project in /app (not .git, not .cycleswap/jobs, not what .cycleignore
names), runs `bash .cycleswap/run.sh` with env_vars and INSIDE_CYCLESWAP_CONTAINER=1, has the
platform's network (the engine's bridge, else the host's; --network none for hermetic runs), and
/artifacts bound to the machine's own folder for this job.
"""

from __future__ import annotations

import os
import queue
import threading
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cycle.errors import BadInput, CycleError, JobCancelled
from cycle.manifest import Manifest
from emulator import baseimage, gpu, runtime
from emulator.gpu import machine_cuda
from emulator.hostsafety import disarm_job
from emulator.artifacts import ArtifactPipeline
from emulator.blobs import BlobStore, StorageError, StoredObject
from emulator.build import Builder, BuildFailed
from emulator.config import ImageChoice
from emulator.context import project_files
from emulator.engine import resolve_network
from emulator.logship import LogShipper
from emulator.keys import artifact_relative
from emulator.models import Job, JobState, Move, Stream, now_ns, state_for_exit
from emulator.reaper import remove_job_containers
from emulator.state import StateStore

MEMORY_SHARE = 0.9
MEMORY_LIMIT_ENV = "CYCLE_MEMORY_LIMIT"
PIDS_LIMIT = 4096
MACHINES_ENV = "CYCLE_MACHINES"
DEFAULT_MACHINES = 4
MOVE_CHECK_SECONDS = 0.2


def machine_names() -> list[str]:
    """The simulated machines of this host: local-0 … local-<n-1> ($CYCLE_MACHINES, default 4)."""
    return [f"local-{i}" for i in range(int(os.environ.get(MACHINES_ENV, DEFAULT_MACHINES)))]


class StartFailed(Exception):
    """The engine refused to start a container (e.g. GPUs asked for, no NVIDIA runtime)."""


@dataclass(frozen=True)
class MoveRequest:
    trigger: str
    target: str | None
    grace: float | None


@dataclass
class Stay:
    """One stretch of the job on one machine: its container and its artifact pipeline."""

    machine: str
    container: object
    pipeline: ArtifactPipeline
    started: float
    move_id: int | None = None
    first_write_noted: bool = False
    readers: list = field(default_factory=list)
    records: object = None
    done: object = None
FLUSH_RECORDS = 2000

Sink = Callable[[int, Stream, str], None]


@dataclass(frozen=True)
class RunOptions:
    rebuild: bool = False
    clean: bool = False
    skip_limits: bool = False
    network: str = "auto"  # engine.network_for: the bridge, or host where the engine has none
    cpu: bool = False  # run a job that asks for a GPU without one
    mounts: tuple[tuple[str, str], ...] = ()  # (job name, container path): earlier jobs' artifacts, read-only
    queued: bool = False  # `cycle job queue`: wait for the scheduler's next pass before taking a machine


def request_trigger(target: str | None, requester: str | None) -> str:
    """The move event's trigger for a request: who asked (`cycle job reassign` unless named) and where to."""
    who = f"requested by {requester or '`cycle job reassign`'}"
    return who if target is None else f"{who}: to {target}"


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
        """The job's /artifacts on the machine's local disk. machines/ and the machine's folder are
        private to the user (0700), so nothing a job leaves there (a setuid file made as root in
        the container) is reachable by another user of the host."""
        disk = self.home / "machines" / machine
        for private in (disk.parent, disk):
            private.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(private, 0o700)  # also when an earlier version made it 0755
        folder = disk / "artifacts" / job.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def run(self, manifest: Manifest, base: ImageChoice, base_image, options: RunOptions, job: Job | None = None) -> Job:
        """Run the job to its end, moving it between machines when asked; `job` is the record a
        detached start created, else a new one. Ends with the emails the manifest asks for."""
        ended = self._run(manifest, base, base_image, options, job)
        wanted = (ended.state is JobState.FINISHED and manifest.email_on_success) or (
            ended.state is JobState.FAILED and manifest.email_on_failure)
        if wanted:
            from emulator.mail import compose, deliver

            lines = [f"[{r.stream.value}] {r.text}" for r in self.store.logs_before(ended.id, None, 20)]
            try:
                where = deliver(self.home, compose(ended, lines, os.environ.get("CYCLE_EMAIL_TO", "you@localhost")))
                self.store.append_logs(ended.id, [(now_ns(), Stream.SYSTEM, f"email sent to {where}")])
            except OSError as error:
                self.store.append_logs(ended.id, [(now_ns(), Stream.SYSTEM, f"email could not be sent: {error}")])
        self._quota_warning(ended)
        return ended

    def _quota_warning(self, job: Job) -> None:
        """The storage quota is soft, as on the peer platform: a warning, never a rejection."""
        quota = os.environ.get("CYCLE_STORAGE_QUOTA_BYTES")
        if not quota:
            return
        used = sum(row["artifacts"] + row["logs"] for row in self.store.usage())
        if used > int(quota):
            self.store.append_logs(job.id, [(now_ns(), Stream.SYSTEM,
                f"warning: storage usage {used} bytes exceeds the soft quota of {int(quota)} bytes; uploads are never rejected")])

    def _run(self, manifest: Manifest, base: ImageChoice, base_image, options: RunOptions, job: Job | None) -> Job:
        """The job from its record to its final state, whatever happens on the way: an interrupt
        cancels it (a second one during the clean-up only says "cleaning up…"), any failure ends
        it FAILED with the error as an event, and every exit removes the container and gives the
        machine back: no job is left PENDING or RUNNING, no machine held."""
        self.store.upsert_project(manifest.name, manifest.root)
        with Interrupts() as interrupts:
            job = job or self.store.create_job(manifest.name, agent_pid=os.getpid())
            self.store.set_agent(job.id, os.getpid())
            self.shipper = LogShipper(self.store, job.id, self.sink)
            self.stay = None
            try:
                return self._stays(manifest, base, base_image, options, job)
            except KeyboardInterrupt:
                interrupts.hold()
                self._cancel(job, self.stay)
                raise JobCancelled(self.store.job(job.id)) from None
            except RestoreFailed as failure:
                interrupts.hold()
                self.event(job.id, f"job failed: {failure}")
                return self._end_unless_final(job, "RESTORE_FAILED")
            except CycleError as error:  # bad input found late (e.g. an unknown machine): one paragraph, job ended
                interrupts.hold()
                self.event(job.id, f"job failed: {error.message}")
                self._end_unless_final(job, "AGENT_ERROR")
                raise
            except Exception as error:
                interrupts.hold()
                self.event(job.id, f"job failed: the agent hit an error: {describe_error(error)}")
                return self._end_unless_final(job, "AGENT_ERROR")
            finally:
                interrupts.hold()
                try:
                    self._clean_up(job)
                finally:
                    self._never_left_unfinished(job, interrupts.interrupted)

    def _stays(self, manifest: Manifest, base: ImageChoice, base_image, options: RunOptions, job: Job) -> Job:
        """Build, take a machine, run there until the container exits, moving when asked."""
        self.event(job.id, f"job {job.name} created for project {manifest.name}")
        self.event(job.id, f"base image for [ubuntu] version {base.version}: "
                           f"{baseimage.explain(base.version, base.image, base.source, base_image.labels)}")
        builder = Builder(self.client, self.store, {**self.labels, runtime.LABEL_JOB: str(job.id)},
                          lambda text: self.event(job.id, text))
        try:
            build = builder.ensure(manifest, base_image, options.rebuild, options.clean, options.network)
        except BuildFailed as failure:
            from emulator.build_diagnosis import explain

            for line in explain(failure.output, failure.build_exit_code):
                self.event(job.id, line)
            return self._end(job, JobState.FAILED, reason="BUILD_FAILED", exit_code=failure.build_exit_code)
        cuda = None if options.cpu else manifest.cuda
        if manifest.cuda and options.cpu:
            self.event(job.id, f"--cpu: [job] cuda = \"{manifest.cuda}\" is ignored; the job runs without a GPU")
        if options.queued:
            from emulator.upload import wait_for_scheduler

            wait_for_scheduler(lambda text: self.event(job.id, text))
        machine = self._claim(job, prefer=None, exclude=None, cuda=cuda)
        try:
            self.stay = self._start_stay(manifest, job, build.image, options, machine, restored={})
        except StartFailed as failure:
            self.event(job.id, f"job failed to start: {failure}")
            return self._end(job, JobState.FAILED, reason="START_FAILED")
        job = self.store.set_state(job.id, JobState.RUNNING, machine=machine, image=build.image)
        self.event(job.id, f"job started on machine {machine} (container {self.stay.container.short_id}, image {build.image})")
        while True:
            request = self._pump(job, self.stay)
            if request is None:
                return self._finish(job, self.stay)
            try:
                self._move(manifest, job, build.image, options, request)
            except StartFailed as failure:
                self.event(job.id, f"job failed to restart after the move: {failure}")
                return self._end(job, JobState.FAILED, reason="START_FAILED")

    def _end_unless_final(self, job: Job, reason: str) -> Job:
        """FAILED with `reason`, unless the job already reached a final state before the error."""
        if self.store.job(job.id).state.is_final:
            self.shipper.close()
            return self.store.job(job.id)
        return self._end(job, JobState.FAILED, reason=reason)

    def _never_left_unfinished(self, job: Job, interrupted: bool) -> None:
        """The last safety net: if the clean-up itself failed, or an error struck between two
        handlers, the job still ends (CANCELLED when interrupted, else FAILED)."""
        if self.store.job(job.id).state.is_final:
            return
        if interrupted:
            self.event(job.id, "job cancelled (interrupted); container removed")
            self._end(job, JobState.CANCELLED, reason="CANCELLED_BY_USER")
        else:
            self.event(job.id, "job failed: the agent stopped before the job ended")
            self._end(job, JobState.FAILED, reason="AGENT_ERROR")

    def _clean_up(self, job: Job) -> None:
        """Every way out of _run: the container goes, its watcher stops, every machine the job
        holds is given back, and what is left of the log is shipped."""
        if self.stay is not None:
            runtime.remove_quietly(self.stay.container)
            self.stay.pipeline.abandon()
            self.stay = None
        remove_job_containers(self.home, job.id, self.client)  # one created but never started, too
        disarmed = disarm_job(self.home, job.name)
        if disarmed:
            self.event(job.id, f"cleared setuid/setgid bits or removed special files the job left: {', '.join(disarmed[:20])}")
        self.store.release_job_machines(job.id)
        self.shipper.close()

    def _claim(self, job: Job, prefer: str | None, exclude: str | None, cuda: str | None = None) -> str:
        """A free machine for the job (one whose driver supports `cuda`, when set), waiting for one
        when all are taken. A job no machine could ever run waits PENDING with the reason."""
        capability, source = machine_cuda()
        self.store.ensure_machines(machine_names(), capability)
        eligible = (lambda machine: gpu.satisfies(machine.cuda, cuda))
        waited = False
        while True:
            machine = self.store.claim_machine(job.id, prefer=prefer, exclude=exclude, eligible=eligible,
                                                agent_pid=os.getpid())
            if machine is not None:
                return machine.name
            if prefer is not None and self.store.machine(prefer) is None:
                raise BadInput(f"there is no machine {prefer!r}; machines: {', '.join(machine_names())}.")
            if not waited:
                if cuda and not gpu.satisfies(capability, cuda):
                    reason = f"NO_MACHINE_WITH_CUDA_{cuda}"
                    self.store.set_reason(job.id, reason)
                    self.event(job.id, f"waiting: [job] cuda = \"{cuda}\" needs a machine whose driver supports CUDA {cuda} "
                                       f"or newer; the machines here have {capability or 'no GPU'} ({source})")
                else:
                    self.event(job.id, "waiting for a free machine" + (f" ({prefer} is taken)" if prefer else ""))
                waited = True
            prefer = None  # the preferred machine is taken: the next free one will do
            time.sleep(0.2)
            capability, source = machine_cuda()
            self.store.ensure_machines(machine_names(), capability)

    def _start_stay(self, manifest: Manifest, job: Job, image: str, options: RunOptions, machine: str,
                    restored: dict[str, tuple]) -> Stay:
        container = self._create(manifest, job, image, options, machine)
        pipeline = self._pipeline(manifest, job, machine)
        pipeline.seed(restored)
        pipeline.start()
        try:
            container.start()
        except Exception as error:  # docker.errors.APIError: the engine refused to start it
            pipeline.abandon()
            runtime.remove_quietly(container)
            raise StartFailed(self._start_hint(manifest, options, error)) from None
        return Stay(machine, container, pipeline, time.monotonic())

    def _start_hint(self, manifest: Manifest, options: RunOptions, error: Exception) -> str:
        text = str(getattr(error, "explanation", None) or error)
        if manifest.cuda and not options.cpu:
            return (f"the engine could not start the container with the GPUs ({text}). The Docker engine needs the "
                    "NVIDIA container toolkit for GPU jobs; install it, or run with --cpu to run without a GPU.")
        return f"the engine could not start the container ({text})."

    def _cancel(self, job: Job, stay: Stay | None) -> None:
        """Ctrl-C or `cycle job cancel`: the container goes at once; files that were still waiting
        to upload are recorded as abandoned (the upload in flight finishes)."""
        if stay is not None:
            runtime.remove_quietly(stay.container)
            abandoned = stay.pipeline.abandon().abandoned
            if abandoned:
                self.event(job.id, f"cancelled: {len(abandoned)} artifact(s) abandoned before upload: {', '.join(abandoned[:20])}")
        if not self.store.job(job.id).state.is_final:
            self.event(job.id, "job cancelled by the user (Ctrl-C or `cycle job cancel`); container removed")
            self._end(job, JobState.CANCELLED, reason="CANCELLED_BY_USER")

    def _move(self, manifest: Manifest, job: Job, image: str, options: RunOptions, request: MoveRequest) -> None:
        """Reassignment, as the platform does it: the container on A dies, what waited in A's
        upload queue is lost with A, machine B downloads every uploaded artifact into its
        /artifacts, and run.sh starts again from the same build image (the new self.stay)."""
        stay = self.stay
        old = stay.machine
        self.event(job.id, f"reassignment: job leaves machine {old} ({request.trigger})")
        if request.grace:
            stay.container.stop(timeout=int(request.grace))  # SIGTERM, then SIGKILL after the grace period
            how = f"stopped (SIGTERM, {request.grace:g} s grace)"
        else:
            stay.container.kill()
            how = "killed (SIGKILL)"
        self._drain_logs(stay)
        runtime.remove_quietly(stay.container)
        report = stay.pipeline.abandon()
        self.stay = None
        lost = sorted(set(report.abandoned) | set(stay.pipeline.unstored()))
        self.event(job.id, f"machine {old}: container {how}; {len(lost)} file(s) still waiting in its upload queue were lost"
                           + (f": {', '.join(lost[:20])}" if lost else ""))
        uploaded = len(self.store.artifacts(job.id))
        move_id = self.store.add_move(Move(0, job.id, old, None, request.trigger, now_ns(), uploaded, lost, []))
        self.store.set_state(job.id, JobState.PENDING, reason=f"REASSIGNED_FROM_{old}")
        self.store.release_machine(old, job.id)
        target = self._claim(job, prefer=request.target, exclude=old, cuda=None if options.cpu else manifest.cuda)
        self.event(job.id, f"reassignment: {old} -> {target}")
        started = time.monotonic()
        restored = self._restore(job, target)
        seconds = time.monotonic() - started
        total = sum(size for _, size, _ in restored.values())
        self.event(job.id, f"restored {len(restored)} file(s), {total} bytes in {seconds:.2f} s from storage into machine {target}'s /artifacts")
        self.stay = self._start_stay(manifest, job, image, options, target, restored)
        self.store.set_state(job.id, JobState.RUNNING, machine=target)
        self.store.update_move(move_id, to_machine=target, restored=sorted(restored), restored_bytes=total,
                               restore_seconds=seconds, restarted_ns=now_ns())
        self.stay.move_id = move_id
        self.event(job.id, f"container restarted on machine {target} (container {self.stay.container.short_id}): run.sh starts again")

    def _restore(self, job: Job, machine: str) -> dict[str, tuple]:
        """Download every stored artifact of the job into the machine's fresh /artifacts folder.
        Returns {path: (signature, size, sha256)} so the new watcher knows them as stored.

        Each record names the store that holds it. Storage may be down for a moment: each download
        is retried with backoff ($CYCLE_RESTORE_ATTEMPTS, $CYCLE_RESTORE_BACKOFF_SECONDS); then RestoreFailed."""
        from emulator.storage import StoreCache

        folder = self.home / "machines" / machine / "artifacts" / job.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        delays = backoff_delays(*restore_settings())
        restored = {}
        stores = StoreCache(self.home, self.blobs)  # each record names the store that holds it
        for artifact in self.store.artifacts(job.id):
            relative = artifact_relative(job.name, artifact.key)
            target = Path(os.fsdecode(os.path.join(os.fsencode(folder), relative)))
            target.parent.mkdir(parents=True, exist_ok=True)
            known = StoredObject(artifact.key, artifact.size, artifact.sha256)

            def retrying(error: Exception, attempt: int, delay: float, path: str = artifact.path) -> None:
                self.event(job.id, f"restore: {path} could not be read from {artifact.store or self.blobs.description} ({error}); "
                                   f"attempt {attempt + 1} of {len(delays) + 1} in {delay:g} s")

            where = artifact.store or self.blobs.description
            try:
                with_retries(lambda: stores.get(artifact.store).get_to(artifact.key, target, known=known), delays, retrying)
            except (StorageError, OSError, CycleError) as error:
                raise RestoreFailed(
                    f"RESTORE_FAILED: the job's stored artifacts could not be restored from {where} "
                    f"onto machine {machine} after {len(delays) + 1} attempts over {sum(delays):g} s "
                    f"({artifact.path}: {error}). Check that the store answers (`cycle emulator storage status`) "
                    "and run the job again.") from None
            info = os.lstat(target)
            restored[artifact.path] = ((info.st_size, info.st_mtime_ns), artifact.size, artifact.sha256)
        return restored

    def _create(self, manifest: Manifest, job: Job, image: str, options: RunOptions, machine: str):
        limits = {}
        if not options.skip_limits:
            limits = {"mem_limit": self._memory_limit(), "pids_limit": PIDS_LIMIT}
        artifacts = self.machine_folder(machine, job)
        spec = runtime.ContainerSpec(
            image=image,
            command=["bash", ".cycleswap/run.sh"],
            labels={**self.labels, runtime.LABEL_JOB: str(job.id), runtime.LABEL_KIND: "job"},
            environment=manifest.container_env(),
            binds={str(artifacts): {"bind": "/artifacts", "mode": "rw"}, **self._extra_binds(manifest, job, options)},
            network_mode=resolve_network(self.client, options.network),
            device_requests=gpu.device_requests() if manifest.cuda and not options.cpu else None,
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

    def _extra_binds(self, manifest: Manifest, job: Job, options: RunOptions) -> dict:
        """Read-only mounts: the manifest's volumes at /volumes/<name>, earlier jobs' artifacts."""
        from emulator.volumes import job_artifacts_folder, volume_folder

        binds = {}
        for name in manifest.volumes:
            folder, version = volume_folder(self.home, self.store, self.blobs, name)
            binds[str(folder)] = {"bind": f"/volumes/{name}", "mode": "ro"}
            self.event(job.id, f"volume {name} version {version} mounted read-only at /volumes/{name}")
        for other, path in options.mounts:
            folder = job_artifacts_folder(self.home, self.store, self.blobs, other)
            binds[str(folder)] = {"bind": path, "mode": "ro"}
            self.event(job.id, f"artifacts of job {other} mounted read-only at {path}")
        return binds

    def _memory_limit(self) -> int:
        """90 % of the machine's memory, as the platform sets it; $CYCLE_MEMORY_LIMIT (bytes) overrides it for tests."""
        override = os.environ.get(MEMORY_LIMIT_ENV)
        if override:
            return int(override)
        return int(runtime.engine_memory(self.client) * MEMORY_SHARE)

    def _pump(self, job: Job, stay: Stay) -> MoveRequest | None:
        """Copy stdout and stderr into the log until the container exits (None) or the job must
        move to another machine (the request)."""
        records: queue.Queue = queue.Queue()
        done = object()

        def read(stream: Stream) -> None:
            try:
                for ts, line in runtime.stream_lines(stay.container, stderr=stream is Stream.STDERR):
                    records.put((ts, stream, line))
            finally:
                records.put(done)

        stay.readers = [threading.Thread(target=read, args=(s,), daemon=True) for s in (Stream.STDOUT, Stream.STDERR)]
        stay.records, stay.done = records, done
        for thread in stay.readers:
            thread.start()
        open_streams = len(stay.readers)
        next_check = 0.0
        while open_streams:
            try:
                item = records.get(timeout=MOVE_CHECK_SECONDS)
            except queue.Empty:
                item = None
            batch = []
            while item is not None:
                if item is done:
                    open_streams -= 1
                else:
                    batch.append(item)
                if len(batch) >= FLUSH_RECORDS:
                    break
                try:
                    item = records.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self.shipper.add(batch)
            self._note_first_write(stay)
            if open_streams and time.monotonic() >= next_check:
                next_check = time.monotonic() + MOVE_CHECK_SECONDS
                request = self._move_request(job, stay)
                if request is not None:
                    return request
        return None

    def _drain_logs(self, stay: Stay) -> None:
        """After a kill: keep what the container printed before it died."""
        for thread in stay.readers:
            thread.join(timeout=10)
        batch = []
        while True:
            try:
                item = stay.records.get_nowait()
            except queue.Empty:
                break
            if item is not stay.done:
                batch.append(item)
        self.shipper.add(batch)

    def _note_first_write(self, stay: Stay) -> None:
        if stay.move_id is not None and not stay.first_write_noted and stay.pipeline.first_write is not None:
            stay.first_write_noted = True
            self.store.update_move(stay.move_id, next_artifact_seconds=round(stay.pipeline.first_write - stay.started, 3))

    def _move_request(self, job: Job, stay: Stay) -> MoveRequest | None:
        """The platform's reassignment triggers: a request (`cycle job reassign`, a drill), the
        machine going offline or busy with its owner's work, or the job running too long there."""
        taken = self.store.take_request(job.id)
        if taken is not None:
            target, grace, requester = taken
            return MoveRequest(request_trigger(target, requester), target, grace)
        machine = self.store.machine(stay.machine)
        if machine is not None and machine.state != "available":
            return MoveRequest(f"machine {stay.machine} went {machine.state}", None, None)
        limit = os.environ.get("CYCLE_MAX_RUN_SECONDS")
        if limit and time.monotonic() - stay.started > float(limit):
            return MoveRequest(f"ran longer than {float(limit):g} s on machine {stay.machine}", None, None)
        return None

    def _pipeline(self, manifest: Manifest, job: Job, machine: str) -> ArtifactPipeline:
        self.event(job.id, f"artifacts: /artifacts is watched and uploaded to {self.blobs.description} "
                           f"in {manifest.artifact_upload_order} order")
        return ArtifactPipeline(
            self.machine_folder(machine, job), job.name, self.blobs, manifest.artifact_upload_order,
            on_event=lambda text: self.event(job.id, text),
            on_uploaded=lambda artifact: self.store.add_artifact(job.id, artifact),
            on_queue=lambda length, warning: self.store.set_queue(job.id, length, warning),
        )

    def _finish(self, job: Job, stay: Stay) -> Job:
        container = stay.container
        exit_code = int(container.wait().get("StatusCode", 1))
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        report = stay.pipeline.finish()
        self.event(job.id, f"artifacts: {len(report.uploaded)} upload(s), {report.uploaded_bytes} bytes stored"
                           + (f"; {len(report.failed)} failed" if report.failed else ""))
        state, reason = state_for_exit(exit_code, oom, upload_failed=bool(report.failed))
        if oom:
            self.event(job.id, f"out of memory: the container hit its memory limit and was killed (exit code {exit_code})")
        if report.failure is not None and not oom:  # the pipeline could not work: its reason wins
            state, reason = JobState.FAILED, report.failure.reason
            self.event(job.id, f"job failed ({reason}): {report.failure.message}")
        elif state is JobState.FINISHED:
            self.event(job.id, "job finished: run.sh exited with code 0")
        elif reason == "UPLOAD_ERROR":
            self.event(job.id, f"job failed: run.sh exited with code 0 but {len(report.failed)} artifact(s) could not be "
                               f"stored ({', '.join(report.failed[:10])}); UPLOAD_ERROR is not retried")
        else:
            self.event(job.id, f"job failed: run.sh exited with code {exit_code} ({reason})")
        return self._end(job, state, reason=reason, exit_code=exit_code)

    def _end(self, job: Job, state: JobState, **fields) -> Job:
        """The final state, written only after the log is shipped: whoever sees the job ended
        (tail, the TUI, a drill) finds its whole log."""
        self.shipper.close()
        return self.store.set_state(job.id, state, **fields)

    def sweep(self) -> None:
        """Remove containers of dead runs; their unfinished jobs are marked FAILED (LOST)."""

        def orphan(labels: dict[str, str]) -> None:
            job_id = labels.get(runtime.LABEL_JOB)
            if not job_id:
                return
            text = "the process running this job died; its leftover container was removed"
            self.store.end_abandoned(int(job_id), JobState.FAILED, "LOST", text)

        runtime.sweep(self.client, self.home, orphan)


RESTORE_ATTEMPTS_ENV = "CYCLE_RESTORE_ATTEMPTS"
RESTORE_BACKOFF_ENV = "CYCLE_RESTORE_BACKOFF_SECONDS"
RESTORE_ATTEMPTS = 5
RESTORE_BACKOFF_SECONDS = 1.0  # 1 + 2 + 4 + 8: about 15 s of waiting before a move gives up


class RestoreFailed(Exception):
    """A move could not bring the job's stored artifacts onto its new machine (storage down)."""


def restore_settings() -> tuple[int, float]:
    """(attempts, first delay) for restoring a moved job's artifacts; tests shorten them."""
    return (max(1, int(os.environ.get(RESTORE_ATTEMPTS_ENV, RESTORE_ATTEMPTS))),
            float(os.environ.get(RESTORE_BACKOFF_ENV, RESTORE_BACKOFF_SECONDS)))


def backoff_delays(attempts: int, first: float, factor: float = 2.0) -> list[float]:
    """The waits between `attempts` tries: first, first*factor, … (one fewer than the attempts)."""
    return [first * factor ** i for i in range(attempts - 1)]


def with_retries(action: Callable[[], object], delays: list[float],
                 on_retry: Callable[[Exception, int, float], None],
                 retry_on: tuple[type[Exception], ...] = (StorageError, OSError),
                 sleep: Callable[[float], None] = time.sleep):
    """`action()`, tried again after each of `delays` while it raises `retry_on`; the last
    error propagates. `on_retry(error, attempt, delay)` tells before each wait."""
    for attempt, delay in enumerate([*delays, None], start=1):
        try:
            return action()
        except retry_on as error:
            if delay is None:
                raise
            on_retry(error, attempt, delay)
            sleep(delay)


def describe_error(error: BaseException) -> str:
    """One line for an unexpected error: its type, message and where it was raised."""
    import traceback

    import cycle

    ours = (Path(__file__).resolve().parent, Path(cycle.__file__).resolve().parent)  # where a fix would go
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if any(Path(f.filename).resolve().is_relative_to(folder) for folder in ours)]
    where = f" (in {frames[-1].name}, {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


class Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM (`cycle job cancel`, GNU timeout) cancel the job, once.

    The first one raises KeyboardInterrupt, and at that very moment every later one is only
    noted: the cancel's clean-up (container removed, job CANCELLED, machine freed) cannot itself
    be interrupted, which two interrupts 30 ms apart would otherwise do. A later one says
    "cleaning up…" once. Leaving the block puts the previous handlers back."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.previous: dict[int, object] = {}
        self.said = False
        self.interrupted = False

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._first) for signum in self.SIGNALS}
        return self

    def _first(self, signum, frame) -> None:
        self.hold()
        self.interrupted = True
        raise KeyboardInterrupt

    def hold(self) -> None:
        """From now on an interrupt is only noted: the clean-up runs to its end."""
        for signum in self.previous:
            signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        if not self.said:
            self.said = True
            os.write(2, "cleaning up… (the job is being cancelled: its container removed, its machine freed)\n".encode())

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """The detached agent: `python -m emulator.agent JOB_ID PROJECT_DIR OPTIONS_JSON`.

    Started by `cycle project test --detach`; runs the job to its end in its own session, so it
    outlives the CLI that started it. Whatever goes wrong, the job ends (FAILED, AGENT_ERROR,
    with the error as an event), its containers go and its machine is freed."""
    import json
    import traceback

    from emulator.config import emulator_home
    from emulator.reaper import end_job

    job_id, project_dir, options = (argv or sys.argv[1:])[:3]
    try:
        from emulator.platform import EmulatorPlatform

        platform = EmulatorPlatform()
        platform.run_existing(int(job_id), Path(project_dir), RunOptions(**json.loads(options)))
    except JobCancelled:
        return 130
    except BaseException as error:  # noqa: BLE001 - the job must end whatever happened
        traceback.print_exc()  # into agents/<job>.log
        text = error.message if isinstance(error, CycleError) else describe_error(error)
        home = emulator_home()
        end_job(StateStore(home / "state.db"), home, int(job_id), JobState.FAILED, "AGENT_ERROR",
                f"job failed: the agent stopped on an error: {text}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
