"""Byte counts as people read them (1.5 MiB), one rule for the CLI and the TUI. Pure."""

from __future__ import annotations


def human_size(size: int) -> str:
    """Binary units, one decimal above bytes: 10 B, 2.0 KiB, 50.0 MiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
