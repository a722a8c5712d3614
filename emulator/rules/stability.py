"""The 500 ms stability rule, as pure logic.

A file is ready to upload once it has stayed unchanged for the window: every watcher event that
finds it changed (another size or mtime_ns) restarts its timer (an event for a file that did not
change keeps its window and its place), and when the window has passed its (size, mtime_ns) is
checked again; if that changed (an event we never got, e.g. from the polling observer) the timer
starts over. The clock and the stat are passed in, so the rule is tested without a filesystem.
"""

from __future__ import annotations

from collections.abc import Callable, KeysView
from dataclasses import dataclass

from cycle.api.keys import natural_key

Signature = tuple[int, ...]  # (size, mtime_ns, ctime_ns); a link's adds its own mtime_ns (rules/links.py)
STABILITY_SECONDS = 0.5


def in_write_order(found: list[tuple[str, Signature]]) -> list[tuple[str, Signature]]:
    """(path, signature) pairs found by a scan, oldest first: by mtime, a tie by name in natural
    order (the file system's clock may tick every few ms, so a loop writes many files with one
    mtime, and a listing's order is a hash's: step-9 before step-10). The names are compared only
    within a tie: a key of digit runs per file cost a scan of 2,000 files more than its lstats'
    Python, where the clock here gave every file its own mtime."""
    by_time = sorted(found, key=_mtime)
    if len({signature[1] for _path, signature in by_time}) == len(by_time):
        return by_time  # no tie
    ordered, start = [], 0
    for end in range(1, len(by_time) + 1):
        if end == len(by_time) or by_time[end][1][1] != by_time[start][1][1]:
            tied = by_time[start:end]
            ordered += sorted(tied, key=_natural_path) if len(tied) > 1 else tied
            start = end
    return ordered


def _mtime(found: tuple[str, Signature]) -> int:
    return found[1][1]


def _natural_path(found: tuple[str, Signature]) -> list[str | int]:
    return natural_key(found[0])


@dataclass(slots=True)
class _Pending:
    last_change: float
    signature: Signature | None
    seq: int


@dataclass(frozen=True, slots=True)
class Stable:
    """A file version that stayed unchanged for the window. `seq` orders writes (higher = later)."""

    path: str
    signature: Signature
    seq: int


class StabilityTracker:
    def __init__(self, window: float = STABILITY_SECONDS) -> None:
        self.window = window
        self._pending: dict[str, _Pending] = {}
        self._seq = 0

    def touch(self, path: str, now: float, signature: Signature | None) -> None:
        """A create/modify/move event for `path`: (re)start its timer; it now counts as written last.

        Re-inserting keeps `_pending` ordered by last change, so `due()` stops at the first file
        whose window is still open instead of visiting every pending file on every tick.

        An event for a file already waiting with the same (size, mtime_ns) changes nothing: the
        file did not change, so neither its window nor its place in the write order moves. Such
        events come in bursts: a close after the last write, and the "created" events watchdog
        makes up for every file already in a new folder (in listing order, after the folder's
        files were touched oldest first), which would otherwise reorder a FIFO upload."""
        waiting = self._pending.get(path)
        if waiting is not None and signature is not None and waiting.signature == signature:
            return
        self._seq += 1
        self._pending.pop(path, None)
        self._pending[path] = _Pending(now, signature, self._seq)

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: str) -> bool:
        return path in self._pending

    def waiting(self) -> KeysView[str]:
        """The paths waiting, as a live view: a rescan tests thousands of paths against it without
        a method call each."""
        return self._pending.keys()

    def due(self, now: float, stat: Callable[[str], Signature | None]) -> list[Stable]:
        """Files whose window has passed and whose signature still matches; they leave the tracker."""
        ready, restarted = [], []
        for path, pending in list(self._pending.items()):
            if now - pending.last_change < self.window:
                break  # ordered by last change: the rest are younger still
            current = stat(path)
            del self._pending[path]
            if current is None:  # gone (deleted or renamed away): nothing to upload
                continue
            if current != pending.signature:
                restarted.append((path, _Pending(now, current, pending.seq)))
            else:
                ready.append(Stable(path, current, pending.seq))
        self._pending.update(restarted)  # changed without an event: the window starts over
        return ready


    def flush(self, stat: Callable[[str], Signature | None]) -> list[Stable]:
        """Everything pending, in write order, for the job's end, when nothing writes any more: each
        with the signature it was last seen with (`stat` is asked only for a file seen without one,
        e.g. not there yet when its event came). Not stat'ed again here: the uploader compares
        each file's signature with this one right before reading it, and a file that changed
        since comes back to wait, so a second stat per file would only repeat that check."""
        ready = []
        for path, pending in sorted(self._pending.items(), key=lambda kv: kv[1].seq):
            current = pending.signature or stat(path)
            if current is not None:
                ready.append(Stable(path, current, pending.seq))
        self._pending.clear()
        return ready

    def paths(self) -> list[str]:
        return list(self._pending)
