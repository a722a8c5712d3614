"""The job-state store: sqlite in WAL mode under the emulator home.

Several processes (the CLI, a detached agent, the TUI) read and write it at once: WAL lets readers
go on while one writer commits, and every write is a short transaction with a busy timeout.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from emulator.models import Artifact, Build, Job, Machine, Move, JobState, LogRecord, Stream, now_ns, transition
from emulator.reaper import holder_gone

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
                try:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                except sqlite3.OperationalError as error:
                    if "duplicate column" not in str(error):  # another process added it first
                        raise

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
        """Record the project's folder the first time its name is seen; only claim_project moves
        a name to another folder (so a run never silently takes over another project's name)."""
        with self._tx() as db:
            db.execute("INSERT INTO projects(name, root, created_ns) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
                       (name, str(root), now_ns()))

    def claim_project(self, name: str, root: Path, still_owned: Callable[[Path], bool]) -> tuple[Path | None, bool]:
        """Give the project name to `root`: (None, True) when it was free or already `root`'s;
        (the folder holding it, False) while `still_owned(folder)`, nothing written; else
        (that folder, True): the name moved to `root`."""
        with self._tx() as db:
            row = db.execute("SELECT root FROM projects WHERE name = ?", (name,)).fetchone()
            if row is None or Path(row[0]) == root:
                db.execute("INSERT INTO projects(name, root, created_ns) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
                           (name, str(root), now_ns()))
                return None, True
            previous = Path(row[0])
            if still_owned(previous):
                return previous, False
            db.execute("UPDATE projects SET root = ? WHERE name = ?", (str(root), name))
        return previous, True

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
    def create_job(self, project: str, image: str | None = None, machine: str | None = None,
                   agent_pid: int | None = None) -> Job:
        """A new PENDING job named <project>-<n>, n counting the project's jobs from 1.

        `agent_pid` is the process answering for the job from its first moment, so a job whose
        creator dies before handing it on is noticed (see emulator/reaper.py)."""
        with self._tx() as db:
            count = db.execute("SELECT COUNT(*) FROM jobs WHERE project = ?", (project,)).fetchone()[0]
            number = count + 1
            while db.execute("SELECT 1 FROM jobs WHERE name = ?", (f"{project}-{number}",)).fetchone():
                number += 1
            # the job keeps its project's folder as it is now: pull writes there even if the name moves later
            cursor = db.execute(
                "INSERT INTO jobs(name, project, state, image, machine, created_ns, agent_pid, project_root) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT root FROM projects WHERE name = ?))",
                (f"{project}-{number}", project, JobState.PENDING.value, image, machine, now_ns(), agent_pid, project),
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

    def set_reason(self, job_id: int, reason: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET reason = ? WHERE id = ?", (reason, job_id))

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
                "INSERT INTO artifacts(job_id, path, key, size, sha256, mtime_ns, uploaded_ns, store) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, artifact.path, artifact.key, artifact.size, artifact.sha256, artifact.mtime_ns, artifact.uploaded_ns,
                 artifact.store),
            )

    def artifacts(self, job_id: int) -> list[Artifact]:
        """The newest stored version of each of the job's files, by path."""
        rows = self._connection().execute(
            "SELECT path, key, size, sha256, mtime_ns, uploaded_ns, store FROM artifacts WHERE id IN "
            "(SELECT MAX(id) FROM artifacts WHERE job_id = ? GROUP BY path) ORDER BY path",
            (job_id,),
        )
        return [Artifact(*row) for row in rows]

    def artifact_versions(self, job_id: int) -> list[Artifact]:
        """Every stored version, in upload order."""
        rows = self._connection().execute(
            "SELECT path, key, size, sha256, mtime_ns, uploaded_ns, store FROM artifacts WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [Artifact(*row) for row in rows]

    def set_queue(self, job_id: int, length: int, warning: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET queue_len = ?, queue_warning = ? WHERE id = ?", (length, int(warning), job_id))


    # project versions
    def add_project_version(self, name: str, files: dict) -> int:
        with self._tx() as db:
            last = db.execute("SELECT MAX(version) FROM project_versions WHERE name = ?", (name,)).fetchone()[0] or 0
            db.execute("INSERT INTO project_versions(name, version, files, created_ns) VALUES (?, ?, ?, ?)",
                       (name, last + 1, json.dumps(files), now_ns()))
        return last + 1

    def project_versions(self, name: str) -> list[tuple[int, dict]]:
        rows = self._connection().execute("SELECT version, files FROM project_versions WHERE name = ? ORDER BY version", (name,))
        return [(row[0], json.loads(row[1])) for row in rows]

    # volumes
    def add_volume_version(self, version) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO volume_versions(name, version, files, new_bytes, created_ns) VALUES (?, ?, ?, ?, ?)",
                       (version.name, version.version, json.dumps(version.files), version.new_bytes, version.created_ns))

    def volume_versions(self, name: str) -> list:
        from emulator.volumes import VolumeVersion

        rows = self._connection().execute(
            "SELECT name, version, files, new_bytes, created_ns FROM volume_versions WHERE name = ? ORDER BY version", (name,))
        return [VolumeVersion(row[0], row[1], json.loads(row[2]), row[3], row[4]) for row in rows]

    def volume_names(self) -> list[str]:
        return [row[0] for row in self._connection().execute("SELECT DISTINCT name FROM volume_versions ORDER BY name")]

    def usage(self) -> list[dict]:
        """Bytes stored per project: artifacts (the newest version of each file), logs (text)."""
        rows = self._connection().execute(
            "SELECT j.project, "
            "COALESCE((SELECT SUM(a.size) FROM artifacts a WHERE a.job_id IN (SELECT id FROM jobs WHERE project = j.project AND archived = 0) "
            "AND a.id IN (SELECT MAX(id) FROM artifacts GROUP BY job_id, path)), 0), "
            "COALESCE((SELECT SUM(LENGTH(CAST(l.text AS BLOB)) + 1) FROM logs l WHERE l.job_id IN (SELECT id FROM jobs WHERE project = j.project)), 0) "
            "FROM jobs j GROUP BY j.project ORDER BY j.project")
        return [{"project": row[0], "artifacts": row[1], "logs": row[2]} for row in rows]

    # machines
    def ensure_machines(self, names: list[str], cuda: str | None) -> None:
        """Every machine exists, with the CUDA capability this host has now."""
        with self._tx() as db:
            for name in names:
                db.execute("INSERT INTO machines(name, cuda) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET cuda = excluded.cuda",
                           (name, cuda))

    def machines(self) -> list[Machine]:
        rows = self._connection().execute("SELECT name, state, cuda, job_id, jobs_run FROM machines ORDER BY name")
        return [Machine(*row) for row in rows]

    def claim_machine(self, job_id: int, prefer: str | None = None, exclude: str | None = None,
                      eligible: Callable[[Machine], bool] = lambda machine: True,
                      agent_pid: int | None = None, alive: Callable[[int], bool] | None = None) -> Machine | None:
        """Give the job a free eligible machine: `prefer` if it is available, else the least-loaded one.

        A machine is free when nobody holds it, or its holder has ended, or the agent that claimed
        it is dead: a machine belongs to a job only while that job's agent is alive. `agent_pid`
        (the claiming process) is recorded with the claim."""
        from emulator.runtime import pid_alive

        alive = alive or pid_alive
        with self._tx() as db:
            rows = db.execute(
                "SELECT m.name, m.state, m.cuda, m.job_id, m.jobs_run, j.state, COALESCE(m.agent_pid, j.agent_pid) "
                "FROM machines m LEFT JOIN jobs j ON j.id = m.job_id WHERE m.state = 'available' "
                "ORDER BY m.jobs_run, m.name").fetchall()
            free = [Machine(*row[:5]) for row in rows
                    if row[3] is None or holder_gone(row[5], row[6], alive)]
            free = [m for m in free if m.name != exclude and eligible(m)]
            chosen = next((m for m in free if m.name == prefer), None) if prefer else (free[0] if free else None)
            if chosen is None:
                return None
            db.execute("UPDATE machines SET job_id = ?, agent_pid = ?, jobs_run = jobs_run + 1 WHERE name = ?",
                       (job_id, agent_pid, chosen.name))
        return chosen

    def release_machine(self, name: str, job_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE machines SET job_id = NULL, agent_pid = NULL WHERE name = ? AND job_id = ?", (name, job_id))

    def release_job_machines(self, job_id: int) -> None:
        """Give back every machine the job holds (any way its run ended)."""
        with self._tx() as db:
            db.execute("UPDATE machines SET job_id = NULL, agent_pid = NULL WHERE job_id = ?", (job_id,))

    def unfinished_agents(self) -> list[tuple[int, int | None]]:
        """(job id, agent pid) of every PENDING or RUNNING job: one cheap query for the reaper."""
        rows = self._connection().execute("SELECT id, agent_pid FROM jobs WHERE state IN ('PENDING', 'RUNNING')")
        return [(row[0], row[1]) for row in rows]

    def end_abandoned(self, job_id: int, state: JobState, reason: str, text: str, pid: int | None = None) -> bool:
        """End a job nobody runs any more (its agent died, or failed): in one transaction, if it is
        still unfinished (and still belongs to `pid`, when given), set `state`, log `text` as a
        system event and give back its machines. False when someone else ended it first."""
        with self._tx() as db:
            row = db.execute("SELECT state, agent_pid FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or JobState(row[0]).is_final or (pid is not None and row[1] != pid):
                return False
            transition(JobState(row[0]), state)
            stamp = now_ns()
            db.execute("UPDATE jobs SET state = ?, reason = ?, finished_ns = ? WHERE id = ?",
                       (state.value, reason, stamp, job_id))
            db.execute("INSERT INTO logs(job_id, ts_ns, stream, text) VALUES (?, ?, ?, ?)",
                       (job_id, stamp, Stream.SYSTEM.value, text))
            db.execute("UPDATE machines SET job_id = NULL, agent_pid = NULL WHERE job_id = ?", (job_id,))
        return True

    def machine(self, name: str) -> Machine | None:
        row = self._connection().execute("SELECT name, state, cuda, job_id, jobs_run FROM machines WHERE name = ?", (name,)).fetchone()
        return Machine(*row) if row else None

    def set_machine_state(self, name: str, state: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE machines SET state = ? WHERE name = ?", (state, name))

    # reassignment requests and moves
    def request_move(self, job_id: int, target: str | None, grace: float | None, requester: str | None = None) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO requests(job_id, kind, target, grace, created_ns, requester) VALUES (?, 'reassign', ?, ?, ?, ?)",
                       (job_id, target, grace, now_ns(), requester))

    def take_request(self, job_id: int) -> tuple[str | None, float | None, str | None] | None:
        """The oldest open reassignment request for the job (target, grace, requester), marked
        taken; None when there is none."""
        with self._tx() as db:
            row = db.execute("SELECT id, target, grace, requester FROM requests WHERE job_id = ? AND taken = 0 ORDER BY id LIMIT 1",
                             (job_id,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE requests SET taken = 1 WHERE id = ?", (row[0],))
        return row[1], row[2], row[3]

    def add_move(self, move: Move) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO moves(job_id, from_machine, to_machine, trigger, ts_ns, uploaded, lost) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (move.job_id, move.from_machine, move.to_machine, move.trigger, move.ts_ns, move.uploaded, json.dumps(move.lost)),
            )
            return cursor.lastrowid

    def update_move(self, move_id: int, **fields) -> None:
        encoded = {k: json.dumps(v) if isinstance(v, list) else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in encoded)
        with self._tx() as db:
            db.execute(f"UPDATE moves SET {assignments} WHERE id = ?", (*encoded.values(), move_id))

    def moves(self, job_id: int) -> list[Move]:
        rows = self._connection().execute(
            "SELECT id, job_id, from_machine, to_machine, trigger, ts_ns, uploaded, lost, restored, restored_bytes, "
            "restore_seconds, restarted_ns, next_artifact_seconds FROM moves WHERE job_id = ? ORDER BY id", (job_id,))
        return [Move(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), json.loads(row[8]),
                     row[9], row[10], row[11], row[12]) for row in rows]


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
