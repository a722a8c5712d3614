"""Read-only log queries a viewer needs to reach any line of a long log at once: the first page,
a line's position, the log's length, and a server-side search. SQL on the StateStore's
connection (the (job_id, id) index keeps each one a range scan), so a 10,000,000-line log is
never read into the client. Each takes the same filter as every log read (one stream, and/or only
the lines holding `matching`: emulator.store.logs.log_filter)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from emulator.models import LogRecord, Stream
from emulator.store import StateStore
from emulator.store.direct import log_text
from emulator.store.logs import log_filter

MATCH_LIMIT = 100_000  # ids returned by one search; a viewer walks them with n / N
CHUNK_IDS = 1_000_000  # ids a search or count worker scans at a time (a 10,000,000-line log: 10 chunks)
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
    return [LogRecord(row[0], row[1], row[2], Stream(row[3]), log_text(row[4])) for row in rows]


def log_position(
    store: StateStore,
    job_id: int,
    line_id: int | None,
    stream: Stream | None = None,
    matching: str = "",
    chunk_ids: int = CHUNK_IDS,
) -> int:
    """How many lines come before the line `line_id` (None: all lines, the log's length).

    A count reads every index entry up to the line (about a second for 10,000,000), so the job's
    range is counted in chunks in parallel, as a search is."""
    bounds = _id_range(store, job_id)
    if bounds is None:
        return 0
    low, high = bounds
    if line_id is not None:
        high = min(high, line_id - 1)
    if high < low:
        return 0
    where, args = _like_first(stream, matching)

    def count(db: sqlite3.Connection, chunk: tuple[int, int]) -> int:
        sql = f"SELECT COUNT(*) FROM logs WHERE id BETWEEN ? AND ? {where} AND {_job_test(db, job_id, chunk, where)}"
        return db.execute(sql, (*chunk, *args, job_id)).fetchone()[0]

    return sum(_in_parallel(store, _chunks(low, high, chunk_ids), count))


def search_logs(
    store: StateStore,
    job_id: int,
    needle: str,
    stream: Stream | None = None,
    limit: int = MATCH_LIMIT,
    chunk_ids: int = CHUNK_IDS,
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
    where, args = _like_first(stream, needle)

    def scan(db: sqlite3.Connection, chunk: tuple[int, int]) -> list[int]:
        sql = (
            f"SELECT id FROM logs WHERE id BETWEEN ? AND ? {where} AND {_job_test(db, job_id, chunk, where)} "
            "ORDER BY id LIMIT ?"
        )
        return [row[0] for row in db.execute(sql, (*chunk, *args, job_id, limit))]

    found: list[int] = []
    for ids in _in_parallel(store, _chunks(*bounds, chunk_ids), scan, enough=lambda: len(found) >= limit):
        found.extend(ids)
    return found[:limit]


def _like_first(stream: Stream | None, matching: str) -> tuple[str, list]:
    """log_filter's SQL with the LIKE term first: sqlite tests the terms in order and most lines
    fail LIKE, so the stream and job terms see only its matches (~15% less CPU a line)."""
    like, like_args = log_filter(None, matching=matching)
    kept, kept_args = log_filter(stream)
    return like + kept, [*like_args, *kept_args]


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


def _in_parallel(store: StateStore, chunks: list[tuple[int, int]], scan, enough=lambda: False) -> Iterator:
    """`scan(db, chunk)` of each chunk, yielded in chunk order, run one worker a core, each on its
    own connection (sqlite releases the GIL while it steps). Chunks not started once the consumer
    has `enough` are not scanned. One chunk runs on the store's own connection."""
    if len(chunks) == 1:
        yield scan(store._connection(), chunks[0])
        return
    with ThreadPoolExecutor(min(len(chunks), os.cpu_count() or 1), thread_name_prefix="log-scan") as pool:
        futures = [pool.submit(_on_own_connection, store, scan, chunk) for chunk in chunks]
        for future in futures:
            if enough():
                future.cancel()
            else:
                yield future.result()


def _on_own_connection(store: StateStore, scan, chunk: tuple[int, int]):
    db = sqlite3.connect(store.path, timeout=30)
    try:
        return scan(db, chunk)
    finally:
        db.close()


def _job_test(db: sqlite3.Connection, job_id: int, chunk: tuple[int, int], where: str) -> str:
    """How a chunk's SQL keeps the job's lines. With a filter that reads each line's row, where the
    job owns most of the range (one job logging at a time) the rows are read in table order
    (`+job_id` keeps sqlite off the index, which would look each row up again: ~30% slower); where
    other jobs' lines crowd the range, or nothing but the id is read (a plain count), the index.
    A count over the range's first ids (on the index, cheap) tells which."""
    if not where:
        return "job_id = ?"
    low, high = chunk
    sample_end = min(high, low + 4095)
    owned = db.execute(
        "SELECT COUNT(*) FROM logs WHERE job_id = ? AND id BETWEEN ? AND ?", (job_id, low, sample_end)
    ).fetchone()[0]
    return "+job_id = ?" if owned >= DENSE * (sample_end - low + 1) else "job_id = ?"
