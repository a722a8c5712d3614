"""How a job's state and duration read in the TUI, shared by the jobs table and the job screen
(times: cycle.tui.timefmt; kept apart from both screens so neither imports the other for it)."""

from __future__ import annotations

from cycle.api import Job, JobState

LIVE = frozenset({JobState.PENDING, JobState.RUNNING})
# the job screen's actions on the job's run, and the states they apply in: an ended job has no new
# line to follow and nothing to cancel; only a RUNNING job has a machine to move from
APPLIES_IN = {"toggle_follow": LIVE, "cancel_job": LIVE, "reassign_job": frozenset({JobState.RUNNING})}

STATE_COLOURS = {"PENDING": "yellow", "RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "CANCELLED": "grey50"}


def applies(action: str, state: JobState) -> bool:
    """Whether the job screen's `action` applies to a job in `state` (an action not about the job's
    run, such as wrap or search, always does)."""
    return action not in APPLIES_IN or state in APPLIES_IN[action]


def duration(job: Job, now_ns: int) -> str:
    """The duration column: 1:39, 1:02:03; "-" before the job started."""
    run = job.run_seconds(now_ns)
    if run is None:
        return "-"
    seconds = int(run)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
    return f"{seconds // 60}:{seconds % 60:02}"


def artifacts_tab_label(stored: int, queued: int) -> str:
    """The Artifacts tab's title with the job's counts: the one place they show at any width (the
    jobs list drops its stored/queued column below 120 columns, and the header has no room)."""
    if not stored and not queued:
        return "Artifacts"
    return f"Artifacts {stored:,}" + (f" · {queued:,} queued" if queued else "")
