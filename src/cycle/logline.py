"""How one log line is printed: `<ISO time> [<stream>] <text>`, from plain fields.

The one copy of the format (cycle.pull.format_line wraps it for a LogRecord). It imports neither
the contract nor the emulator, so the direct read of an ended job's log (src/cycle/cli/fast.py)
prints with it without importing cycle.api's models (issue 14)."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(ns: int) -> str:
    """UTC, microseconds, `Z`: 2026-01-01T12:00:00.123456Z."""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def log_line(ts_ns: int, stream: str, text: str) -> str:
    """One line of `cycle job logs` and output.log, without its newline."""
    return f"{iso(ts_ns)} [{stream}] {text}"
