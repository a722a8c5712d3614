"""The emulator behind the Platform protocol: what the CLI, the SDK and the TUI call."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cycle.api.options import DrillOptions, RunOptions, TestOptions
from cycle.api.platform import DrillReport, LogSink
from cycle.errors import BadInput, CycleError
from cycle.manifest import Manifest, find_project_root, load_manifest
from emulator.blobs import BlobStore, StoredObject
from emulator.config import ImageChoice, emulator_home, image_for, version_env_name
from emulator.engine import docker as runtime
from emulator.job.runner import JobRunner
from emulator.models import Artifact, Job, JobState, LogRecord, Machine, Move, Stream, now_ns
from emulator.reaper import end_job, reap, remove_job_containers
from emulator.rules.keys import artifact_prefix, check_job_name
from emulator.settings import load as load_settings
from emulator.storage import StoreCache, open_blob_store
from emulator.store import StateStore

CANCEL_WAIT_SECONDS = 30.0  # for an agent to answer SIGTERM
REQUEST_WAIT_SECONDS = 5.0  # for an agent to take a cancel request (it polls every 0.2 s while the job runs)


@dataclass
class Prepared:
    """Everything checked before a job starts, so bad input fails at once, not in the background."""

    manifest: Manifest
    client: object
    base: ImageChoice
    base_image: object
    blobs: BlobStore
    # said before the job starts, e.g. that the project took its name over from a moved folder
    notice: str | None = None


class EmulatorPlatform:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or emulator_home()
        self.store = StateStore(self.home / "state.db")
        self._stores: StoreCache | None = None

    def _named_store(self, name: str | None) -> BlobStore:
        """The store an artifact record names (opened once per platform object)."""
        if self._stores is None:
            self._stores = StoreCache(self.home)
        return self._stores.get(name)

    # starting jobs
    def prepare(self, project_dir: Path, options: TestOptions | None = None, waits: bool = False,
                claim: bool = True) -> Prepared:
        """Check everything a run needs; `waits` (a detached job) may wait for a GPU machine.
        `claim`: the project's folder must own its name (not for a queued checkout of an upload)."""
        from emulator.engine import gpu
        from emulator.volumes import check_mount_path, latest_version

        options = options or TestOptions()
        manifest = load_manifest(find_project_root(project_dir))
        notice = self._claim_name(manifest) if claim else None
        for name in manifest.volumes:
            latest_version(self.store, name)
        for job_name, path in options.mounts:
            check_mount_path(path)
            job = self.job(job_name)
            if job.archived:
                raise BadInput(f"--mount-job: job {job_name} is archived: its artifacts were deleted from storage "
                               "(`cycle job archive`), so there is nothing to mount.")
            if not self.store.artifacts(job.id):
                raise BadInput(f"--mount-job: job {job_name} has no stored artifacts to mount.")
        if manifest.cuda and not options.cpu and not waits:
            capability, source = gpu.machine_cuda()
            if not gpu.satisfies(capability, manifest.cuda):
                raise CycleError(
                    f"[job] cuda = \"{manifest.cuda}\" ({manifest.path}) needs a machine whose driver supports CUDA "
                    f"{manifest.cuda} or newer, and none here does: {capability or 'no GPU'} ({source}). "
                    "Run with --cpu to run it anyway without a GPU, or `--detach` to queue it until such a machine "
                    "exists.")
        client = runtime.connect()
        base = image_for(manifest.ubuntu_version, self.home)
        base_image = runtime.require_image(
            client, base.image, f"The base image for [ubuntu] version \"{manifest.ubuntu_version}\" ({base.source})",
            "Make the offline stand-in with `cycle emulator base-image`, map an image you have with "
            f"{version_env_name(manifest.ubuntu_version)}=<image> or CYCLE_BASE_IMAGE=<image>, or pull it "
            f"explicitly where a registry is reachable: `cycle emulator pull {manifest.ubuntu_version}`.",
        )
        return Prepared(manifest, client, base, base_image, open_blob_store(self.home), notice)

    def _claim_name(self, manifest: Manifest) -> str | None:
        """A project name is unique (per organization on the platform): a second folder with the
        same [main] name is refused while the first still holds that manifest; a folder that
        moved (the old one is gone or names another project now) takes the name over."""
        previous, claimed = self.store.claim_project(manifest.name, manifest.root,
                                                     lambda folder: _still_names(folder, manifest.name))
        if previous is None:
            return None
        if not claimed:
            raise BadInput(
                f"[main] name = \"{manifest.name}\" in {manifest.path} is already the name of the project in "
                f"{previous}: "
                f"project names are unique, and two folders sharing one would mix their jobs. Rename the project in "
                f"{manifest.path} (or the other one in {previous / '.cycleswap' / 'manifest.toml'}); if {previous} is "
                "an "
                "old copy you no longer use, delete it (or its .cycleswap/manifest.toml) and this folder takes the "
                "name over.")
        return (f"project {manifest.name}: its folder moved from {previous} (no longer holds this project) to "
                f"{manifest.root}; the name now belongs to {manifest.root}. Jobs started before stay with {previous}.")

    def _runner(self, prepared: Prepared, sink: LogSink) -> JobRunner:
        runner = JobRunner(self.home, self.store, prepared.client, sink, prepared.blobs)
        runner.sweep()
        return runner

    def test_project(self, project_dir: Path, options: TestOptions, sink: LogSink) -> Job:
        prepared = self.prepare(project_dir, options)
        if prepared.notice:
            sink(now_ns(), Stream.SYSTEM, prepared.notice)
        return self._runner(prepared, sink).run(prepared.manifest, prepared.base, prepared.base_image,
                                                RunOptions.of(options))

    def start_detached(self, project_dir: Path, options: TestOptions, queued: bool = False) -> Job:
        """Create the job and hand it to a background agent process that outlives the CLI."""
        prepared = self.prepare(project_dir, options, waits=True, claim=not queued)
        self.store.upsert_project(prepared.manifest.name, prepared.manifest.root)
        job = self.store.create_job(prepared.manifest.name, agent_pid=os.getpid())  # ours until the agent runs
        if prepared.notice:
            self.store.append_logs(job.id, [(now_ns(), Stream.SYSTEM, prepared.notice)])
        logs = self.home / "agents"
        logs.mkdir(exist_ok=True)
        with open(logs / f"{job.name}.log", "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "emulator.job.agent_main", str(job.id), str(prepared.manifest.root),
                 json.dumps(dataclasses.asdict(RunOptions.of(options, queued=queued)))],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "CYCLE_HOME": str(self.home)},
            )
        self.store.set_agent(job.id, process.pid)
        return self.store.job(job.id)

    def run_existing(self, job_id: int, project_dir: Path, options: RunOptions) -> Job:
        """The detached agent's side of start_detached."""
        job = self.store.job(job_id)
        try:
            # the name was claimed when the job was created (a queued job runs from a checkout folder)
            prepared = self.prepare(project_dir, TestOptions(cpu=options.cpu, mounts=options.mounts), waits=True,
                                    claim=False)
        except CycleError as error:
            self.store.append_logs(job.id, [(now_ns(), Stream.SYSTEM, f"job could not start: {error.message}")])
            return self.store.set_state(job.id, JobState.FAILED, reason="START_FAILED")
        return self._runner(prepared, lambda *record: None).run(
            prepared.manifest, prepared.base, prepared.base_image, options, job=job)

    # reading
    def reap(self) -> list[int]:
        """End the jobs whose agent died (FAILED, LOST): every read sees the truth within seconds."""
        return reap(self.store, self.home)

    def jobs(self, state: JobState | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        self.reap()
        return self.store.jobs(state, limit, offset)

    def job(self, name: str) -> Job:
        check_job_name(name)
        self.reap()
        job = self.store.job_by_name(name)
        if job is None:
            close = difflib.get_close_matches(name, self.store.job_names(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else " `cycle job list` shows the jobs."
            raise BadInput(f"No job named {name!r}.{hint}")
        return job

    def logs(self, name: str, stream: Stream | None = None, after_id: int = 0, since_ns: int = 0) -> list[LogRecord]:
        return self.store.logs(self.job(name).id, stream, after_id, since_ns)

    def logs_before(self, name: str, before_id: int | None, limit: int,
                    stream: Stream | None = None) -> list[LogRecord]:
        return self.store.logs_before(self.job(name).id, before_id, limit, stream)

    def artifacts(self, name: str) -> list[Artifact]:
        """What is stored for the job (newest version of each file); nothing once it is archived."""
        job = self.job(name)
        return [] if job.archived else self.store.artifacts(job.id)

    def queued_artifacts(self, name: str) -> list[str]:
        """Files on the job's current machine that are not stored as they are now (still waiting)."""
        job = self.job(name)
        if job.state is not JobState.RUNNING or not job.machine:
            return []
        folder = self.home / "machines" / job.machine / "artifacts" / job.name
        stored = {a.path: a.size for a in self.store.artifacts(job.id)}
        waiting = []
        for base, _dirs, files in os.walk(folder):
            for file in files:
                path = Path(base) / file
                rel = path.relative_to(folder).as_posix()
                try:
                    size = path.lstat().st_size
                except OSError:
                    continue
                if stored.get(rel) != size:
                    waiting.append(rel)
        return sorted(waiting)

    def artifact_versions(self, name: str) -> list[Artifact]:
        """Every stored version of the job's files, in upload order."""
        return self.store.artifact_versions(self.job(name).id)

    def blob_store(self) -> BlobStore:
        return open_blob_store(self.home)

    def download_artifact(self, artifact: Artifact, dest: Path, progress=None) -> None:
        """Fetch one stored artifact into `dest` (atomically, checked against its sha256), from
        the store its record names, whichever store is configured now."""
        self._named_store(artifact.store).get_to(artifact.key, dest, progress,
                                                 known=StoredObject(artifact.key, artifact.size, artifact.sha256))

    def project_root(self, job: Job) -> Path | None:
        """The folder the job was started from (older records: its project's folder)."""
        return Path(job.project_root) if job.project_root else self.store.project_root(job.project)

    # acting
    def cancel(self, name: str) -> Job:
        """Cancel a PENDING or RUNNING job the way every request reaches its agent: a 'cancel' row in
        the requests table, taken by the agent's log pump (or its wait for a machine), so the agent
        alone writes the job's state. An agent that does not answer (busy building) gets SIGTERM;
        with no live agent, the job is ended here."""
        job = self.job(name)
        if job.state.is_final:
            raise BadInput(f"job {name} is already {job.state.value}; only PENDING or RUNNING jobs can be cancelled.")
        if job.agent_pid and runtime.pid_alive(job.agent_pid):
            self.store.request_cancel(job.id)
            if self._agent_ended(job, REQUEST_WAIT_SECONDS):
                return self.store.job(job.id)
            if runtime.pid_alive(job.agent_pid):
                os.kill(job.agent_pid, signal.SIGTERM)
                if self._agent_ended(job, CANCEL_WAIT_SECONDS):
                    return self.store.job(job.id)
        # no live agent (or it did not answer): clean up here
        text = ("job cancelled (`cycle job cancel`); its agent was gone or did not answer: container removed, "
                "machine freed")
        if not end_job(self.store, self.home, job.id, JobState.CANCELLED, "CANCELLED_BY_USER", text):
            remove_job_containers(self.home, job.id)  # it ended meanwhile: still, leave no container
        return self.store.job(job.id)

    def _agent_ended(self, job: Job, seconds: float) -> bool:
        """Wait up to `seconds` for the job's agent to end the job; False when it has not (or died first)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and runtime.pid_alive(job.agent_pid):
            if self.store.job(job.id).state.is_final:
                return True
            time.sleep(0.1)
        return self.store.job(job.id).state.is_final

    def reassign(self, name: str, to: str | None = None, grace: float | None = None, wait: float = 120.0,
                 requester: str | None = None) -> Move:
        """Move a running job to another machine (from any terminal) and wait until it restarted.
        `requester` (e.g. "cycle tui") is named in the move's trigger; default `cycle job reassign`."""
        from emulator.job.machine import machine_names

        job = self.job(name)
        if job.state is not JobState.RUNNING:
            raise BadInput(f"job {name} is {job.state.value}: only a RUNNING job can be reassigned"
                           + (" (it has ended)." if job.state.is_final else " (wait until it runs)."))
        if to is not None and to not in machine_names():
            raise BadInput(f"--to {to!r} is not a machine. Machines: {', '.join(machine_names())} (`cycle emulator "
                           "machines`).")
        if to is not None and to == job.machine:
            raise BadInput(f"job {name} already runs on {to}; pick another machine.")
        before = len(self.store.moves(job.id))
        self.store.request_move(job.id, to, grace, requester)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            moves = self.store.moves(job.id)
            if len(moves) > before and moves[-1].restarted_ns:
                return moves[-1]
            if self.store.job(job.id).state.is_final:
                raise CycleError(f"job {name} ended before it could be moved ({self.store.job(job.id).state.value}).")
            time.sleep(0.05)
        raise CycleError(f"job {name} did not restart on another machine within {wait:.0f} s; see `cycle job logs "
                         f"{name}`.")

    def moves(self, name: str) -> list[Move]:
        return self.store.moves(self.job(name).id)

    def drill(self, project_dir: Path, plan: DrillOptions, say: Callable[[str], None],
              options: TestOptions) -> DrillReport:
        """Run the project detached, move it as `plan` says, and judge whether it resumed."""
        from emulator.drill import DrillPlan, run_drill

        return run_drill(self, project_dir, DrillPlan(**dataclasses.asdict(plan)), say, options)

    def machines(self) -> list[Machine]:
        from emulator.engine import gpu
        from emulator.job.machine import machine_names

        self.store.ensure_machines(machine_names(), gpu.machine_cuda()[0])  # the one capability read, as claims do
        self.reap()  # a machine whose job's agent died shows free
        return self.store.machines()

    def set_machine_state(self, name: str, state: str) -> Machine:
        if state not in ("available", "busy", "offline"):
            raise BadInput(f"machine state {state!r} is not one of available, busy, offline.")
        if name not in {m.name for m in self.machines()}:
            raise BadInput(f"there is no machine {name!r}; machines: {', '.join(m.name for m in self.machines())}.")
        self.store.set_machine_state(name, state)
        return self.store.machine(name)

    def upload_project(self, project_dir: Path, options: TestOptions, progress=None, sink: LogSink | None = None):
        """Snapshot the project as a new version and build its image with the project-test cache."""
        from emulator.build import Builder
        from emulator.upload import upload_project

        prepared = self.prepare(project_dir, options, waits=True)
        manifest = prepared.manifest
        version, files, new_bytes = upload_project(self.store, prepared.blobs, manifest.name, manifest.root, progress)
        self.store.upsert_project(manifest.name, manifest.root)
        say = (lambda text: sink(now_ns(), Stream.SYSTEM, text)) if sink else (lambda text: None)
        if prepared.notice:
            say(prepared.notice)
        labels = {runtime.LABEL: "1", runtime.LABEL_HOME: runtime.home_label(self.home),
                  runtime.LABEL_PID: str(os.getpid())}
        build = Builder(prepared.client, self.store, labels, say).ensure(
            manifest, prepared.base_image, options.rebuild, options.clean, options.network)
        return version, len(files), new_bytes, build.image

    def queue(self, project: str, options: TestOptions) -> Job:
        """Start the latest uploaded version of `project` detached; it waits for a scheduler pass."""
        from emulator.upload import checkout

        folder, version = checkout(self.home, self.store, self.blob_store(), project)
        return self.start_detached(folder, dataclasses.replace(options), queued=True)

    def upload_volume(self, name: str, folder: Path, progress=None):
        from emulator.volumes import upload_volume

        return upload_volume(self.store, self.blob_store(), name, folder, progress)

    def volumes(self) -> list:
        """The newest version of every volume."""
        return [self.store.volume_versions(name)[-1] for name in self.store.volume_names()]

    def volume_versions(self, name: str) -> list:
        from emulator.volumes import check_volume_name

        versions = self.store.volume_versions(check_volume_name(name))
        if not versions:
            raise BadInput(f"volume {name!r} was never uploaded. `cycle volume list` shows the volumes.")
        return versions

    def usage(self) -> dict:
        volumes = sum(v.new_bytes for name in self.store.volume_names() for v in self.store.volume_versions(name))
        return {"projects": self.store.usage(), "volumes": volumes,
                "quota": load_settings().storage_quota_bytes}

    def outbox(self) -> list[dict]:
        from emulator.mail import read_outbox

        return read_outbox(self.home)

    def archive(self, name: str) -> Job:
        """Delete the job's stored artifacts; the record (and its log) stays, marked archived."""
        job = self.job(name)
        if not job.state.is_final:
            raise BadInput(f"job {name} is {job.state.value}; archive it once it has ended (or cancel it first).")
        if job.archived:
            return job
        for store_name in {artifact.store for artifact in self.store.artifact_versions(job.id)} or {None}:
            self._named_store(store_name).delete_prefix(artifact_prefix(job.name))
        self.store.set_archived(job.id)
        return self.store.job(job.id)


    # log navigation for viewers (queries in emulator/queries.py)
    def logs_after(self, name: str, after_id: int, limit: int, stream: Stream | None = None) -> list[LogRecord]:
        """The `limit` lines after the cursor (0: the first page), oldest first: a viewer's `g`."""
        from emulator.queries import logs_after

        return logs_after(self.store, self.job(name).id, after_id, limit, stream)

    def log_position(self, name: str, line_id: int | None, stream: Stream | None = None) -> int:
        """How many lines precede `line_id` (None: the log's length): a viewer's "line N of M"."""
        from emulator.queries import log_position

        return log_position(self.store, self.job(name).id, line_id, stream)

    def search_logs(self, name: str, needle: str, stream: Stream | None = None) -> list[int]:
        """Ids of the lines holding `needle` in the whole stored log, searched in sqlite."""
        from emulator.queries import search_logs

        return search_logs(self.store, self.job(name).id, needle, stream)

def _still_names(folder: Path, name: str) -> bool:
    """True while `folder` holds a project manifest whose [main] name is `name` (an unreadable
    manifest counts: better to ask than to take a name from a folder that may still use it)."""
    import tomllib

    path = folder / ".cycleswap" / "manifest.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError, UnicodeDecodeError):
        return path.exists()
    main = data.get("main")
    return isinstance(main, dict) and main.get("name") == name
