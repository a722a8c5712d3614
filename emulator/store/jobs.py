"""Jobs: records, states, agents."""

from __future__ import annotations

from dataclasses import fields

from emulator.models import Job, JobState, JobSummary, Stream, now_ns, transition
from emulator.rules.upload_queue import QueueChange, has_upload_queue
from emulator.store.db import Database
from emulator.store.direct import storable_text


class JobsTable(Database):
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
        row = self._connection().execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def job_by_name(self, name: str) -> Job | None:
        row = self._connection().execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE name = ?", (name,)).fetchone()
        return _job(row) if row else None

    def jobs(self, state: JobState | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        """Jobs, newest first."""
        where, args = ("WHERE state = ?", [state.value]) if state else ("", [])
        rows = self._connection().execute(
            f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset)
        )
        return [_job(row) for row in rows]

    def count_jobs(self, state: JobState | None = None) -> int:
        where, args = ("WHERE state = ?", [state.value]) if state else ("", [])
        return self._connection().execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]

    def job_summaries(self, limit: int = 10_000) -> list[JobSummary]:
        """The newest `limit` jobs, each with its count of stored files (distinct paths; 0 once
        archived): one SQL whose GROUP BY walks the (job_id, path) index, so a jobs list never
        queries per job (10,000 jobs with 50,000 files: tens of milliseconds)."""
        rows = self._connection().execute(
            f"SELECT {', '.join('j.' + name for name in JOB_FIELDS)}, COALESCE(c.files, 0) FROM jobs j "
            "LEFT JOIN (SELECT job_id, COUNT(DISTINCT path) AS files FROM artifacts GROUP BY job_id) c "
            "ON c.job_id = j.id ORDER BY j.id DESC LIMIT ?",
            (limit,),
        )
        return [JobSummary(job, 0 if job.archived else row[-1]) for row in rows for job in (_job(row),)]

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

    def set_reason(self, job_id: int, reason: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET reason = ? WHERE id = ?", (reason, job_id))

    def set_agent(self, job_id: int, pid: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET agent_pid = ? WHERE id = ?", (pid, job_id))

    def set_archived(self, job_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET archived = 1 WHERE id = ?", (job_id,))

    def record_queue(self, job_id: int, change: QueueChange, warning: bool) -> None:
        """The agent's record of the job's queued artifacts (rules.upload_queue.queued_paths), as a
        change, and of the 600 s warning: in one transaction, the one source of every reader's "queued"."""
        with self._tx() as db:
            db.executemany("DELETE FROM queued_artifacts WHERE job_id = ? AND path = ?",
                           [(job_id, path) for path in change.removed])
            db.executemany("INSERT OR IGNORE INTO queued_artifacts(job_id, path) VALUES (?, ?)",
                           [(job_id, path) for path in change.added])
            db.execute("UPDATE jobs SET queue_len = (SELECT COUNT(*) FROM queued_artifacts WHERE job_id = ?), "
                       "queue_warning = ? WHERE id = ?", (job_id, int(warning), job_id))

    def record_log_backlog(self, job_id: int, lines: int) -> None:
        """How many lines the job printed that the log store does not hold yet (its agent's shipper
        records it), so `cycle job logs` can say why a running job's log lags its output."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET log_backlog = ? WHERE id = ?", (lines, job_id))

    def record_log_cadence(self, job_id: int, seconds: float) -> None:
        """How often the job's agent ships its log (recorded as its shipper starts): readers
        in other processes, with another $CYCLE_LOG_CADENCE_SECONDS or none, say this one."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET log_cadence_seconds = ? WHERE id = ?", (seconds, job_id))

    def queued_paths(self, job_id: int) -> list[str]:
        """The job's queued artifacts as its agent last recorded them, sorted (none unless it is RUNNING)."""
        db = self._connection()
        row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or not has_upload_queue(JobState(row[0])):
            return []
        rows = db.execute("SELECT path FROM queued_artifacts WHERE job_id = ? ORDER BY path", (job_id,))
        return [path for (path,) in rows]

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
                       (job_id, stamp, Stream.SYSTEM.value, storable_text(text)))
            db.execute("UPDATE machines SET job_id = NULL, agent_pid = NULL WHERE job_id = ?", (job_id,))
        return True


JOB_FIELDS = tuple(field.name for field in fields(Job))
JOB_COLUMNS = ", ".join(JOB_FIELDS)
"""Every job query names the columns this version knows, in Job's order: a home a newer `cycle` has
opened (and added columns to) still opens with this one, and rows convert by position."""
STATES = {state.value: state for state in JobState}
_STATE, _QUEUE, _WARNING, _ARCHIVED = (JOB_FIELDS.index(name)
                                       for name in ("state", "queue_len", "queue_warning", "archived"))


def _job(row) -> Job:
    """A Job from a row whose first columns are JOB_FIELDS in order (positional: a list of
    thousands is built without a dict per row)."""
    values = list(row[: len(JOB_FIELDS)])
    values[_STATE] = STATES[values[_STATE]]
    if not has_upload_queue(values[_STATE]):  # the same record and rule as queued_paths()
        values[_QUEUE] = 0
    values[_WARNING], values[_ARCHIVED] = bool(values[_WARNING]), bool(values[_ARCHIVED])
    return Job(*values)
