"""The emulator behind the Platform protocol: what the CLI calls, wired to the real engine."""

from __future__ import annotations

import difflib
from pathlib import Path

from cycle.errors import BadInput
from cycle.manifest import find_project_root, load_manifest
from cycle.platform import LogSink, TestOptions
from emulator import runtime
from emulator.agent import JobRunner, RunOptions
from emulator.config import emulator_home, image_for, version_env_name
from emulator.models import Job, JobState, LogRecord, Stream
from emulator.state import StateStore
from emulator.storage import open_blob_store


class EmulatorPlatform:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or emulator_home()
        self.store = StateStore(self.home / "state.db")

    def test_project(self, project_dir: Path, options: TestOptions, sink: LogSink) -> Job:
        manifest = load_manifest(find_project_root(project_dir))
        client = runtime.connect()
        base = image_for(manifest.ubuntu_version, self.home)
        base_image = runtime.require_image(
            client, base.image, f"The base image for [ubuntu] version \"{manifest.ubuntu_version}\" ({base.source})",
            "Make the offline stand-in with `cycle emulator base-image`, map an image you have with "
            f"{version_env_name(manifest.ubuntu_version)}=<image> or CYCLE_BASE_IMAGE=<image>, or pull it "
            f"explicitly where a registry is reachable: `cycle emulator pull {manifest.ubuntu_version}`.",
        )
        runner = JobRunner(self.home, self.store, client, sink, open_blob_store(self.home))
        runner.sweep()
        return runner.run(manifest, base, base_image, RunOptions(
            rebuild=options.rebuild, clean=options.clean, skip_limits=options.skip_limits, network=options.network,
        ))

    def jobs(self, state: JobState | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        return self.store.jobs(state, limit, offset)

    def job(self, name: str) -> Job:
        job = self.store.job_by_name(name)
        if job is None:
            close = difflib.get_close_matches(name, self.store.job_names(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else " `cycle job list` shows the jobs."
            raise BadInput(f"No job named {name!r}.{hint}")
        return job

    def logs(self, name: str, stream: Stream | None = None) -> list[LogRecord]:
        return self.store.logs(self.job(name).id, stream)
