"""A deterministic Platform for TUI tests and benchmarks: fixed times, a log of any length
computed on demand (so ten million lines cost no memory), artifacts, and recorded actions."""

from __future__ import annotations

from cycle.api import Artifact, Job, JobState, JobSummary, LogRecord, Move, StoredArtifacts, Stream

T0 = 1_795_000_000_000_000_000  # a fixed instant, so snapshots never change
MINUTE = 60_000_000_000  # files were modified within the hour: "Nm ago" reads the same in every time zone


def log_record(job_id: int, index: int) -> LogRecord:
    """Line `index` (1-based) of the synthetic log: every 7th on stderr, every 50th a system event."""
    if index % 50 == 0:
        return LogRecord(index, job_id, T0 + index * 1_000_000, Stream.SYSTEM, f"checkpoint step-{index:06d} uploaded")
    if index % 7 == 0:
        return LogRecord(index, job_id, T0 + index * 1_000_000, Stream.STDERR, f"warning: step {index} is slow")
    return LogRecord(index, job_id, T0 + index * 1_000_000, Stream.STDOUT, f"step {index} loss {1 / index:.6f}")


def job(
    id: int,
    name: str,
    state: JobState,
    machine: str | None,
    reason=None,
    queue_len=0,
    queue_warning=False,
    started=True,
    finished=True,
) -> Job:
    return Job(
        id,
        name,
        name.rsplit("-", 1)[0],
        state,
        reason,
        machine,
        "cycle/demo:build-abc",
        T0,
        T0 + 1_000_000_000 if started else None,
        T0 + 95_000_000_000 if finished else None,
        1 if reason else (0 if finished else None),
        queue_len,
        queue_warning,
    )


