"""Read-only log queries a viewer needs to reach any line of a long log at once: the first page,
a line's position, the log's length, and a server-side search. SQL on the StateStore's
connection (the (job_id, id) index keeps each one a range scan), so a 10,000,000-line log is
never read into the client. Each takes the same filter as every log read (one stream, and/or only
the lines holding `matching`: emulator.store.logs.log_filter)."""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from emulator.models import LogRecord, Stream
from emulator.store import StateStore
from emulator.store.logs import log_filter

MATCH_LIMIT = 100_000  # ids returned by one search; a viewer walks them with n / N
SEARCH_CHUNK_IDS = 1_000_000  # ids a search worker scans at a time (a 10,000,000-line log: 10 chunks)
DENSE = 0.5  # the share of a chunk's ids that must be the job's for a table scan to beat the index


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
    store: StateStore,
    job_id: int,
    needle: str,
    stream: Stream | None = None,
    limit: int = MATCH_LIMIT,
    chunk_ids: int = SEARCH_CHUNK_IDS,
) -> list[int]:
    """The ids of the lines holding `needle` (ASCII case-insensitive, as LIKE is), in log order.

    A whole-log search reads every line, so it is split: the job's id range (two index look-ups)
    is cut into chunks of `chunk_ids` ids, scanned in parallel on their own connections (sqlite
    releases the GIL while it steps), one worker a core. The answer is the same as one query's:
    the chunks are joined in id order and cut at `limit`; chunks not yet started when the limit is
    reached are not scanned."""
    if not needle:
        return []
    bounds = _id_range(store, job_id)
    if bounds is None:
        return []
    matching, matching_args = log_filter(None, matching=needle)  # first: sqlite tests terms in order, and
    kept, kept_args = log_filter(stream)  # most lines fail LIKE, so the other terms see only its matches
    where, args = matching + kept, [*matching_args, *kept_args]
    chunks = _chunks(*bounds, chunk_ids)
    if len(chunks) == 1:
        return _search_chunk(store._connection(), job_id, chunks[0], where, args, limit)
    workers = min(len(chunks), os.cpu_count() or 1)
    found: list[int] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="log-search") as pool:
        futures = [pool.submit(_search_on_own_connection, store, job_id, chunk, where, args, limit) for chunk in chunks]
        for future in futures:
            if len(found) < limit:
                found.extend(future.result())
            else:
                future.cancel()
    return found[:limit]


def _id_range(store: StateStore, job_id: int) -> tuple[int, int] | None:
    """The job's first and last line id: two look-ups at the ends of the (job_id, id) index (one
    query asking both MIN and MAX would scan it)."""
    db = store._connection()
    low = db.execute("SELECT MIN(id) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]
    if low is None:
        return None
    return low, db.execute("SELECT MAX(id) FROM logs WHERE job_id = ?", (job_id,)).fetchone()[0]


def _chunks(low: int, high: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(high, start + size - 1)) for start in range(low, high + 1, size)]


def _search_on_own_connection(store, job_id, chunk, where, args, limit) -> list[int]:
    db = sqlite3.connect(store.path, timeout=30)
    try:
        return _search_chunk(db, job_id, chunk, where, args, limit)
    finally:
        db.close()


def _search_chunk(db: sqlite3.Connection, job_id: int, chunk: tuple[int, int], where: str, args: list,
                  limit: int) -> list[int]:
    """The matching ids in one id range. Where the job owns most of the range (one job logging at
    a time) the rows are read in table order (`+job_id` keeps sqlite off the index, which would look
    each row up again: ~30% slower); where other jobs' lines crowd the range, the index walk reads
    only this job's rows. A count over the range's first ids (on the index, cheap) tells which."""
    low, high = chunk
    sample_end = min(high, low + 4095)
    owned = db.execute("SELECT COUNT(*) FROM logs WHERE job_id = ? AND id BETWEEN ? AND ?",
                       (job_id, low, sample_end)).fetchone()[0]
    job_test = "+job_id = ?" if owned >= DENSE * (sample_end - low + 1) else "job_id = ?"
    rows = db.execute(
        f"SELECT id FROM logs WHERE id BETWEEN ? AND ? {where} AND {job_test} ORDER BY id LIMIT ?",
        (low, high, *args, job_id, limit),
    )
    return [row[0] for row in rows]
