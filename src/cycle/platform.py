"""The one API that the CLI, the TUI and the SDK use: jobs, logs, builds, images.

Today its only implementation is the emulator (emulator.platform.EmulatorPlatform); the hosted
platform would be a second one behind the same protocol. Importing this module is cheap: the
emulator (docker-py, sqlite) is imported only when a command needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from emulator.models import Artifact, Job, JobState, LogRecord, Stream

LogSink = Callable[[int, "Stream", str], None]


@dataclass(frozen=True)
class TestOptions:
    """Flags of `cycle project test`."""

    rebuild: bool = False
    clean: bool = False
    skip_limits: bool = False
    network: str = "auto"  # builds and jobs get the network, as on the platform; "none" for hermetic runs
    cpu: bool = False
    mounts: tuple[tuple[str, str], ...] = ()


class Platform(Protocol):
    def test_project(self, project_dir: Path, options: TestOptions, sink: LogSink) -> "Job":
        """Build (or reuse) the project's image and run it once, streaming its log to `sink`."""

    def start_detached(self, project_dir: Path, options: TestOptions) -> "Job":
        """Like test_project, but return at once; a background agent runs the job."""

    def jobs(self, state: "JobState | None" = None, limit: int = 100, offset: int = 0) -> list["Job"]: ...

    def job(self, name: str) -> "Job": ...

    def logs(self, name: str, stream: "Stream | None" = None, after_id: int = 0, since_ns: int = 0) -> list["LogRecord"]:
        """Shipped log lines in order; `after_id` reads only what came since a previous read."""

    def logs_before(self, name: str, before_id: int | None, limit: int, stream: "Stream | None" = None) -> list["LogRecord"]:
        """The `limit` lines before the cursor (None: the end), oldest first: a viewer's older page."""

    def artifacts(self, name: str) -> list["Artifact"]: ...

    def download_artifact(self, artifact: "Artifact", dest: Path, progress=None) -> None: ...

    def queued_artifacts(self, name: str) -> list[str]:
        """Paths written but not yet stored (still in the upload queue)."""

    def project_root(self, job: "Job") -> Path | None: ...

    def cancel(self, name: str) -> "Job": ...

    def archive(self, name: str) -> "Job": ...


def open_platform() -> Platform:
    from emulator.platform import EmulatorPlatform

    return EmulatorPlatform()