class FakePlatform:
    def __init__(self, log_lines: int = 2000) -> None:
        self.log_lines = log_lines
        self.page_calls: list = []
        self.cancelled: list[str] = []
        self.cancel_requesters: list = []
        self.downloaded: list = []
        self.reassigned: list = []
        self.after_calls: list = []
        self.overrides: dict[int, tuple[Stream, str]] = {}  # line index -> (stream, text)
        self.artifact_calls: list[str] = []  # names whose artifacts were asked for, one by one
        self.summary_calls = 0
        self._jobs = [
            job(4, "trainer-4", JobState.RUNNING, "local-1", queue_len=3, queue_warning=True, finished=False),
            job(3, "trainer-3", JobState.FINISHED, "local-0"),
            job(2, "sweep-2", JobState.FAILED, "local-2", reason="EXIT_CODE_1"),
            job(1, "sweep-1", JobState.CANCELLED, "local-3", reason="CANCELLED_BY_USER"),
        ]
        self._artifacts = [
            Artifact(
                "checkpoints/step-000100.ckpt",
                "jobs/trainer-4/artifacts/checkpoints/step-000100.ckpt",
                52_428_800,
                "a" * 64,
                T0 - 50 * MINUTE,
                T0,
            ),
            Artifact(
                "checkpoints/step-000200.ckpt",
                "jobs/trainer-4/artifacts/checkpoints/step-000200.ckpt",
                52_428_900,
                "b" * 64,
                T0 - 20 * MINUTE,
                T0,
            ),
            Artifact("metrics.json", "jobs/trainer-4/artifacts/metrics.json", 2_048, "c" * 64, T0 - MINUTE, T0),
            Artifact(
                "results/eval.csv", "jobs/trainer-4/artifacts/results/eval.csv", 900_000, "d" * 64, T0 - 40 * MINUTE, T0
            ),
            Artifact("zz-notes.txt", "jobs/trainer-4/artifacts/zz-notes.txt", 10, "e" * 64, T0 - 55 * MINUTE, T0),
        ]

    def jobs(self, state=None, limit=100, offset=0):
        return self._jobs[offset : offset + limit]

    def job_summaries(self, limit=10_000):
        self.summary_calls += 1
        return [JobSummary(j, len(self._stored(j.name))) for j in self._jobs[:limit]]

    def job(self, name):
        return next(j for j in self._jobs if j.name == name)

    def _record(self, index: int) -> LogRecord:
        if index in self.overrides:
            stream, text = self.overrides[index]
            return LogRecord(index, 4, T0 + index * 1_000_000, stream, text)
        return log_record(4, index)

    def _matching(self, index: int, stream, matching: str = "") -> bool:
        record = self._record(index)
        return (stream is None or record.stream == stream) and matching.lower() in record.text.lower()

    def logs_before(self, name, before_id, limit, stream=None, matching=""):
        self.page_calls.append(before_id)
        end = self.log_lines if before_id is None else min(before_id - 1, self.log_lines)
        if stream is None and not matching:
            start = max(1, end - limit + 1)
            return [self._record(i) for i in range(start, end + 1)]
        found = [i for i in range(end, 0, -1) if self._matching(i, stream, matching)][:limit]
        return [self._record(i) for i in reversed(found)]

    def logs_after(self, name, after_id, limit, stream=None, matching=""):
        self.after_calls.append(after_id)
        if stream is None and not matching:
            return [self._record(i) for i in range(after_id + 1, min(self.log_lines, after_id + limit) + 1)]
        found = [i for i in range(after_id + 1, self.log_lines + 1) if self._matching(i, stream, matching)][:limit]
        return [self._record(i) for i in found]

    def log_position(self, name, line_id, stream=None, matching=""):
        end = self.log_lines if line_id is None else min(line_id - 1, self.log_lines)
        if stream is None and not matching:
            return end
        return sum(1 for i in range(1, end + 1) if self._matching(i, stream, matching))

    def search_logs(self, name, needle, stream=None):
        low = needle.lower()
        return [
            i for i in range(1, self.log_lines + 1) if self._matching(i, stream) and low in self._record(i).text.lower()
        ]

    def logs(self, name, stream=None, after_id=0, since_ns=0, matching=""):
        return [
            self._record(i) for i in range(after_id + 1, self.log_lines + 1) if self._matching(i, stream, matching)
        ]

    def append(self, count: int) -> None:
        self.log_lines += count

    def artifacts(self, name):
        self.artifact_calls.append(name)
        return self._stored(name)

    def _stored(self, name):
        return list(self._artifacts) if name == "trainer-4" and not self.job(name).archived else []

    def stored_artifacts(self, name):
        stored = self._stored(name)
        return StoredArtifacts(len(stored), sum(a.size for a in stored))

    def stored_artifacts_of(self, jobs):
        return {job.name: self.stored_artifacts(job.name) for job in jobs}

    def queued_artifacts(self, name):
        return ["checkpoints/step-000300.ckpt"] if name == "trainer-4" and not self.job(name).archived else []

    def project_root(self, job):
        return self.root

    def download_artifact(self, artifact, dest, progress=None):
        dest.write_bytes(b"x" * min(artifact.size, 1000))
        self.downloaded.append(artifact.path)

    def add_job(self, name: str, state: JobState = JobState.RUNNING) -> None:
        """A new job at the top of the list (the newest first, as the platform lists them)."""
        self._jobs.insert(0, job(max(j.id for j in self._jobs) + 1, name, state, "local-0", finished=False))

    def end(self, name: str, state: JobState = JobState.FINISHED) -> None:
        """The job ends (as the platform's next poll would show it): its state, a finish time."""
        from dataclasses import replace

        self._jobs = [replace(j, state=state, finished_ns=T0 + 95_000_000_000) if j.name == name else j
                      for j in self._jobs]

    def archive(self, name: str) -> None:
        """`cycle job archive`: the job's stored artifacts are deleted, its record (marked archived) stays."""
        from dataclasses import replace

        self._jobs = [replace(j, archived=True) if j.name == name else j for j in self._jobs]

    def add_artifact(self, path: str, size: int = 1, mtime_ns: int = T0) -> None:
        self._artifacts.append(Artifact(path, f"jobs/trainer-4/artifacts/{path}", size, "f" * 64, mtime_ns, T0))

    def reassign(self, name, to=None, grace=None, wait=120.0, requester=None):
        self.reassigned.append((name, requester))
        return Move(1, self.job(name).id, "local-1", "local-2", f"requested by {requester}", T0, 0, [], [])

    def cancel(self, name, requester=None):
        self.cancelled.append(name)
        self.cancel_requesters.append(requester)
        return self.job(name)
