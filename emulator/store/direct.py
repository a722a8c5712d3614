"""The store's reads that need no model: plain tuples from sqlite, stdlib only.

Why a module of its own: `cycle job logs JOB --tail N` of an ended job is run in loops, and issue
14 asks it to take at most 3x `docker logs --tail 100`. Opening the platform imports the contract's
dataclass models and enums (`import cycle.api` alone is ~4x `docker logs`), so the ended-job case
reads straight from state.db here (through the factory, cycle.platform.ended_job_log_tail). These
are also the store's own queries (LogsTable.logs_before converts the same rows into the contract's
LogRecord), so there is one copy of each.

Only ENDED jobs are read this way: a running job may need the reaper (emulator/reaper.py marks it
LOST when its agent died), which only the platform runs.
"""

from __future__ import annotations

import os
import sqlite3

from emulator.store.db import SCHEMA_VERSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms; issue 14)
if TYPE_CHECKING:
    from collections.abc import Sequence

LogRow = tuple[int, int, int, str, str]
"""(id, job_id, ts_ns, stream, text), the logs table's columns in LogRecord's order."""

NO_CURSOR = 2**62
"""A record id past every real one: "before the end" of the log."""


def storable_text(text: str) -> str | bytes:
    """A log line as the logs table keeps it: as text, or, when the job printed bytes that are not
    UTF-8 (held in `text` as surrogateescape's lone surrogates, which sqlite cannot encode), as
    exactly those bytes (a BLOB value in the same column)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def log_text(value: str | bytes) -> str:
    """A logs table value as a line's text: a BLOB (see storable_text) decoded back, byte for byte."""
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


def log_rows_before(db: sqlite3.Connection, job_id: int, before_id: int | None, limit: int | None,
                    where: str = "", args: Sequence[object] = ()) -> list[LogRow]:
    """The `limit` lines (None: all) just before the cursor `before_id` (None: the end), oldest
    first; `where`/`args` are logs.log_filter's (one stream, a needle).

    The cursor is a record id: lines shipped later get larger ids, so paging backwards never skips
    or repeats a line while the log grows."""
    rows = db.execute(
        f"SELECT id, job_id, ts_ns, stream, text FROM logs WHERE job_id = ? AND id < ? {where} "
        "ORDER BY id DESC LIMIT ?",
        # a limit past sqlite's 64-bit integers (`-n 99999999999999999999`) means all of them too
        (job_id, NO_CURSOR if before_id is None else before_id, *args, -1 if limit is None else min(limit, NO_CURSOR)),
    ).fetchall()
    rows.reverse()
    return rows  # tuples here; sqlite3.Row (also indexed by position) under the store's connection


def ended_job_id(db: sqlite3.Connection, name: str) -> int | None:
    """The id of the job named `name` when it has ended, else None (unknown, or still PENDING or
    RUNNING). "Ended" is the finish stamp: the store writes finished_ns in the very UPDATE that
    puts a job in a final state (JobsTable.set_state, end_abandoned), and a final state never
    changes, so this needs no copy of the contract's FINAL_STATES (tests/unit/test_store_direct.py
    checks the two agree for every state)."""
    row = db.execute("SELECT id FROM jobs WHERE name = ? AND finished_ns IS NOT NULL", (name,)).fetchone()
    return None if row is None else row[0]


def ended_job_log_tail(home: str, name: str, limit: int | None) -> list[tuple[int, str, str]] | None:
    """(ts_ns, stream, text) of the last `limit` lines (None: all) of the ended job `name` in the
    home's state.db; None when this cannot answer (no state.db, a schema other than this version's,
    an unknown or unfinished job): the caller then asks the platform, which says what is wrong."""
    path = os.path.join(home, "state.db")
    if not os.path.isfile(path):
        return None
    db = sqlite3.connect(read_only_uri(path), uri=True, timeout=30)
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return None
        job_id = ended_job_id(db, name)
        if job_id is None:
            return None
        return [(ts, stream, log_text(text)) for _, _, ts, stream, text in log_rows_before(db, job_id, None, limit)]
    finally:
        db.close()


def read_only_uri(path: str) -> str:
    """sqlite's `file:` URI opening `path` read-only (creates nothing); `?`, `#` and `%` escaped."""
    escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{escaped}?mode=ro"
