"""How a job's state may change, what a finished container leaves it in, and what "queued" means.

Pure: no sqlite, no Docker. The store and the agent both ask `transition()` before writing a state.
"""

from __future__ import annotations

from cycle.api.models import JobState

ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED}),
    # RUNNING -> PENDING is a reassignment: the job goes back to the queue.
    JobState.RUNNING: frozenset({JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.PENDING}),
}


class IllegalTransition(ValueError):
    pass


def transition(current: JobState, new: JobState) -> JobState:
    """Return `new` if a job in `current` may move to it; final states never change."""
    if new not in ALLOWED.get(current, frozenset()):
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


def is_queued(state: JobState) -> bool:
    """A job is queued while it waits for a machine: PENDING (new, waiting for the scheduler's
    pass or a free or GPU machine, or sent back by a reassignment). The one definition: the
    scheduler, `cycle job list --state` and the reaper's "unfinished" all build on it."""
    return state is JobState.PENDING


def is_unfinished(state: JobState) -> bool:
    """Queued or running: a job some agent still owns (cancel and the reaper act on these)."""
    return is_queued(state) or state is JobState.RUNNING
