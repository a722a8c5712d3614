"""Records the emulator keeps, and the rules for how a job's state may change.

Pure: no sqlite, no Docker. The rules for a job's state (`transition`, `state_for_exit`, `is_queued`)
live in emulator.rules.states and are re-exported at the end of this module for old imports.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass


class JobState(str, enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.FINISHED, JobState.FAILED, JobState.CANCELLED})

class Stream(str, enum.Enum):
    STDOUT = "stdout"
    STDERR = "stderr"
    SYSTEM = "system"


def now_ns() -> int:
    return time.time_ns()


QUEUE_WARNING_TEXT = (
    "warning: the artifact upload queue has been non-empty for more than 600 seconds, so the newest "
    "files wait behind older ones. If this job saves periodic checkpoints, set "
    'artifact_upload_order = "LIFO" in [job] of .cycleswap/manifest.toml so the latest one uploads first.'
)


@dataclass(frozen=True)
class Artifact:
    """One stored version of a file under /artifacts."""

    path: str
    key: str
    size: int
    sha256: str
    mtime_ns: int
    uploaded_ns: int
    store: str | None = None  # the store holding it ("local", "s3://<host>/<bucket>"); None: recorded before stores were named


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    project: str
    state: JobState
    reason: str | None
    machine: str | None
    image: str | None
    created_ns: int
    started_ns: int | None
    finished_ns: int | None
    exit_code: int | None
    queue_len: int = 0
    queue_warning: bool = False
    agent_pid: int | None = None
    archived: bool = False
    project_root: str | None = None  # the folder the job was started from (None: recorded before folders were kept per job)


@dataclass(frozen=True)
class LogRecord:
    id: int
    job_id: int
    ts_ns: int
    stream: Stream
    text: str


@dataclass(frozen=True)
class Build:
    project: str
    key: str
    image_id: str
    tag: str
    parent_image: str
    depth: int
    created_ns: int


@dataclass(frozen=True)
class Machine:
    """A simulated machine: its own folder is its local disk; it runs at most one job."""

    name: str
    state: str  # available | busy (its owner's own work) | offline
    cuda: str | None
    job_id: int | None
    jobs_run: int


@dataclass(frozen=True)
class Move:
    """One reassignment of a job from one machine to another, with what it cost."""

    id: int
    job_id: int
    from_machine: str
    to_machine: str | None
    trigger: str
    ts_ns: int
    uploaded: int = 0
    lost: list = None  # files still waiting in the old machine's upload queue: gone with it
    restored: list = None  # files downloaded into the new machine's /artifacts before the restart
    restored_bytes: int = 0
    restore_seconds: float | None = None
    restarted_ns: int | None = None
    next_artifact_seconds: float | None = None



_MOVED_TO_RULES = frozenset({"ALLOWED", "IllegalTransition", "state_for_exit", "transition", "is_queued"})


def __getattr__(name: str) -> object:
    """Shim: the state rules moved to emulator.rules.states (which needs JobState from here, so a
    plain re-export would be an import cycle); old imports still find them. The lead removes this
    once JobState lives in the contract package."""
    if name in _MOVED_TO_RULES:
        from emulator.rules import states

        return getattr(states, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
