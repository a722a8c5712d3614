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
    from emulator.models import Job, JobState, LogRecord, Stream

LogSink = Callable[[int, "Stream", str], None]


@dataclass(frozen=True)
class TestOptions:
    """Flags of `cycle project test`."""

    rebuild: bool = False
    clean: bool = False
    skip_limits: bool = False
    network: str = "none"


class Platform(Protocol):
    def test_project(self, project_dir: Path, options: TestOptions, sink: LogSink) -> "Job":
        """Build (or reuse) the project's image and run it once, streaming its log to `sink`."""

    def jobs(self, state: "JobState | None" = None, limit: int = 100, offset: int = 0) -> list["Job"]: ...

    def job(self, name: str) -> "Job": ...

    def logs(self, name: str, stream: "Stream | None" = None) -> list["LogRecord"]: ...


def open_platform() -> Platform:
    from emulator.platform import EmulatorPlatform

    return EmulatorPlatform()
