"""Requests to a job's agent (cancel, reassign) and the moves they led to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from emulator.models import Move, now_ns
from emulator.store.db import Database


@dataclass(frozen=True)
class Request:
    """What someone asked of a job's agent: 'cancel', or 'reassign' (to `target`, with `grace`)."""

    kind: Literal["cancel", "reassign"]
    target: str | None = None
    grace: float | None = None
    requester: str | None = None  # who asked, named in the log (None: `cycle job reassign` / `cycle job cancel`)
    id: int | None = None


class RequestsTable(Database):
    def request_move(self, job_id: int, target: str | None, grace: float | None, requester: str | None = None) -> int:
        """Ask the job's agent to move it; the request's id, under which the agent may refuse it."""
        with self._tx() as db:
            return db.execute("INSERT INTO requests(job_id, kind, target, grace, created_ns, requester) "
                              "VALUES (?, 'reassign', ?, ?, ?, ?)", (job_id, target, grace, now_ns(), requester)
                              ).lastrowid

    def refuse_request(self, request_id: int, why: str) -> None:
        """The agent's answer to a move it could not make (the target became unusable after the
        requester's own check): the requester, waiting for the move, reads it and stops waiting."""
        with self._tx() as db:
            db.execute("UPDATE requests SET refusal = ? WHERE id = ?", (why, request_id))

    def refusal(self, request_id: int) -> str | None:
        row = self._connection().execute("SELECT refusal FROM requests WHERE id = ?", (request_id,)).fetchone()
        return row[0] if row else None

    def request_cancel(self, job_id: int, requester: str | None = None) -> None:
        """Ask the job's agent to cancel it: the agent alone writes a running job's state. The
        requester (None: `cycle job cancel`; e.g. "`cycle tui`") is named in the job's log and to a
        foreground `project test` it ends."""
        with self._tx() as db:
            db.execute("INSERT INTO requests(job_id, kind, created_ns, requester) VALUES (?, 'cancel', ?, ?)",
                       (job_id, now_ns(), requester))

    def take_request(self, job_id: int, kinds: tuple[str, ...] = ("cancel", "reassign")) -> Request | None:
        """The job's oldest open request of `kinds`, marked taken (a cancel first: it overrides any
        move); None when there is none."""
        marks = ", ".join("?" for _ in kinds)
        query = (f"SELECT id, kind, target, grace, requester FROM requests WHERE job_id = ? AND taken = 0 "
                 f"AND kind IN ({marks}) ORDER BY kind = 'cancel' DESC, id LIMIT 1")
        # asked without the write lock first: a waiting agent asks every 0.2 s, and nearly always
        # nothing is there (N queued jobs took the lock 5N times a second, against log shipping)
        if self._connection().execute(query, (job_id, *kinds)).fetchone() is None:
            return None
        with self._tx() as db:
            row = db.execute(query, (job_id, *kinds)).fetchone()
            if row is None:  # another reader took it meanwhile
                return None
            db.execute("UPDATE requests SET taken = 1 WHERE id = ?", (row[0],))
        return Request(row[1], row[2], row[3], row[4], row[0])

    def add_move(self, move: Move) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO moves(job_id, from_machine, to_machine, trigger, ts_ns, uploaded, lost) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (move.job_id, move.from_machine, move.to_machine, move.trigger, move.ts_ns, move.uploaded,
                 json.dumps(move.lost)),
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
