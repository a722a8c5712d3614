"""Read-only log queries a viewer needs to reach any line of a long log at once: the first page,
a line's position, the log's length, and a server-side search. SQL on the StateStore's
connection (the (job_id, id) index keeps each one a range scan), so a 10,000,000-line log is
never read into the client. Each takes the same filter as every log read (one stream, and/or only
the lines holding `matching`: emulator.store.logs.log_filter)."""

from __future__ import annotations

from emulator.models import LogRecord, Stream
from emulator.store import StateStore
from emulator.store.logs import log_filter

MATCH_LIMIT = 100_000  # ids returned by one search; a viewer walks them with n / N


def logs_after(
    store: StateStore, job_id: int, after_id: int, limit: int, stream: Stream | None = None, matching: str = ""
) -> list[LogRecord]:
    """The `limit` lines just after the cursor `after_id` (0: the first page), oldest first."""
    where, args = log_filter(stream, matching=matching)
    rows = store._connection().execute(
        f"SELECT id, job_id, ts_ns, stream, text FROM logs WHERE job_id = ? AND id > ? {where} ORDER BY id LIMIT ?",
        (job_id, after_id, *args, limit),
    )
    return [LogRecord(row[0], row[1], row[2], Stream(row[3]), row[4]) for row in rows]


def log_position(
    store: StateStore, job_id: int, line_id: int | None, stream: Stream | None = None, matching: str = ""
) -> int:
    """How many lines come before the line `line_id` (None: all lines, the log's length)."""
    where, args = log_filter(stream, matching=matching)
    cursor = line_id if line_id is not None else 2**62
    return (
        store._connection()
        .execute(f"SELECT COUNT(*) FROM logs WHERE job_id = ? AND id < ? {where}", (job_id, cursor, *args))
        .fetchone()[0]
    )


def search_logs(
    store: StateStore, job_id: int, needle: str, stream: Stream | None = None, limit: int = MATCH_LIMIT
) -> list[int]:
    """The ids of the lines holding `needle` (ASCII case-insensitive, as LIKE is), in log order."""
    if not needle:
        return []
    where, args = log_filter(stream, matching=needle)
    rows = store._connection().execute(
        f"SELECT id FROM logs WHERE job_id = ? {where} ORDER BY id LIMIT ?", (job_id, *args, limit)
    )
    return [row[0] for row in rows]
