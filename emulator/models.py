"""Records the emulator keeps, and the rules for how a job's state may change.

Pure: no sqlite, no Docker. The records clients see (Job, LogRecord, Artifact, Move, Machine,
JobState, Stream) are the contract's, in cycle.api.models; the rules for a job's state
(`transition`, `state_for_exit`, `is_queued`) live in emulator.rules.states. Both are re-exported
here for the emulator's older imports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cycle.api.models import (  # noqa: F401  (re-exported)
    FINAL_STATES,
    QUEUE_WARNING_TEXT,
    Artifact,
    Job,
    JobState,
    JobSummary,
    LogRecord,
    Machine,
    Move,
    Stream,
)
from emulator.rules.states import (  # noqa: E402,F401  (re-exported)
    ALLOWED,
    IllegalTransition,
    is_queued,
    state_for_exit,
    transition,
)


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
    inputs: dict[str, str] = field(default_factory=dict)  # what its key was made of (context.build_inputs)
