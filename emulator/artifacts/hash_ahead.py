"""HashAhead: a large file's sha256, read on a second core before the uploader reaches it.

A large file costs the local store a sha256 (one core, about twice a kernel copy) and a copy. The
uploader stores files one at a time, in order, hashing a file while it copies it; the hash is the
longer part. Hashing the file the uploader reaches next, meanwhile, on another thread, leaves that
upload only its copy. The uploader then checks the file's signature as before: the one the hash saw
(before and after reading) must be the one it sees before its copy and after it, so the bytes
copied are the bytes hashed, as when the two ran side by side.

Only reads: nothing is written, so a move or an abandon has nothing to clean up, and a hash no
upload uses is dropped. One file at a time (two cores: the uploader's and this one)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from emulator.artifacts.files import stat_signature
from emulator.rules.stability import Signature, Stable

KEPT = 4  # hashes kept for files not uploaded yet (LIFO can put a newer file first)
BUFFER = 256 * 1024  # a cache-sized buffer, as blobs._hash_stream


@dataclass(frozen=True)
class Hashed:
    signature: Signature  # the file's, unchanged from the open to the end of the read
    sha256: str
    size: int


class HashAhead:
    def __init__(self, open_file: Callable[[str], int], stop: threading.Event) -> None:
        """`open_file(rel)`: a descriptor for reading the regular file at `rel` inside /artifacts
        (files.open_inside), OSError otherwise; `stop`: the pipeline's, which ends a hash under way."""
        self._open = open_file
        self._stop = stop
        self._lock = threading.Lock()
        self._running: tuple[str, threading.Thread] | None = None
        self._done: dict[str, Hashed] = {}

    def start(self, item: Stable) -> None:
        """Hash `item` on a thread, unless a hash is under way (one at a time) or already done."""
        with self._lock:
            if (self._running is not None and self._running[1].is_alive()) or item.path in self._done:
                return
            thread = threading.Thread(target=self._hash, args=(item,), name="hash-ahead", daemon=True)
            self._running = (item.path, thread)
        thread.start()

    def take(self, item: Stable) -> Hashed | None:
        """The hash of `item` as it is now (its signature), waited for when it is under way; None
        when it was not hashed, or changed since."""
        with self._lock:
            running = self._running
        if running is not None and running[0] == item.path:
            running[1].join()
        with self._lock:
            hashed = self._done.pop(item.path, None)
        return hashed if hashed is not None and hashed.signature == item.signature else None

    def _hash(self, item: Stable) -> None:
        try:
            hashed = self._read(item)
        except Exception:  # noqa: BLE001 - gone, replaced by a link, unreadable: the upload hashes it itself
            return
        if hashed is not None:
            with self._lock:
                self._done[item.path] = hashed
                while len(self._done) > KEPT:
                    del self._done[next(iter(self._done))]  # the oldest

    def _read(self, item: Stable) -> Hashed | None:
        """sha256 of the file, if it is `item`'s version and unchanged through the read."""
        fd = self._open(item.path)
        try:
            before = stat_signature(os.fstat(fd))
            if before != item.signature:
                return None
            digest, size = hashlib.sha256(), 0
            buffer = bytearray(BUFFER)
            view = memoryview(buffer)
            while got := os.readv(fd, [buffer]):
                digest.update(view[:got])
                size += got
                if self._stop.is_set():
                    return None
            after = stat_signature(os.fstat(fd))
        finally:
            os.close(fd)
        return Hashed(before, digest.hexdigest(), size) if after == before and size == before[0] else None
