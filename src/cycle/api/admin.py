"""The EmulatorAdmin protocol: what `cycle emulator …` does to the local platform (cycle.api).

Engine, base images, the doctor, the artifact store, the simulated machines, usage, the outbox
and the home folder. Only the emulator has these; the hosted platform would not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypedDict

from cycle.api.models import Machine

Say = Callable[[str], None]


@dataclass(frozen=True)
class ImageStatus:
    """Which image an [ubuntu] version maps to, why (in words), and whether the engine has it."""

    version: str
    present: bool
    explanation: str
    image: str = ""  # the reference the version maps to (a tag or an id)


@dataclass(frozen=True)
class DoctorReport:
    """The doctor's checks, as text and as records, and the exit code they call for (1 on a FAIL)."""

    text: str
    records: list[dict[str, object]]
    exit_code: int


class ProjectUsage(TypedDict):
    project: str
    artifacts: int
    logs: int


class DiskPart(TypedDict):
    """One part of what the emulator home holds on disk (bytes as du counts them)."""

    part: str  # e.g. "ended_working_copies", "old_artifact_versions"
    bytes: int
    what: str  # the part in words, with how to free it where a command does
    jobs: int | None  # the working-copy parts: how many jobs' copies (None for the others)


class BuildImagesUsage(TypedDict):
    """The home's build images in the Docker engine (outside the home): their own layers' bytes."""

    counted: bool  # False: no engine answered, so images and bytes are not known
    images: int  # the images in the engine; when not counted, the builds recorded (some images may be gone)
    bytes: int
    note: str


class S3Holding(TypedDict):
    """Artifacts (the newest version of each file of jobs not archived) that one S3 server alone holds."""

    server: str  # host:port
    store: str  # the store's name in the records, s3://<host>/<bucket>
    jobs: int
    files: int
    bytes: int


class Usage(TypedDict):
    projects: list[ProjectUsage]
    volumes: int
    quota: int | None
    quota_used: int  # what the soft quota counts: every project's artifacts and logs, and volumes
    home: str
    on_disk_total: int  # the home on disk, du's figure: the sum of on_disk
    on_disk: list[DiskPart]
    build_images: BuildImagesUsage
    s3_lost: S3Holding | None  # stored on cycle's moto server before it last started: gone


class StorageStatus(TypedDict):
    """`cycle emulator storage status`: the configured store, and what cycle's moto server holds."""

    kind: str  # local | s3
    store: str  # the store's name in artifact records: local, s3://<host>/<bucket>
    description: str
    moto_server: str | None  # host:port of the moto server cycle started and that runs now
    held: S3Holding | None  # what that server alone holds now (lost when it stops)
    lost: S3Holding | None  # what the records say it held before it last started (gone)


class EmulatorAdmin(Protocol):
    # engine and images
    def engine_start(self, say: Say) -> str:
        """Use the engine that answers; otherwise (as root) install docker.io and start dockerd."""

    def engine_status(self) -> str:
        """One line naming the engine that answers (EngineUnavailable when none does)."""

    def base_image_kinds(self) -> tuple[str, ...]:
        """What `cycle emulator base-image --kind` accepts."""

    def provide_base_images(self, versions: list[str], kind: str, force: bool, pull: bool | None,
                            pull_timeout: float, say: Say) -> None:
        """Provide a base image for each version, best first, and record the choice in config.toml;
        `pull` None: try a registry only when the emulator's settings say so (CYCLE_PULL_UBUNTU=1)."""

    def user_mapped_image(self) -> str | None:
        """The image the user mapped [ubuntu] 24.04 to themselves (None: cycle's own choice)."""

    def images(self) -> list[ImageStatus]:
        """Each [ubuntu] version's image, why, and whether it is present."""

    def pull(self, version: str, say: Say) -> None:
        """Pull ubuntu:VERSION explicitly (CycleError, exit 1, when no registry gives it)."""

    def doctor(self) -> DoctorReport:
        """Check what this machine needs: OK / WARN / FAIL, each with the fix."""

    # artifact store
    def storage_start(self, port: int | None) -> str:
        """Start moto's S3 server on 127.0.0.1 and store artifacts there; returns host:port."""

    def storage_stop(self, force: bool = False) -> bool:
        """Stop that server and go back to the local store; True when one was running. Refused
        (BadInput) while jobs run or wait, unless `force`."""

    def storage_use(self, kind: str, host: str | None, bucket: str | None) -> str:
        """Choose the artifact store (checked before it is recorded); returns its description."""

    def storage_held(self) -> S3Holding | None:
        """What cycle's moto server alone holds now (lost when it stops); None when none runs."""

    def storage_report(self) -> StorageStatus:
        """Which store artifacts go to (it answers, or an error says why not), and what cycle's moto
        server alone holds and lost at its last restart: `storage status [--json]`."""

    # machines, usage, outbox, home
    def machines(self) -> list[Machine]: ...

    def set_machine_state(self, name: str, state: str) -> Machine:
        """available, busy (its owner's own work) or offline; a job on a machine that leaves is reassigned."""

    def usage(self) -> Usage:
        """What the soft quota counts (per project: artifacts, logs; volumes) and what the home holds
        on disk beyond it, by part; the home's build images in the engine."""

    def outbox(self) -> list[dict[str, str]]:
        """The emails jobs sent, oldest first: date, to, subject, body."""

    def home(self) -> Path:
        """The emulator home ($CYCLE_HOME, default ~/.cycle)."""
