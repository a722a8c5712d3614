"""Logs: each job's shipped records, read forwards or backwards by id."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from emulator.models import LogRecord, Stream
from emulator.store.db import Database
from emulator.store.direct import NO_CURSOR, log_rows_before, log_text, storable_text

# With a stream or text filter, the since floor is looked for among at most this many lines after
# T (~1 ms of the index); past them the walk back from the cursor runs unbounded, as it did before.
FILTERED_FLOOR_LINES = 10_000


class LogsTable(Database):
    def append_logs(self, job_id: int, records: Iterable[tuple[int, Stream, str]]) -> None:
        """Ship a batch of log records: sorted by timestamp, so id order is timestamp order."""
        batch = sorted(records, key=lambda record: record[0])
        with self._tx() as db:
            db.executemany(
                "INSERT INTO logs(job_id, ts_ns, stream, text) VALUES (?, ?, ?, ?)",
                ((job_id, ts, stream.value, storable_text(text)) for ts, stream, text in batch),
            )

    def logs(self, job_id: int, stream: Stream | None = None, after_id: int = 0, since_ns: int = 0,
             matching: str = "") -> list[LogRecord]:
        """The job's shipped log in order. Each shipment is sorted by timestamp, so id order is
        timestamp order; `after_id` reads only what was shipped since a previous read."""
        where, args = log_filter(stream, since_ns, matching)
        rows = self._connection().execute(
            f"SELECT id, job_id, ts_ns, stream, text FROM logs WHERE job_id = ? AND id > ? {where} ORDER BY id",
            (job_id, after_id, *args),
        )
        return [_log(row) for row in rows]

    def logs_before(self, job_id: int, before_id: int | None, limit: int,
                    stream: Stream | None = None, matching: str = "", since_ns: int = 0) -> list[LogRecord]:
        """The `limit` lines just before the cursor `before_id` (None: the end) and from `since_ns`
        on, oldest first (the query is direct.log_rows_before, shared with the direct read of an
        ended job: it walks the (job_id, id) index back from the cursor and stops after `limit`,
        or, from `since_ns` on, at since_floor: the first line at or after it)."""
        db = self._connection()
        where, args = log_filter(stream, since_ns, matching)
        if since_ns:
            # with a filter, the lines after T that match may be few: a floor helps however many
            # lines came after T, but counting them costs as many index entries, so up to a bound
            enough = max(limit, FILTERED_FLOOR_LINES) if limit is not None and (stream or matching) else limit
            floor = since_floor(db, job_id, since_ns, before_id, enough)
            if floor is None:
                return []
            where, args = where + " AND id >= ?", [*args, floor]
        return [_log(row) for row in log_rows_before(db, job_id, before_id, limit, where, args)]

    def log_count(self, job_id: int) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]


def since_floor(db: sqlite3.Connection, job_id: int, since_ns: int, before_id: int | None,
                enough: int | None) -> int | None:
    """The id a backward read of the lines from `since_ns` on (before the cursor) may stop at, so
    `job logs --since T -n N` never walks the log back to its start when fewer than N lines came
    after T. Read from the (job_id, ts_ns) index alone: the smallest id of those lines, not the
    first by time, as ids follow timestamps only within a shipment (a later one may hold older
    lines). Past `enough` of them (None: never) this stops counting and answers 0, no floor: the
    walk, which keeps every line after T, then finds its N before reaching one. None: no line."""
    most = -1 if enough is None else min(enough + 1, NO_CURSOR)  # -1: sqlite's "no limit"
    count, first = db.execute(
        "SELECT COUNT(*), MIN(id) FROM (SELECT id FROM logs WHERE job_id = ? AND ts_ns >= ? AND id < ? LIMIT ?)",
        (job_id, since_ns, NO_CURSOR if before_id is None else before_id, most),
    ).fetchone()
    if count == 0:
        return None
    return 0 if enough is not None and count > enough else first


def _log(row) -> LogRecord:
    return LogRecord(row[0], row[1], row[2], Stream(row[3]), log_text(row[4]))


def log_filter(stream: Stream | None, since_ns: int = 0, matching: str = "") -> tuple[str, list]:
    """The SQL (` AND ...`) and arguments that keep one stream, lines from `since_ns` on, and lines
    holding `matching` (ASCII case-insensitive, as LIKE is; `%`, `_` and `\\` taken literally):
    every log read filters the same way, so a viewer's pages, positions and live lines agree."""
    where, args = "", []
    if stream is not None:
        where, args = " AND stream = ?", [stream.value]
    if since_ns:
        where, args = where + " AND ts_ns >= ?", [*args, since_ns]
    if matching:
        # CAST: a line that is not UTF-8 is a BLOB (direct.storable_text), which LIKE never matches
        where, args = where + " AND CAST(text AS TEXT) LIKE ? ESCAPE '\\'", [*args, like_pattern(matching)]
    return where, args


def like_pattern(needle: str) -> str:
    """`needle` anywhere in the text, its LIKE wildcards escaped."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
