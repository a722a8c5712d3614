"""The Platform protocol: every call the CLI, the TUI and the SDK make (cycle.api).

Today its only implementation is the emulator (emulator.platform.EmulatorPlatform, opened by
cycle.platform.open_platform); the hosted platform would be a second one behind the same protocol.
A few calls exist only in the emulator (reassign, moves, artifact_versions, drill); a client that
may talk to the hosted platform gets a CycleError from them, never an AttributeError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from cycle.api.models import Artifact, Job, JobState, JobSummary, LogRecord, Move, StoredArtifacts, Stream
from cycle.api.options import DrillOptions, TestOptions

LogSink = Callable[[int, Stream, str], None]
"""Where a foreground job's live log goes: (timestamp ns, stream, text)."""

ByteProgress = Callable[[int], None]
"""Told how many more bytes arrived."""

TotalProgress = Callable[[int, int], None]
"""Told (bytes done, bytes in all)."""


class VolumeVersion(Protocol):
    """One uploaded version of a volume (read-only data mounted at /volumes/<name>)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def files(self) -> Mapping[str, Sequence[object]]:
        """path -> [sha256, size], or [sha256, size, 0o755] for a file uploaded executable"""

    @property
    def folders(self) -> Sequence[str]:
        """the empty folders of the version, made again where it is mounted"""

    @property
    def new_bytes(self) -> int: ...

    @property
    def size(self) -> int: ...


class VolumeScan(Protocol):
    """What a volume upload found in its folder before storing it: links are followed (each stored
    as its target's bytes under the link's name); what could not be is named, one line each."""

    @property
    def links_followed(self) -> int: ...

    @property
    def skipped(self) -> Sequence[str]: ...


class DrillReport(Protocol):
    """A drill's verdict (PASS or FAIL) and the findings behind it."""

    @property
    def verdict(self) -> str: ...

    def text(self) -> str: ...

    def to_dict(self) -> dict[str, object]: ...


class Platform(Protocol):
    # starting jobs
    def test_project(self, project_dir: Path, options: TestOptions, sink: LogSink) -> Job:
        """Build (or reuse) the project's image and run it once, streaming its log to `sink`."""

    def start_detached(self, project_dir: Path, options: TestOptions, queued: bool = False) -> Job:
        """Like test_project, but return at once; a background agent runs the job."""

    def upload_project(self, project_dir: Path, options: TestOptions, progress: TotalProgress | None = None,
                       sink: LogSink | None = None) -> tuple[int, int, int, str, bool]:
        """Store the project as a new version and build its image: (version, files, new bytes, image,
        whether a version was made: files the latest version holds, path for path, make none)."""

    def queue(self, project: str, options: TestOptions) -> Job:
        """Start the latest uploaded version of `project` detached; it waits for a scheduler pass."""

    def changes_since_upload(self, project: str, folder: Path) -> tuple[int, list[str]] | None:
        """(latest uploaded version, how `folder` differs from it: "a.py changed", "b.py added",
        "c.py removed"); None when the project has no uploaded version."""

    def drill(self, project_dir: Path, plan: DrillOptions, say: Callable[[str], None],
              options: TestOptions) -> DrillReport:
        """Run the project detached, move it as `plan` says, and judge whether it resumed (emulator only)."""

    # reading
    def jobs(self, state: JobState | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        """Newest first."""

    def count_jobs(self, state: JobState | None = None) -> int:
        """How many jobs there are (in `state`): a listing's "showing 50 of 53"."""

    def job_summaries(self, limit: int = 10_000) -> list[JobSummary]:
        """The newest `limit` jobs with what a jobs list shows of each (stored file count), newest
        first, in ONE query: a list refreshed every second never asks per job."""

    def job(self, name: str) -> Job:
        """One job by name; BadInput (naming close matches) when there is none."""

    def logs(self, name: str, stream: Stream | None = None, after_id: int = 0, since_ns: int = 0,
             matching: str = "") -> list[LogRecord]:
        """Shipped log lines in order; `after_id` reads only what came since a previous read.
        Every log read keeps only `stream` (None: all) and, with `matching`, only the lines holding
        that text (case-insensitive, filtered by the store): a viewer's "only matches"."""

    def logs_before(self, name: str, before_id: int | None, limit: int,
                    stream: Stream | None = None, matching: str = "", since_ns: int = 0) -> list[LogRecord]:
        """The `limit` lines before the cursor (None: the end), oldest first: a viewer's older page;
        with `since_ns`, only lines from then on (`job logs --since T -n N` reads N lines, not all since T)."""

    def logs_after(self, name: str, after_id: int, limit: int, stream: Stream | None = None,
                   matching: str = "") -> list[LogRecord]:
        """The `limit` lines after the cursor (0: the first page), oldest first: a viewer's `g`."""

    def log_position(self, name: str, line_id: int | None, stream: Stream | None = None, matching: str = "") -> int:
        """How many lines precede `line_id` (None: the log's length): a viewer's "line N of M"."""

    def search_logs(self, name: str, needle: str, stream: Stream | None = None) -> list[int]:
        """Ids of the lines holding `needle` anywhere in the stored log (searched by the store)."""

    def artifacts(self, name: str) -> list[Artifact]:
        """The newest stored version of each file; nothing once the job is archived."""

    def stored_artifacts(self, name: str) -> StoredArtifacts:
        """How many files `artifacts` would list and their bytes, counted by the platform in one
        query (`job status` of a job with 100,000 files reads two numbers, not every record)."""

    def stored_artifacts_of(self, jobs: list[Job]) -> dict[str, StoredArtifacts]:
        """`stored_artifacts` of every job listed, by name, counted in ONE query for all of them
        (`job list --json` of 10,000 jobs does not ask once per job)."""

    def artifact_versions(self, name: str) -> list[Artifact]:
        """Every stored version of the job's files, in upload order."""

    def queued_artifacts(self, name: str) -> list[str]:
        """Paths written but not yet stored (still in the upload queue)."""

    def download_artifact(self, artifact: Artifact, dest: Path, progress: ByteProgress | None = None) -> None:
        """Fetch one stored artifact into `dest`, atomically, checked against its sha256."""

    def project_root(self, job: Job) -> Path | None:
        """The folder the job was started from (a queued upload's: the folder it was uploaded from),
        where pull and tail write."""

    def moves(self, name: str) -> list[Move]:
        """The job's reassignments, oldest first."""

    # acting
    def cancel(self, name: str, requester: str | None = None) -> Job:
        """A PENDING or RUNNING job ends CANCELLED, its container removed; `requester` (e.g.
        "`cycle tui`") is named in the job's log, as in reassign."""

    def archive(self, name: str) -> Job:
        """Delete an ended job's stored artifacts; the record (and its log) stays, marked archived."""

    def reassign(self, name: str, to: str | None = None, grace: float | None = None, wait: float = 120.0,
                 requester: str | None = None) -> Move:
        """Move a running job to another machine and wait until it restarted there; `requester`
        (e.g. "`cycle tui`") is named in the move's trigger."""

    # volumes
    def upload_volume(self, name: str, folder: Path, progress: TotalProgress | None = None,
                      scanned: Callable[[VolumeScan], None] | None = None) -> tuple[VolumeVersion, bool]:
        """Store `folder` as the newest version of volume `name`: (version, whether a new one was made).
        `scanned` hears what the folder held (links followed, what was skipped) before any byte is stored."""

    def volumes(self) -> Sequence[VolumeVersion]:
        """The newest version of every volume."""

    def volume_versions(self, name: str) -> Sequence[VolumeVersion]:
        """Every version of one volume, oldest first."""
