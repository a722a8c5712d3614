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


class Usage(TypedDict):
    projects: list[ProjectUsage]
    volumes: int
    quota: int | None


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

    def storage_stop(self) -> bool:
        """Stop that server and go back to the local store; True when one was running."""

    def storage_use(self, kind: str, host: str | None, bucket: str | None) -> str:
        """Choose the artifact store (checked before it is recorded); returns its description."""

    def storage_status(self) -> str:
        """Which store artifacts go to (it answers, or an error says why not)."""

    # machines, usage, outbox, home
    def machines(self) -> list[Machine]: ...

    def set_machine_state(self, name: str, state: str) -> Machine:
        """available, busy (its owner's own work) or offline; a job on a machine that leaves is reassigned."""

    def usage(self) -> Usage:
        """Bytes stored per project (artifacts, logs) and for volumes; the soft quota."""

    def outbox(self) -> list[dict[str, str]]:
        """The emails jobs sent, oldest first: date, to, subject, body."""

    def home(self) -> Path:
        """The emulator home ($CYCLE_HOME, default ~/.cycle)."""
