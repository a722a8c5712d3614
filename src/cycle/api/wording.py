"""Words for messages, shared by the CLI and the emulator. Pure."""

from __future__ import annotations

from collections.abc import Sequence


def displayable(text: str) -> str:
    """A log line as a screen or an email shows it: bytes the job printed that are not UTF-8 (kept
    in the log as lone surrogates, see emulator/engine/output.py) as U+FFFD, which both can carry."""
    return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def listed(names: Sequence[str], most: int) -> str:
    """The first `most` names, comma-separated, and how many more: "a, b and 3 more"."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
