"""SnapshotAhead: the next large file's private snapshot, made on other cores before the uploader
reaches it.

A large file costs the local store a kernel copy and a sha256 of the copy (one core: about twice
the copy). The uploader stores files one at a time, in order; making the snapshot of the large
file it reaches next, meanwhile, uses the cores its own snapshot leaves idle, and that upload then
only moves the ready snapshot into the store. A snapshot is the file's private copy and the sha256
of that copy's own bytes (blobs.snapshot_file), made only when the file's signature was the one
judged stable both before and after the copy, as the uploader's own: whatever the job does to its
file afterwards, the ready snapshot stays a whole, checked version of it. A snapshot the upload
cannot use (the file changed and became stable again since, or the pipeline stopped) is deleted.

One snapshot is made at a time and one kept ready: at most two files' private copies on disk
beside the uploader's own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator.rules.stability import Signature, Stable

KEPT = 1  # ready snapshots kept for files not uploaded yet (LIFO can put a newer file first)


@dataclass(frozen=True)
class Prepared:
    signature: Signature  # the file's, the same before and after its copy
    snapshot: Path
    sha256: str  # of the snapshot's bytes
    size: int


class SnapshotAhead:
    def __init__(self, make: Callable[[Stable], Prepared | None]) -> None:
        """`make(item)`: the snapshot of `item`'s version, or None (it changed, it is a link, the
        disk is full...: the upload then makes it itself and says what went wrong)."""
        self._make = make
        self._lock = threading.Lock()
        self._running: tuple[str, threading.Thread] | None = None
        self._ready: dict[str, Prepared] = {}
        self._closed = False

    def start(self, item: Stable) -> None:
        """Make `item`'s snapshot on a thread, unless one is being made (one at a time) or is ready."""
        with self._lock:
            if self._closed or item.path in self._ready or (self._running and self._running[1].is_alive()):
                return
            thread = threading.Thread(target=self._run, args=(item,), name="snapshot-ahead", daemon=True)
            self._running = (item.path, thread)
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: the upload makes its snapshot itself
            with self._lock:
                self._running = None

    def take(self, item: Stable) -> Prepared | None:
        """`item`'s snapshot, waited for when it is being made; None when none was made for this
        version (one made for an older version is deleted)."""
        with self._lock:
            running = self._running
        if running is not None and running[0] == item.path:
            running[1].join()
        with self._lock:
            prepared = self._ready.pop(item.path, None)
        if prepared is not None and prepared.signature != item.signature:
            prepared.snapshot.unlink(missing_ok=True)
            return None
        return prepared

    def close(self) -> None:
        """The pipeline stopped: no more snapshots; the ready ones are deleted, and the one being
        made is deleted once made (a killed process's are removed by recovery: their names carry
        its pid)."""
        with self._lock:
            self._closed = True
            ready, self._ready = list(self._ready.values()), {}
        for prepared in ready:
            prepared.snapshot.unlink(missing_ok=True)

    def _run(self, item: Stable) -> None:
        try:
            prepared = self._make(item)
        except Exception:  # noqa: BLE001 - whatever failed, the upload makes the snapshot itself and says why
            return
        if prepared is None:
            return
        with self._lock:
            dropped = [prepared] if self._closed else []
            if not self._closed:
                if (older := self._ready.pop(item.path, None)) is not None:
                    dropped.append(older)
                self._ready[item.path] = prepared
                while len(self._ready) > KEPT:
                    dropped.append(self._ready.pop(next(iter(self._ready))))  # the oldest
        for old in dropped:
            old.snapshot.unlink(missing_ok=True)
