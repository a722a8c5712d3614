"""Uploading, one file at a time: snapshot or in-place hash, store with bounded retries, record;
failures fail the file, never the thread. Part of ArtifactPipeline (pipeline.py)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from cycle.api.keys import artifact_key, is_inside
from emulator.artifacts.files import OUT_OF_SPACE, DiskFull, open_unfollowed, shown, signature_of
from emulator.artifacts.report import PipelineFailure
from emulator.artifacts.watch import TICK
from emulator.blobs import CHUNK, FileChanged, StorageError, snapshot_file
from emulator.models import Artifact
from emulator.rules.stability import Signature, Stable


class Uploading:
    # uploading
    def _upload_loop(self) -> None:
        """Upload until stopped. An error on one file fails that file and the job (never the
        thread silently: a dead uploader would leave finish() waiting forever)."""
        try:
            while True:
                with self._lock:
                    item = self.queue.pop()
                    while item is None:
                        if self._stop.is_set():
                            return
                        self._lock.wait(TICK)
                        item = self.queue.pop()
                    self._in_flight = item.path
                try:
                    self._upload(item)
                except Exception as error:
                    self._fail_item(item, error)
                finally:
                    with self._lock:
                        self._in_flight = None
                        self.queue.settle()
                        self._lock.notify_all()
        except BaseException as error:
            self._record_failure(PipelineFailure(
                "UPLOAD_ERROR", f"the artifact uploader stopped: {type(error).__name__}: {error}"))
            with self._lock:
                self._uploader_gone = True
                self._lock.notify_all()
            raise

    def _fail_item(self, item: Stable, error: Exception) -> None:
        """`item` could not be stored: it is not retried, and the job ends FAILED with the reason."""
        self._settled[item.path] = item.signature
        if shown(item.path) not in self.report.failed:
            self.report.failed.append(shown(item.path))
        if isinstance(error, OSError) and error.errno in OUT_OF_SPACE:
            folder = Path(os.path.dirname(error.filename)) if error.filename else self.store.snapshot_dir
            error = DiskFull(folder, item.signature[0], shown(item.path))
        if isinstance(error, DiskFull):
            self._record_failure(PipelineFailure("DISK_FULL", error.paragraph()))
        else:
            self._record_failure(PipelineFailure(
                "UPLOAD_ERROR",
                f"the artifact uploader failed on {shown(item.path)!r}: {type(error).__name__}: {error}"))

    def _record_failure(self, failure: PipelineFailure) -> None:
        """The first failure decides the job's reason; each is a system event."""
        if self.report.failure is None:
            self.report.failure = failure
        self.on_event(failure.message)

    def _retouch(self, rel: str) -> None:
        with self._lock:
            self.tracker.touch(rel, time.monotonic(), signature_of(self.root / rel))

    def _source(self, rel: str) -> Path | None:
        """The file to read for `rel`: itself, or a symlink's target when that stays inside /artifacts."""
        path = self.root / rel
        real = Path(os.path.realpath(path))
        if not is_inside(self.real_root, real) or real == self.real_root:
            target = os.readlink(path) if path.is_symlink() else str(real)
            self.report.skipped.append(shown(rel))
            self.on_event(f"skipped artifact {shown(rel)!r}: it is a link to {target!r}, outside /artifacts; links are "
                          "never followed out")
            return None
        return real if real.is_file() else None

    def _upload(self, item: Stable) -> None:
        source = self._source(item.path)
        if source is None:
            self._settled[item.path] = item.signature
            return
        threshold = getattr(self.store, "in_place_threshold", None)
        in_place = threshold is not None and item.signature[0] > threshold
        prepared = self._hash_in_place(item, source) if in_place else self._snapshot(item, source)
        if prepared is None:
            return
        path, sha256, size, signature = prepared
        self._settled[item.path] = signature
        key = artifact_key(self.job_name, item.path)
        try:
            if self._stored.get(item.path) == (signature, sha256):
                return
            if in_place:
                still_same = lambda: signature_of(self.root / item.path) == signature  # noqa: E731
                upload = lambda: self.store.put_in_place(key, path, sha256, size, still_same)  # noqa: E731
            else:
                upload = lambda: self.store.put_snapshot(key, path, sha256, size)  # noqa: E731
            try:
                stored = self._store_with_retries(upload, item.path)
            except FileChanged:
                self._settled.pop(item.path, None)
                self._retouch(item.path)  # written to during the upload: it comes back once stable
                return
            if stored:
                self._stored[item.path] = (signature, sha256)
                artifact = Artifact(path=shown(item.path), key=key, size=size, sha256=sha256, mtime_ns=signature[1],
                                    uploaded_ns=time.time_ns(), store=getattr(self.store, "name", None))
                self.report.uploaded.append(artifact)
                if shown(item.path) in self.report.failed:
                    self.report.failed.remove(shown(item.path))
                self.on_uploaded(artifact)
        finally:
            if in_place:
                path.close()
            else:
                path.unlink(missing_ok=True)

    def _hash_in_place(self, item: Stable, source: Path) -> tuple[BinaryIO, str, int, Signature] | None:
        """Open the file once (never through a link) and hash it where it is: a large file goes to
        S3 from this same descriptor, without a private copy, so swapping the path for a link
        after the hash cannot send another file. None (and re-watch) when it changed meanwhile."""
        before = signature_of(self.root / item.path)
        if before != item.signature:
            self._retouch(item.path)
            return None
        handle = open_unfollowed(source, self.real_root)
        if handle is None:
            self._retouch(item.path)
            return None
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := handle.read(CHUNK * 4):
                digest.update(chunk)
                size += len(chunk)
        except OSError:
            handle.close()
            self._retouch(item.path)
            return None
        if signature_of(self.root / item.path) != before:
            handle.close()
            self._retouch(item.path)
            return None
        return handle, digest.hexdigest(), size, before

    def _snapshot(self, item: Stable, source: Path) -> tuple[Path, str, int, Signature] | None:
        """A private copy of `source`, hashed; None (and re-watch) when it changed meanwhile."""
        before = signature_of(self.root / item.path)
        if before != item.signature:
            self._retouch(item.path)
            return None
        try:
            name, sha256, size = snapshot_file(source, self.store.snapshot_dir)
        except OSError as error:
            if error.errno in OUT_OF_SPACE:  # retrying would spin: the copy fails the same way
                raise DiskFull(self.store.snapshot_dir, item.signature[0], shown(item.path)) from None
            if self._keeps_failing(item.path):
                raise  # the same error every time: fail the file rather than re-watch it forever
            self._retouch(item.path)
            return None
        self._copy_failures.pop(item.path, None)
        if (signature_of(self.root / item.path) != before
                or (source != self.root / item.path and signature_of(source) is None)):
            name.unlink(missing_ok=True)  # written to while we copied: wait for it to settle again
            self._retouch(item.path)
            return None
        return name, sha256, size, before

    def _keeps_failing(self, rel: str) -> bool:
        """True once copying `rel` failed more times in a row than uploads are retried (a file that
        vanished meanwhile does not count: it is simply gone)."""
        if signature_of(self.root / rel) is None:
            return False
        self._copy_failures[rel] = self._copy_failures.get(rel, 0) + 1
        return self._copy_failures[rel] > self.settings.retries

    def _store_with_retries(self, upload: Callable[[], None], rel: str) -> bool:
        attempts = 1 if self._consecutive_failures >= 3 else max(1, self.settings.retries)
        for attempt in range(attempts):
            try:
                upload()
                self._consecutive_failures = 0
                return True
            except StorageError as error:
                last = error
                if attempt + 1 < attempts and not self._stop_now():
                    time.sleep(self.settings.backoff * 2 ** attempt)
        self._consecutive_failures += 1
        if shown(rel) not in self.report.failed:
            self.report.failed.append(shown(rel))
        self.on_event(f"upload of {shown(rel)!r} failed after {attempts} attempt(s): {last.message}")
        return False

    def _stop_now(self) -> bool:
        return self._stop.is_set() and not self._draining
