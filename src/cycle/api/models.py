"""The records the platform hands its clients: jobs, log lines, artifacts, moves, machines.

Part of the contract (cycle.api): pure data, no IO library. The emulator stores and returns these;
the CLI, the TUI and the SDK read them. How a state may change is the emulator's rule
(emulator.models.transition), not the contract's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


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


BUILD_FAILED_EVENT = "build failed:"
BUILD_OUTPUT_EVENT = "build output | "
"""How the system events explaining a failed build begin: the cause and fix, then the build's last
output lines (the emulator writes them, emulator/build_diagnosis.py; the CLI prints them last). A
build whose output already streamed as `[build]` lines (every real build now) has no output lines:
they were the same lines again; older logs still hold them."""

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
    # the store holding it ("local", "s3://<host>/<bucket>"); None: recorded before stores were named
    store: str | None = None


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
    # the folder the job was started from (None: recorded before folders were kept per job)
    project_root: str | None = None
    # lines the job printed that its log does not hold yet (they ship on the 600 s cadence); its agent records it
    log_backlog: int = 0
    # how often its agent ships those lines (the platform's 600 s, or $CYCLE_LOG_CADENCE_SECONDS where the
    # agent started): recorded per job, so `cycle job logs` and the TUI say the cadence the job really has
    log_cadence_seconds: float = 600.0

    def log_cadence_text(self) -> str:
        """How often its log ships, as `cycle job logs` and the TUI say it: `600 s`, `1 s`, `0.5 s`."""
        return f"{self.log_cadence_seconds:g} s"

    def run_seconds(self, now_ns: int) -> float | None:
        """How long the job has run: start to finish, or start to `now_ns` while it runs; None before
        it started. One measure for every client (the CLI's status, the TUI's duration column)."""
        if self.started_ns is None:
            return None
        end = self.finished_ns if self.finished_ns is not None else now_ns
        return max(0, end - self.started_ns) / 1e9


@dataclass(frozen=True)
class JobSummary:
    """What a list of jobs shows for one job: the job and how many files it has stored (0 once
    archived). Read for every listed job in one query, so a list of thousands costs one call."""

    job: Job
    artifacts: int = 0


@dataclass(frozen=True)
class StoredArtifacts:
    """How many files a job has stored and their bytes: the newest version of each path, as
    Platform.artifacts lists them (zero once archived). Counted by the platform, so `job status`
    reads two numbers, not every record of a job with 100,000 files."""

    files: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class LogRecord:
    id: int
    job_id: int
    ts_ns: int
    stream: Stream
    text: str


@dataclass(frozen=True)
class Machine:
    """A simulated machine: its own folder is its local disk; it runs at most one job."""

    name: str
    state: str  # available | busy (its owner's own work) | offline
    cuda: str | None
    job_id: int | None
    jobs_run: int
    job_name: str | None = None  # the job it runs, by the name every command takes (job_id is internal)

    @property
    def activity(self) -> str:
        """What the machine is doing, as `cycle emulator machines` shows it: `running JOB` while it
        holds a job (its state stays available: busy means its owner's own work), else its state;
        `offline, running JOB` while a job is being moved off it."""
        if self.job_id is None:
            return self.state
        running = f"running {self.job_name or self.job_id}"
        return running if self.state == "available" else f"{self.state}, {running}"


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
    lost: list[str] = field(default_factory=list)  # files still waiting in the old machine's upload queue: gone
    restored: list[str] = field(default_factory=list)  # downloaded into the new machine's /artifacts before restart
    restored_bytes: int = 0
    restore_seconds: float | None = None
    restarted_ns: int | None = None
    next_artifact_seconds: float | None = None
