"""How a job's state and duration read in the TUI, shared by the jobs table and the job screen
(times: cycle.tui.timefmt; kept apart from both screens so neither imports the other for it)."""

from __future__ import annotations

from cycle.api import Job

STATE_COLOURS = {"PENDING": "yellow", "RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "CANCELLED": "grey50"}


def duration(job: Job, now_ns: int) -> str:
    """The duration column: 1:39, 1:02:03; "-" before the job started."""
    run = job.run_seconds(now_ns)
    if run is None:
        return "-"
    seconds = int(run)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
    return f"{seconds // 60}:{seconds % 60:02}"
