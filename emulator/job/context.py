"""What every stage of a job's flow shares: the run's options, the job's context and its stay on a machine."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cycle.api.manifest import Manifest
from cycle.api.options import RunOptions  # noqa: F401  (the contract's: the flags an agent runs a job with)
from emulator.blobs import BlobStore
from emulator.config import ImageChoice
from emulator.engine.protocol import ContainerRuntime, ImageInfo
from emulator.logship import LogShipper
from emulator.models import Job, JobState, Stream, now_ns
from emulator.settings import Settings
from emulator.store import StateStore

Sink = Callable[[int, Stream, str], None]


class StartFailed(Exception):
    """The engine refused to start a container (e.g. GPUs asked for, no NVIDIA runtime)."""


class RestoreFailed(Exception):
    """A move could not bring the job's stored artifacts onto its new machine (storage down)."""


class CancelRequested(Exception):
    """`cycle job cancel` (a 'cancel' request in the requests table) reached the job's agent;
    `by` names who asked (the request's requester, e.g. "`cycle tui`", else `cycle job cancel`)."""

    def __init__(self, requester: str | None = None) -> None:
        super().__init__(requester)
        self.by = requester or "`cycle job cancel`"


@dataclass
class Stay:
    """One stretch of the job on one machine: its container (the engine's id) and its artifact pipeline."""

    machine: str
    container: str
    pipeline: Any  # emulator.artifacts.ArtifactPipeline
    started: float
    move_id: int | None = None
    first_write_noted: bool = False
    output: Any = None  # the runtime's output(container), attached before the container started
    readers: list = field(default_factory=list)
    records: Any = None
    done: Any = None
    removal: Any = None  # concurrent.futures.Future of the container's removal, once it exited (finish.py)


@dataclass
class JobContext:
    """One job's run: where it runs (home, store, container runtime, blob store, settings), what it runs
    (manifest, images, options), and where it is (the current stay). Stages read and update it."""

    home: Path
    store: StateStore
    runtime: ContainerRuntime
    blobs: BlobStore
    settings: Settings
    labels: dict[str, str]
    job: Job
    shipper: LogShipper
    manifest: Manifest | None = None
    options: RunOptions = RunOptions()
    base: ImageChoice | None = None
    base_image: ImageInfo | None = None
    image: str | None = None  # the build image, once built
    stay: Stay | None = None

    @property
    def cuda(self) -> str | None:
        """The CUDA version the job's machine must support (none with --cpu)."""
        return None if self.options.cpu or self.manifest is None else self.manifest.cuda

    def event(self, text: str) -> None:
        """A system event: shown live, stored with the job's log at the next shipment."""
        self.shipper.add([(now_ns(), Stream.SYSTEM, text)])

    def current(self) -> Job:
        return self.store.job(self.job.id)

    def end(self, state: JobState, **fields) -> Job:
        """The final state, written only after the log is shipped: whoever sees the job ended
        (tail, the TUI, a drill) finds its whole log. The soft quota's warning comes first, so a
        foreground run shows it before its final line, and the log keeps it."""
        self.warn_over_soft_quota()
        self.shipper.close()
        return self.store.set_state(self.job.id, state, **fields)

    def warn_over_soft_quota(self) -> None:
        """The storage quota is soft, as on the peer platform: a warning as an event (shown live,
        kept in the log), never a rejection. Said at the job's end, once its artifacts are stored."""
        quota = self.settings.storage_quota_bytes
        if not quota:
            return
        try:
            used = self.store.quota_used()  # what `cycle emulator usage` totals: the same bytes
        except Exception:  # noqa: BLE001 - a hint only: it must never keep the final state from being written
            return
        if used > quota:
            self.event(f"warning: storage usage {used} bytes exceeds the soft quota of {quota} bytes; "
                       "uploads are never rejected")

    def machine_folder(self, machine: str) -> Path:
        """The job's /artifacts on the machine's local disk. machines/ and the machine's folder are
        private to the user (0700), so nothing a job leaves there (a setuid file made as root in
        the container) is reachable by another user of the host."""
        disk = self.home / "machines" / machine
        for private in (disk.parent, disk):
            private.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(private, 0o700)  # also when an earlier version made it 0755
        folder = job_folder(self.home, machine, self.job.name)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def job_folder(home: Path, machine: str, job_name: str) -> Path:
    """The job's folder on a machine's local disk: bound at /artifacts while it runs there
    (JobContext.machine_folder makes it), wiped when the job moves off (job/move.py)."""
    return home / "machines" / machine / "artifacts" / job_name


def job_folders(home: Path, job_name: str) -> list[Path]:
    """job_folder on every machine that has one (a job may have run on several), in name order."""
    return sorted(home.glob(f"machines/*/artifacts/{glob.escape(job_name)}"))
