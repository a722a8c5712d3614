"""The job-state store: sqlite in WAL mode under the emulator home.

Several processes (the CLI, a detached agent, the TUI) read and write it at once: WAL lets readers
go on while one writer commits, and every write is a short transaction with a busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from emulator.models import Artifact, Build, Job, JobState, LogRecord, Stream, now_ns, transition

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    key TEXT NOT NULL,
    image_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    parent_image TEXT NOT NULL,
    depth INTEGER NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS builds_project ON builds(project, id);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    machine TEXT,
    image TEXT,
    created_ns INTEGER NOT NULL,
    started_ns INTEGER,
    finished_ns INTEGER,
    exit_code INTEGER
);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,
    stream TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_job_id ON logs(job_id, id);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL,
    uploaded_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_job_path ON artifacts(job_id, path, id);
"""

# Columns added after a table first shipped: (table, column, definition).
ADDED_COLUMNS = [
    ("jobs", "queue_len", "INTEGER NOT NULL DEFAULT 0"),
    ("jobs", "queue_warning", "INTEGER NOT NULL DEFAULT 0"),
    ("jobs", "agent_pid", "INTEGER"),
    ("jobs", "archived", "INTEGER NOT NULL DEFAULT 0"),
]


class StateStore:
    """All reads and writes of emulator state. One connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        db = self._connection()
        db.executescript(SCHEMA)
        for table, column, definition in ADDED_COLUMNS:
            known = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in known:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so concurrent writers queue."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # projects and builds
    def upsert_project(self, name: str, root: Path) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO projects(name, root, created_ns) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET root = excluded.root",
                (name, str(root), now_ns()),
            )

    def add_build(self, build: Build) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO builds(project, key, image_id, tag, parent_image, depth, created_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (build.project, build.key, build.image_id, build.tag, build.parent_image, build.depth, build.created_ns),
            )

    def builds(self, project: str) -> list[Build]:
        """The project's builds, newest first."""
        rows = self._connection().execute(
            "SELECT project, key, image_id, tag, parent_image, depth, created_ns FROM builds "
            "WHERE project = ? ORDER BY id DESC",
            (project,),
        )
        return [Build(**dict(row)) for row in rows]

    # jobs
    def create_job(self, project: str, image: str | None = None, machine: str | None = None) -> Job:
        """A new PENDING job named <project>-<n>, n counting the project's jobs from 1."""
        with self._tx() as db:
            count = db.execute("SELECT COUNT(*) FROM jobs WHERE project = ?", (project,)).fetchone()[0]
            number = count + 1
            while db.execute("SELECT 1 FROM jobs WHERE name = ?", (f"{project}-{number}",)).fetchone():
                number += 1
            cursor = db.execute(
                "INSERT INTO jobs(name, project, state, image, machine, created_ns) VALUES (?, ?, ?, ?, ?, ?)",
                (f"{project}-{number}", project, JobState.PENDING.value, image, machine, now_ns()),
            )
            job_id = cursor.lastrowid
        return self.job(job_id)

    def job(self, job_id: int) -> Job:
        row = self._connection().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def job_by_name(self, name: str) -> Job | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        return _job(row) if row else None

    def jobs(self, state: JobState | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        """Jobs, newest first."""
        where, args = ("WHERE state = ?", [state.value]) if state else ("", [])
        rows = self._connection().execute(
            f"SELECT * FROM jobs {where} ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset)
        )
        return [_job(row) for row in rows]

    def job_names(self) -> list[str]:
        return [row[0] for row in self._connection().execute("SELECT name FROM jobs")]

    def set_state(
        self, job_id: int, new: JobState, reason: str | None = None, exit_code: int | None = None,
        machine: str | None = None, image: str | None = None,
    ) -> Job:
        """Move a job to `new` if the transition is allowed; stamps start and finish times."""
        with self._tx() as db:
            current = JobState(db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
            transition(current, new)
            stamp = now_ns()
            db.execute(
                "UPDATE jobs SET state = ?, reason = ?, exit_code = COALESCE(?, exit_code), "
                "machine = COALESCE(?, machine), image = COALESCE(?, image), "
                "started_ns = CASE WHEN ? = 'RUNNING' AND started_ns IS NULL THEN ? ELSE started_ns END, "
                "finished_ns = CASE WHEN ? IN ('FINISHED', 'FAILED', 'CANCELLED') THEN ? ELSE finished_ns END "
                "WHERE id = ?",
                (new.value, reason, exit_code, machine, image, new.value, stamp, new.value, stamp, job_id),
            )
        return self.job(job_id)

    # logs
    def append_logs(self, job_id: int, records: Iterable[tuple[int, Stream, str]]) -> None:
        """Ship a batch of log records: sorted by timestamp, so id order is timestamp order."""
        batch = sorted(records, key=lambda record: record[0])
        with self._tx() as db:
            db.executemany(
                "INSERT INTO logs(job_id, ts_ns, stream, text) VALUES (?, ?, ?, ?)",
                ((job_id, ts, stream.value, text) for ts, stream, text in batch),
            )

    def logs(self, job_id: int, stream: Stream | None = None, after_id: int = 0, since_ns: int = 0) -> list[LogRecord]:
        """The job's shipped log in order. Each shipment is sorted by timestamp, so id order is
        timestamp order; `after_id` reads only what was shipped since a previous read."""
        where, args = _log_filter(stream, since_ns)
        rows = self._connection().execute(
            f"SELECT id, job_id, ts_ns, stream, text FROM logs WHERE job_id = ? AND id > ? {where} ORDER BY id",
            (job_id, after_id, *args),
        )
        return [_log(row) for row in rows]

    def logs_before(self, job_id: int, before_id: int | None, limit: int, stream: Stream | None = None) -> list[LogRecord]:
        """The `limit` lines just before the cursor `before_id` (None: the end), oldest first.

        The cursor is a record id: lines shipped later get larger ids, so paging backwards never
        skips or repeats a line while the log grows."""
        where, args = _log_filter(stream, 0)
        cursor = before_id if before_id is not None else 2**62
        rows = self._connection().execute(
            f"SELECT id, job_id, ts_ns, stream, text FROM logs WHERE job_id = ? AND id < ? {where} ORDER BY id DESC LIMIT ?",
            (job_id, cursor, *args, limit),
        ).fetchall()
        return [_log(row) for row in reversed(rows)]

    def log_count(self, job_id: int) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]

    def set_agent(self, job_id: int, pid: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET agent_pid = ? WHERE id = ?", (pid, job_id))

    def set_archived(self, job_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET archived = 1 WHERE id = ?", (job_id,))

    def project_root(self, project: str) -> Path | None:
        row = self._connection().execute("SELECT root FROM projects WHERE name = ?", (project,)).fetchone()
        return Path(row[0]) if row else None

    # artifacts
    def add_artifact(self, job_id: int, artifact: Artifact) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO artifacts(job_id, path, key, size, sha256, mtime_ns, uploaded_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, artifact.path, artifact.key, artifact.size, artifact.sha256, artifact.mtime_ns, artifact.uploaded_ns),
            )

    def artifacts(self, job_id: int) -> list[Artifact]:
        """The newest stored version of each of the job's files, by path."""
        rows = self._connection().execute(
            "SELECT path, key, size, sha256, mtime_ns, uploaded_ns FROM artifacts WHERE id IN "
            "(SELECT MAX(id) FROM artifacts WHERE job_id = ? GROUP BY path) ORDER BY path",
            (job_id,),
        )
        return [Artifact(*row) for row in rows]

    def artifact_versions(self, job_id: int) -> list[Artifact]:
        """Every stored version, in upload order."""
        rows = self._connection().execute(
            "SELECT path, key, size, sha256, mtime_ns, uploaded_ns FROM artifacts WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [Artifact(*row) for row in rows]

    def set_queue(self, job_id: int, length: int, warning: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET queue_len = ?, queue_warning = ? WHERE id = ?", (length, int(warning), job_id))


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values["state"] = JobState(values["state"])
    values["queue_warning"] = bool(values["queue_warning"])
    values["archived"] = bool(values["archived"])
    return Job(**values)


def _log(row) -> LogRecord:
    return LogRecord(row[0], row[1], row[2], Stream(row[3]), row[4])


def _log_filter(stream: Stream | None, since_ns: int) -> tuple[str, list]:
    where, args = "", []
    if stream is not None:
        where, args = " AND stream = ?", [stream.value]
    if since_ns:
        where, args = where + " AND ts_ns >= ?", [*args, since_ns]
    return where, args
