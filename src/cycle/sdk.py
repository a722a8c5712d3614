"""The Python SDK: a thin client over the same Platform API the CLI uses.

    from cycle.sdk import Client, JobState

    client = Client()
    job = client.jobs.get("my-experiment-3")
    print(job.state, job.reason)

There are no polling helpers (as on the platform): write the loop you need, e.g.

    import time
    while (job := client.jobs.get(job.id)).state in (JobState.PENDING, JobState.RUNNING):
        time.sleep(5)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cycle.api import Job as JobRecord
from cycle.api import JobState, Platform
from cycle.logline import moment

__all__ = ["Client", "Job", "JobState"]


def _when(ns: int | None) -> datetime | None:
    return moment(ns) if ns else None


@dataclass(frozen=True)
class Job:
    """A snapshot of one job. `id` is the job's name, which is unique."""

    id: str
    name: str
    project: str
    state: JobState
    reason: str | None
    machine: str | None
    exit_code: int | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    archived: bool


def _handle(job: JobRecord) -> Job:
    return Job(job.name, job.name, job.project, job.state, job.reason, job.machine, job.exit_code,
               _when(job.created_ns), _when(job.started_ns), _when(job.finished_ns), job.archived)


class Jobs:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def get(self, id: str) -> Job:
        return _handle(self._platform.job(id))

    def list(self, limit: int = 50, offset: int = 0) -> list[Job]:
        """Newest first, `limit` at a time."""
        return [_handle(job) for job in self._platform.jobs(None, limit, offset)]

    def cancel(self, id: str) -> Job:
        return _handle(self._platform.cancel(id))

    def archive(self, id: str) -> Job:
        """Delete the job's stored artifacts; the record stays, marked archived."""
        return _handle(self._platform.archive(id))


class Client:
    def __init__(self, home: str | Path | None = None) -> None:
        from cycle.platform import open_platform

        self._platform = open_platform(Path(home) if home else None)
        self.jobs = Jobs(self._platform)
