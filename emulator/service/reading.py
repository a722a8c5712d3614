"""Reading jobs, logs and artifacts; every read first notices jobs whose agent died.

One part of EmulatorPlatform (emulator/platform.py composes the parts); each part uses the
platform's `home` and `store` and may call the others' methods through `self`. Storage modules
(boto3 behind them) are imported on first use: `job list/status/logs` read only sqlite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cycle.api.keys import check_job_name
from cycle.api.models import StoredArtifacts
from cycle.errors import BadInput
from emulator.models import Artifact, Job, JobState, JobSummary, LogRecord, Move, Stream
from emulator.reaper import reap

if TYPE_CHECKING:
    from emulator.blobs import BlobStore


class Reading:
    def _named_store(self, name: str | None) -> BlobStore:
        """The store an artifact record names (opened once per platform object)."""
        from emulator.storage import StoreCache

        if self._stores is None:
            self._stores = StoreCache(self.home)
        return self._stores.get(name)

    # reading
    def reap(self) -> list[int]:
        """End the jobs whose agent died (FAILED, LOST): every read sees the truth within seconds."""
        return reap(self.store, self.home)

    def jobs(self, state: JobState | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        self.reap()
        return self.store.jobs(state, limit, offset)

    def count_jobs(self, state: JobState | None = None) -> int:
        return self.store.count_jobs(state)

    def job_summaries(self, limit: int = 10_000) -> list[JobSummary]:
        """The jobs list's rows (each job and its stored file count) in one query."""
        self.reap()
        return self.store.job_summaries(limit)

    def job(self, name: str) -> Job:
        check_job_name(name)
        self.reap()
        job = self.store.job_by_name(name)
        if job is None:
            raise BadInput(f"No job named {name!r}.{_name_hint(name, self.store.job_names())}")
        return job

    def logs(self, name: str, stream: Stream | None = None, after_id: int = 0, since_ns: int = 0,
             matching: str = "") -> list[LogRecord]:
        return self.store.logs(self.job(name).id, stream, after_id, since_ns, matching)

    def logs_before(self, name: str, before_id: int | None, limit: int,
                    stream: Stream | None = None, matching: str = "", since_ns: int = 0) -> list[LogRecord]:
        return self.store.logs_before(self.job(name).id, before_id, limit, stream, matching, since_ns)

    # log navigation for viewers (queries in emulator/queries.py)
    def logs_after(self, name: str, after_id: int, limit: int, stream: Stream | None = None,
                   matching: str = "") -> list[LogRecord]:
        """The `limit` lines after the cursor (0: the first page), oldest first: a viewer's `g`."""
        from emulator.queries import logs_after

        return logs_after(self.store, self.job(name).id, after_id, limit, stream, matching)

    def log_position(self, name: str, line_id: int | None, stream: Stream | None = None, matching: str = "") -> int:
        """How many lines precede `line_id` (None: the log's length): a viewer's "line N of M"."""
        from emulator.queries import log_position

        return log_position(self.store, self.job(name).id, line_id, stream, matching)

    def search_logs(self, name: str, needle: str, stream: Stream | None = None) -> list[int]:
        """Ids of the lines holding `needle` in the whole stored log, searched in sqlite."""
        from emulator.queries import search_logs

        return search_logs(self.store, self.job(name).id, needle, stream)

    def artifacts(self, name: str) -> list[Artifact]:
        """What is stored for the job (newest version of each file); nothing once it is archived."""
        job = self.job(name)
        return [] if job.archived else self.store.artifacts(job.id)

    def stored_artifacts(self, name: str) -> StoredArtifacts:
        """How many files `artifacts` lists and their bytes, summed by the store in one query."""
        job = self.job(name)
        return self.stored_artifacts_of([job])[job.name]

    def stored_artifacts_of(self, jobs: list[Job]) -> dict[str, StoredArtifacts]:
        """`stored_artifacts` of each listed job, by name, from one aggregate grouped by job (an
        archived job's count is 0, as `stored_artifacts` says)."""
        totals = self.store.artifact_totals_of([job.id for job in jobs if not job.archived])
        return {job.name: StoredArtifacts(*totals.get(job.id, (0, 0))) for job in jobs}

    def queued_artifacts(self, name: str) -> list[str]:
        """The job's files waiting to be stored, as its agent records them (rules/upload_queue.py
        queued_paths: the one definition, also behind Job.queue_len)."""
        return self.store.queued_paths(self.job(name).id)

    def artifact_versions(self, name: str) -> list[Artifact]:
        """Every stored version of the job's files, in upload order."""
        return self.store.artifact_versions(self.job(name).id)

    def blob_store(self) -> BlobStore:
        from emulator.storage import open_blob_store

        return open_blob_store(self.home)

    def download_artifact(self, artifact: Artifact, dest: Path, progress=None) -> None:
        """Fetch one stored artifact into `dest` (atomically, checked against its sha256), from
        the store its record names, whichever store is configured now, with the job's file's mtime."""
        from emulator.artifacts.files import keep_mtime
        from emulator.blobs import StoredObject

        self._named_store(artifact.store).get_to(artifact.key, dest, progress,
                                                 known=StoredObject(artifact.key, artifact.size, artifact.sha256))
        keep_mtime(dest, artifact.mtime_ns)  # the job's file's time, as `cp -p` keeps it

    def project_root(self, job: Job) -> Path | None:
        """The folder the job was started from (older records: its project's folder); never the
        emulator's checkout of an uploaded version, which older homes recorded for queued jobs."""
        from emulator.upload import is_version_checkout

        for root in (Path(job.project_root) if job.project_root else None, self.store.project_root(job.project)):
            if root is not None and not is_version_checkout(self.home, root):  # never the emulator's copy
                return root
        return None

    def moves(self, name: str) -> list[Move]:
        return self.store.moves(self.job(name).id)


def _name_hint(name: str, names: list[str]) -> str:
    """What to say after "No job named ...": a `<project>-<number>` of a project that has jobs names
    the range of its numbers (difflib offered `x-9, x-8, x-7` for `x-99999` whatever x's newest
    job was); otherwise the closest names (difflib), or where the jobs are listed."""
    import difflib

    close = difflib.get_close_matches(name, names, n=3)
    guess = f" Did you mean {', '.join(close)}?" if close else ""
    project, dash, number = name.rpartition("-")
    if dash and project and number.isdigit():
        numbers = sorted(int(tail) for other in names
                         if (tail := other.removeprefix(project + "-")) != other and tail.isdigit())
        if numbers:
            if len(number) > len(str(numbers[-1])) + 1:
                guess = ""  # no typo of any of them: similar names only mislead
            return (f" Project {project}'s jobs are numbered {numbers[0]} to {numbers[-1]} (the newest: "
                    f"{project}-{numbers[-1]}).{guess}")
    return guess or " `cycle job list` shows the jobs."
