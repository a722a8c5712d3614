"""The contract between the clients (CLI, TUI, SDK) and a platform (today: the emulator).

Models, the Platform and EmulatorAdmin protocols, run options, the storage-key rules, the project
format (manifest.py). Imports no
IO library (no docker, sqlite3, boto3, requests, watchdog, textual, typer, rich): import-linter
checks that (pyproject.toml, tests/unit/test_imports.py), and mypy checks it strictly.
"""

from typing import TYPE_CHECKING, Any

from cycle.api.models import (
    FINAL_STATES,
    QUEUE_WARNING_TEXT,
    Artifact,
    Job,
    JobState,
    JobSummary,
    LogRecord,
    Machine,
    Move,
    StoredArtifacts,
    Stream,
)
from cycle.api.options import DEFAULT_PROGRESS_GLOBS, DrillOptions, RunOptions, TestOptions
from cycle.api.platform import DrillReport, LogSink, Platform, VolumeVersion

if TYPE_CHECKING:
    from cycle.api.admin import DoctorReport, EmulatorAdmin, ImageStatus, Usage

# `cycle emulator …`'s models load when first asked for: a job's commands never need them, and
# their dataclasses cost ~1 ms each to make at import (issue 14's `project test` row)
_ADMIN = ("DoctorReport", "EmulatorAdmin", "ImageStatus", "Usage")


def __getattr__(name: str) -> Any:
    if name in _ADMIN:
        from cycle.api import admin

        return getattr(admin, name)
    raise AttributeError(f"module 'cycle.api' has no attribute {name!r}")

__all__ = [
    "DEFAULT_PROGRESS_GLOBS", "FINAL_STATES", "QUEUE_WARNING_TEXT", "Artifact", "DoctorReport", "DrillOptions",
    "DrillReport", "EmulatorAdmin", "ImageStatus", "Job", "JobState", "JobSummary", "LogRecord", "LogSink", "Machine",
    "Move", "Platform", "RunOptions", "StoredArtifacts", "Stream", "TestOptions", "Usage", "VolumeVersion",
]
