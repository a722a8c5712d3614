"""Logs: each job's shipped records, read forwards or backwards by id."""

from __future__ import annotations

from collections.abc import Iterable

from emulator.models import LogRecord, Stream
from emulator.store.db import Database
from emulator.store.direct import log_rows_before


class LogsTable(Database):
    def append_logs(self, job_id: int, records: Iterable[tuple[int, Stream, str]]) -> None:
        """Ship a batch of log records: sorted by timestamp, so id order is timestamp order."""
        batch = sorted(records, key=lambda record: record[0])
        with self._tx() as db:
            db.executemany(
                "INSERT INTO logs(job_id, ts_ns, stream, text) VALUES (?, ?, ?, ?)",
                ((job_id, ts, stream.value, text) for ts, stream, text in batch),
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
        ended job: it walks the (job_id, id) index back from the cursor and stops after `limit`)."""
        where, args = log_filter(stream, since_ns, matching)
        return [_log(row) for row in log_rows_before(self._connection(), job_id, before_id, limit, where, args)]

    def log_count(self, job_id: int) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]


def _log(row) -> LogRecord:
    return LogRecord(row[0], row[1], row[2], Stream(row[3]), row[4])


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
        where, args = where + " AND text LIKE ? ESCAPE '\\'", [*args, like_pattern(matching)]
    return where, args


def like_pattern(needle: str) -> str:
    """`needle` anywhere in the text, its LIKE wildcards escaped."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
