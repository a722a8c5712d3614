"""Words for messages, shared by the CLI and the emulator. Pure."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the words stay as light to import as the fast paths need them
    from cycle.api.models import JobState


def displayable(text: str) -> str:
    """A log line as a screen or an email shows it: bytes the job printed that are not UTF-8 (kept
    in the log as lone surrogates, see emulator/engine/output.py) as U+FFFD, which both can carry."""
    return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def listed(names: Sequence[str], most: int) -> str:
    """The first `most` names, comma-separated, and how many more: "a, b and 3 more"."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def older_restored(lost: Sequence[str], restored: Collection[str]) -> list[str]:
    """The files a move lost in the queue of which an older version was restored (in `lost`'s
    order): `job status --json` and `cycle drill --json` name them as files_lost_older_restored."""
    restored = set(restored)
    return [path for path in lost if path in restored]


def lost_named(lost: Sequence[str], restored: Collection[str], most: int) -> str:
    """A move's files lost in the queue, named as `listed` names them; one whose older version
    was restored says so (`latest.pt (an older version restored)`): the job got that version
    back, not nothing."""
    return listed([f"{path} (an older version restored)" if path in restored else path for path in lost], most)


def machine_shown(state: JobState, machine: str | None) -> str:
    """A job's machine as screens show it: "-" for none; a waiting (PENDING) job runs on none, and
    the machine it names is the one a move took it from (shown as such, not as where it runs)."""
    from cycle.api.models import JobState

    if machine is None:
        return "-"
    return f"- (left {machine})" if state is JobState.PENDING else machine
