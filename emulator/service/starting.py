"""Starting jobs: checks before a job starts, the foreground run, detached agents, uploaded versions.

One part of EmulatorPlatform (emulator/platform.py composes the parts); each part uses the
platform's `home` and `store` and may call the others' methods through `self`. The engine, the
runner and the manifest reader are imported when a job starts, not when the platform opens."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cycle.api.options import RunOptions, TestOptions
from cycle.api.platform import LogSink
from cycle.errors import BadInput, CycleError
from emulator.models import Job, JobState, Stream, now_ns

if TYPE_CHECKING:
    from cycle.api.manifest import Manifest
    from emulator.blobs import BlobStore
    from emulator.config import ImageChoice
    from emulator.engine.protocol import ContainerRuntime, ImageInfo
    from emulator.job.runner import JobRunner


@dataclass
class Prepared:
    """Everything checked before a job starts, so bad input fails at once, not in the background."""

    manifest: Manifest
    engine: ContainerRuntime
    base: ImageChoice
    base_image: ImageInfo
    blobs: BlobStore
    # said before the job starts, e.g. that the project took its name over from a moved folder
    notice: str | None = None


def _stand_in_hint(api) -> str:
    """The first way out of a missing base image: map the offline stand-in when the engine already
    has it (another emulator home made it: this one's config.toml just does not name it), else make it."""
    from emulator.engine.baseimage import DEBIAN_TAG
    from emulator.engine.docker import image_info

    try:
        present = image_info(api, DEBIAN_TAG) is not None
    except CycleError:
        present = False
    if present:
        return (f"The offline stand-in {DEBIAN_TAG} is already in this engine (made for another emulator home): "
                "`cycle emulator base-image` maps it to this home in a second; or ")
    return "Make the offline stand-in with `cycle emulator base-image`, "


class Starting:
    def prepare(self, project_dir: Path, options: TestOptions | None = None, waits: bool = False,
                claim: bool = True) -> Prepared:
        """Check everything a run needs; `waits` (a detached job) may wait for a GPU machine.
        `claim`: the project's folder must own its name (not for a queued checkout of an upload)."""
        from cycle.api.manifest import check_scripts, find_project_root, load_manifest, volumes_place
        from emulator.config import image_for, version_env_name
        from emulator.context import read_ignore_patterns
        from emulator.engine import docker as runtime
        from emulator.engine import gpu
        from emulator.engine.dockerd import check_network
        from emulator.engine.runtime import DockerRuntime
        from emulator.storage import open_blob_store
        from emulator.volumes import check_mount_path, job_artifacts_folder, latest_version

        options = options or TestOptions()
        # input first (the folder, the manifest, the flags, this machine), what is recorded after:
        # refused input leaves an empty home as it was (the store creates it on first use)
        manifest = load_manifest(find_project_root(project_dir))
        check_scripts(manifest.root)  # a job without run.sh or build.sh would only fail after its build
        read_ignore_patterns(manifest.root)  # a .cycleignore line that is no pattern: refused before any job
        for _job_name, path in options.mounts:
            check_mount_path(path)
        if manifest.cuda and not options.cpu and not waits:
            capability, source = gpu.machine_cuda()
            if not gpu.satisfies(capability, manifest.cuda):
                raise CycleError(
                    f"[job] cuda = \"{manifest.cuda}\" ({manifest.path}) needs a machine whose driver supports CUDA "
                    f"{manifest.cuda} or newer, and none here does: {capability or 'no GPU'} ({source}). "
                    "Run with --cpu to run it anyway without a GPU, or `--detach` to queue it until such a machine "
                    "exists.")
        api = runtime.connect()
        check_network(api, options.network)
        base = image_for(manifest.ubuntu_version, self.home)
        base_image = runtime.require_image(
            api, base.image, f"The base image for [ubuntu] version \"{manifest.ubuntu_version}\" ({base.source})",
            lambda: _stand_in_hint(api) + f"map an image you have with {version_env_name(manifest.ubuntu_version)}"
            "=<image> or CYCLE_BASE_IMAGE=<image>, or pull it explicitly where a registry is reachable: "
            f"`cycle emulator pull {manifest.ubuntu_version}`.",  # asked only when the image is missing
        )
        for name in manifest.volumes:
            latest_version(self.store, name, volumes_place(manifest))
        for job_name, _path in options.mounts:
            job = self.job(job_name)
            if job.archived:
                raise BadInput(f"--mount-job: job {job_name} is archived: its artifacts were deleted from storage "
                               "(`cycle job archive`), so there is nothing to mount.")
            if not self.store.artifacts(job.id):
                raise BadInput(f"--mount-job: job {job_name} has no stored artifacts to mount.")
        blobs = open_blob_store(self.home)
        if not waits:  # a run in this terminal fetches them now: storage that lost them refuses it, no job made
            for job_name, _path in options.mounts:
                job_artifacts_folder(self.home, self.store, blobs, job_name)  # kept for the agent (mounts/)
        notice = self._claim_name(manifest) if claim else None  # last: a refused run claims no name
        return Prepared(manifest, DockerRuntime(api), base, base_image, blobs, notice)

    def _claim_name(self, manifest: Manifest) -> str | None:
        """A project name is unique (per organization on the platform): a second folder with the
        same [main] name is refused while the first still holds that manifest; a folder that
        moved (the old one is gone or names another project now) takes the name over."""
        from emulator.upload import is_version_checkout

        def still_owned(folder: Path) -> bool:  # the emulator's checkout of a version owns nothing
            return not is_version_checkout(self.home, folder) and _still_names(folder, manifest.name)

        previous, claimed = self.store.claim_project(manifest.name, manifest.root, still_owned)
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
        from emulator.job.runner import JobRunner

        runner = JobRunner(self.home, self.store, prepared.engine, sink, prepared.blobs)
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
        import subprocess  # here: opening the platform to read a log need not import it (issue 14)

        prepared = self.prepare(project_dir, options, waits=True, claim=not queued)
        if not queued:  # a queued job runs from the emulator's checkout: the project's folder is the uploader's
            self.store.upsert_project(prepared.manifest.name, prepared.manifest.root)
        job = self.store.create_job(prepared.manifest.name, agent_pid=os.getpid())  # ours until the agent runs
        if queued:  # said from its first moment, not only once its agent runs (a script saw `reason: null`)
            from emulator.rules.placement import WAITING_FOR_SCHEDULER

            self.store.set_reason(job.id, WAITING_FOR_SCHEDULER)
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

    def upload_project(self, project_dir: Path, options: TestOptions, progress=None, sink: LogSink | None = None):
        """Snapshot the project as a new version (unless unchanged) and build its image with the project-test cache."""
        from emulator.build import Builder
        from emulator.context import ignore_note
        from emulator.engine import protocol
        from emulator.upload import upload_project

        prepared = self.prepare(project_dir, options, waits=True)
        manifest = prepared.manifest
        version, files, new_bytes, created = upload_project(self.store, prepared.blobs, manifest.name, manifest.root,
                                                            progress)
        self.store.upsert_project(manifest.name, manifest.root)
        say = (lambda text: sink(now_ns(), Stream.SYSTEM, text)) if sink else (lambda text: None)
        if prepared.notice:
            say(prepared.notice)
        note = ignore_note(manifest.root)
        if note:
            say(note)
        labels = {protocol.LABEL: "1", protocol.LABEL_HOME: protocol.home_label(self.home),
                  protocol.LABEL_PID: str(os.getpid())}
        build = Builder(prepared.engine, self.store, labels, say).ensure(
            manifest, prepared.base_image, options.rebuild, options.clean, options.network)
        return version, len(files), new_bytes, build.image, created

    def queue(self, project: str, options: TestOptions) -> Job:
        """Start the latest uploaded version of `project` detached; it waits for a scheduler pass."""
        from emulator.upload import checkout, no_upload

        if not self.has_state():  # nothing was ever uploaded here: say so without creating the home
            raise no_upload(project)
        folder, version = checkout(self.home, self.store, self.blob_store, project)
        return self.start_detached(folder, dataclasses.replace(options), queued=True)

    def changes_since_upload(self, project: str, folder: Path) -> tuple[int, list[str]] | None:
        from emulator.upload import changes_since_upload

        if not self.has_state():
            return None
        return changes_since_upload(self.store, project, folder)


def _still_names(folder: Path, name: str) -> bool:
    """True while `folder` holds a project manifest whose [main] name is `name` (an unreadable
    manifest counts: better to ask than to take a name from a folder that may still use it)."""
    from cycle.api.manifest import manifest_path, project_name

    try:
        return project_name(folder) == name
    except FileNotFoundError:
        return False
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return manifest_path(folder).exists()
