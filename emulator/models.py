"""Records the emulator keeps, and the rules for how a job's state may change.

Pure: no sqlite, no Docker. The store and the agent both ask `transition()` before writing a state.
The records clients see (Job, LogRecord, Artifact, Move, Machine, JobState, Stream) are the
contract's, in cycle.api.models; they are re-exported here for the emulator's modules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cycle.api.models import (  # noqa: F401  (re-exported)
    FINAL_STATES,
    QUEUE_WARNING_TEXT,
    Artifact,
    Job,
    JobState,
    LogRecord,
    Machine,
    Move,
    Stream,
)

ALLOWED = {
    JobState.PENDING: {JobState.RUNNING, JobState.FAILED, JobState.CANCELLED},
    # RUNNING -> PENDING is a reassignment: the job goes back to the queue.
    JobState.RUNNING: {JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.PENDING},
}


class IllegalTransition(ValueError):
    pass


def transition(current: JobState, new: JobState) -> JobState:
    """Return `new` if a job in `current` may move to it; final states never change."""
    if new not in ALLOWED.get(current, set()):
        raise IllegalTransition(f"a job cannot go from {current.value} to {new.value}")
    return new


def state_for_exit(exit_code: int, oom_killed: bool, upload_failed: bool = False) -> tuple[JobState, str | None]:
    """The state and reason a finished container leaves its job in.

    An upload failure only decides the state when the script succeeded (UPLOAD_ERROR, not
    retried); when the script failed, uploads were best effort and the script's failure stands.
    """
    if oom_killed:
        return JobState.FAILED, "OUT_OF_MEMORY"
    if exit_code == 0:
        return (JobState.FAILED, "UPLOAD_ERROR") if upload_failed else (JobState.FINISHED, None)
    return JobState.FAILED, f"EXIT_CODE_{exit_code}"


def now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True)
class Build:
    project: str
    key: str
    image_id: str
    tag: str
    parent_image: str
    depth: int
    created_ns: int
