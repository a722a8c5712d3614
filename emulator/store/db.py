"""The state database: sqlite in WAL mode under the emulator home, shared by every store aggregate.

Several processes (the CLI, a detached agent, the TUI) read and write it at once: WAL lets readers
go on while one writer commits, and every write is a short transaction with a busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms; issue 14)
if TYPE_CHECKING:  # emulator/store/direct.py imports this module and must not pay for pathlib
    from pathlib import Path

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
CREATE INDEX IF NOT EXISTS logs_job_ts ON logs(job_id, ts_ns);
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
CREATE TABLE IF NOT EXISTS volume_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    files TEXT NOT NULL,
    new_bytes INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS project_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    files TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS machines (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL DEFAULT 'available',
    cuda TEXT,
    job_id INTEGER,
    jobs_run INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    target TEXT,
    grace REAL,
    created_ns INTEGER NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS queued_artifacts (
    job_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (job_id, path)
);
CREATE TABLE IF NOT EXISTS moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    from_machine TEXT NOT NULL,
    to_machine TEXT,
    trigger TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    lost TEXT NOT NULL DEFAULT '[]',
    restored TEXT NOT NULL DEFAULT '[]',
    restored_bytes INTEGER NOT NULL DEFAULT 0,
    restore_seconds REAL,
    restarted_ns INTEGER,
    next_artifact_seconds REAL
);
"""

# Columns added after a table first shipped: (table, column, definition).
ADDED_COLUMNS = [
    ("jobs", "queue_len", "INTEGER NOT NULL DEFAULT 0"),
    ("jobs", "queue_warning", "INTEGER NOT NULL DEFAULT 0"),
    ("jobs", "agent_pid", "INTEGER"),
    ("jobs", "archived", "INTEGER NOT NULL DEFAULT 0"),
    ("artifacts", "store", "TEXT"),
    ("jobs", "project_root", "TEXT"),
    ("machines", "agent_pid", "INTEGER"),
    ("requests", "requester", "TEXT"),
    ("jobs", "log_backlog", "INTEGER NOT NULL DEFAULT 0"),
    ("jobs", "log_cadence_seconds", "REAL NOT NULL DEFAULT 600"),
    ("volume_versions", "folders", "TEXT NOT NULL DEFAULT '[]'"),
    ("requests", "refusal", "TEXT"),
    ("builds", "inputs", "TEXT NOT NULL DEFAULT '{}'"),
    ("jobs", "waiting_since_ns", "INTEGER"),  # waiting for a free machine since (first come first served)
    ("jobs", "waiting_cuda", "TEXT"),  # … for one whose driver supports this CUDA version
    ("jobs", "waiting_exclude", "TEXT"),  # … never this one (the machine a moving job leaves)
    ("jobs", "waiting_polled_ns", "INTEGER"),  # … and asked last then (a stopped agent stops counting)
]
ADDED_INDEXES = [
    # the waiting jobs, read on every claim poll, without scanning every job the home ever ran
    "CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs(waiting_since_ns) WHERE waiting_since_ns IS NOT NULL",
]

SCHEMA_VERSION = zlib.crc32((SCHEMA + repr(ADDED_COLUMNS) + repr(ADDED_INDEXES)).encode()) & 0x7FFFFFFF
"""The schema this version of the store writes, as sqlite's `PRAGMA user_version` (a checksum of
the tables and added columns: it changes by itself whenever they do). migrate() records it; a
reader that skips migrate (emulator/store/direct.py) answers only when the database holds exactly
this schema, and leaves an older or newer one to the store, which migrates or copes."""



class Database:
    """The connection (one per thread), the schema and its migrations, and write transactions.
    Every aggregate of the store derives from it, so they all share one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        migrate(self._connection())

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            _retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so concurrent writers queue. A COMMIT
        that fails (a full disk) is rolled back too: left open, the connection's next BEGIN would
        fail, and every later write of this thread with it."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def migrate(db: sqlite3.Connection) -> None:
    """Create the tables, then add the columns later versions introduced (idempotent; safe when
    several processes open a new database at once)."""
    db.executescript(SCHEMA)
    for table, column, definition in ADDED_COLUMNS:
        known = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in known:
            try:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            except sqlite3.OperationalError as error:
                if "duplicate column" not in str(error):  # another process added it first
                    raise
    for statement in ADDED_INDEXES:  # on added columns: after them
        db.execute(statement)
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _retry_locked(statement, attempts: int = 100) -> None:
    """Switching a new database to WAL takes a lock that sqlite's busy timeout does not wait for:
    when several processes open it at once, try again for a few seconds."""
    for attempt in range(attempts):
        try:
            statement()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
