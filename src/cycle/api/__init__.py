"""The contract between the clients (CLI, TUI, SDK) and a platform (today: the emulator).

Models, the Platform and EmulatorAdmin protocols, run options, the storage-key rules, the project
format (manifest.py). Imports no
IO library (no docker, sqlite3, boto3, requests, watchdog, textual, typer, rich): import-linter
checks that (pyproject.toml, tests/unit/test_imports.py), and mypy checks it strictly.
"""

from cycle.api.admin import DoctorReport, EmulatorAdmin, ImageStatus, Usage
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

__all__ = [
    "DEFAULT_PROGRESS_GLOBS", "FINAL_STATES", "QUEUE_WARNING_TEXT", "Artifact", "DoctorReport", "DrillOptions",
    "DrillReport", "EmulatorAdmin", "ImageStatus", "Job", "JobState", "JobSummary", "LogRecord", "LogSink", "Machine",
    "Move", "Platform", "RunOptions", "StoredArtifacts", "Stream", "TestOptions", "Usage", "VolumeVersion",
]
