"""How a job's state and times read in the TUI, shared by the jobs table and the job screen
(kept apart from both screens so neither imports the other for it)."""

from __future__ import annotations

import time

from cycle.api import Job

STATE_COLOURS = {"PENDING": "yellow", "RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "CANCELLED": "grey50"}


def duration(job: Job, now_ns: int) -> str:
    if not job.started_ns:
        return "-"
    seconds = int(((job.finished_ns or now_ns) - job.started_ns) / 1e9)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
    return f"{seconds // 60}:{seconds % 60:02}"


def started(job: Job) -> str:
    if not job.started_ns:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(job.started_ns / 1e9))


def short_time(ns: int | None, now_ns: int) -> str:
    """A time in at most 7 characters, local time, as a list shows it: "45s ago" and "59m ago"
    within the hour, "14:02" the same day, "Nov 21" the same year, "2025-11" before."""
    if not ns:
        return "-"
    seconds = (now_ns - ns) // 1_000_000_000
    if 0 <= seconds < 60:
        return f"{seconds}s ago"
    if 0 <= seconds < 3600:
        return f"{seconds // 60}m ago"
    then, now = time.localtime(ns / 1e9), time.localtime(now_ns / 1e9)
    if then[:3] == now[:3]:
        return time.strftime("%H:%M", then)
    if then.tm_year == now.tm_year:
        return time.strftime("%b %d", then)
    return time.strftime("%Y-%m", then)


def short_time_valid_until(ns: int | None, now_ns: int) -> int:
    """The instant short_time(ns) may next read differently (so a row cached until then is still
    right): the next second or minute while it reads "ago", else the next local midnight."""
    if not ns:
        return 2**63
    age = (now_ns - ns) // 1_000_000_000
    if age < 60:
        return now_ns + 1_000_000_000
    if age < 3600:
        return ns + (age // 60 + 1) * 60_000_000_000
    local = time.localtime(now_ns / 1e9)
    seconds_left = 86_400 - (local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec)
    return now_ns + seconds_left * 1_000_000_000
