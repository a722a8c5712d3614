"""How one log line is printed: `<ISO time> [<stream>] <text>`, from plain fields.

The one copy of the format (cycle.pull.format_line wraps it for a LogRecord). It imports neither
the contract nor the emulator, so the direct read of an ended job's log (src/cycle/cli/fast.py)
prints with it without importing cycle.api's models (issue 14)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


def moment(ns: int, tz: tzinfo = timezone.utc) -> datetime:
    """The time `ns` (since the epoch) as a datetime, cut (not rounded) to its microsecond, in
    integers: a printed time is then never later than the line it stamps, so `--since` with a
    time copied from the output includes that line (through a float, ~half of all lines were
    rounded up, and left out)."""
    return (EPOCH + timedelta(microseconds=ns // 1000)).astimezone(tz)


def ns_of(stamp: datetime) -> int:
    """A zone-aware datetime as ns since the epoch, exactly (no float on the way)."""
    return (stamp - EPOCH) // MICROSECOND * 1000


def iso(ns: int) -> str:
    """UTC, microseconds, `Z`: 2026-01-01T12:00:00.123456Z."""
    return moment(ns).isoformat(timespec="microseconds").replace("+00:00", "Z")


def log_line(ts_ns: int, stream: str, text: str) -> str:
    """One line of `cycle job logs` and output.log, without its newline."""
    return f"{iso(ts_ns)} [{stream}] {text}"
