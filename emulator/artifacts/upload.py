"""Uploading, one file at a time: snapshot or in-place hash, store with bounded retries, record;
failures fail the file, never the thread. Part of ArtifactPipeline (pipeline.py)."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat as statmod
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cycle.api.keys import artifact_prefix, is_inside, relative_key
from emulator.artifacts.files import (
    OUT_OF_SPACE,
    DiskFull,
    open_inside,
    open_unfollowed,
    resolve_link,
    shown,
    stat_signature,
)
from emulator.artifacts.report import PipelineFailure
from emulator.artifacts.snapshot_ahead import Prepared, SnapshotAhead
from emulator.artifacts.watch import TICK
from emulator.blobs import CHUNK, PARALLEL_COPY, SMALL_SNAPSHOT, FileChanged, StorageError, snapshot_file
from emulator.models import Artifact
from emulator.rules.links import DIR, FILE, LOOP, MAX_HOPS, MISSING, OTHER, Resolved
from emulator.rules.stability import Signature, Stable
from emulator.rules.upload_queue import QueueChange

IN_PLACE, IN_MEMORY, ON_DISK = "in place", "in memory", "on disk"
# Stored small files are recorded (on_uploaded: the job's record, one sqlite transaction a call)
# in batches while the queue stays busy, when the store's puts are quick (a local disk: a record
# costs as much as the put; to S3 a put takes ~50x a record and can stall, so each file is
# recorded at once): a batch goes after this many files, once it is this old when an upload
# ends or is about to start, at once when the queue drains (a job writing a file now and then
# sees each recorded right away), and before and after any larger file.
RECORD_BATCH = 256
RECORD_SECONDS = 0.25
# Small files read while the queue stays busy go to a store that takes many at once
# (put_many_bytes: the local store) in one call: after this many files or bytes, when the queue
# drains, and before any larger file, so files are stored in the order they were taken.
STORE_BATCH = 64
STORE_BATCH_BYTES = 4 * 1024 * 1024


NOT_PLAIN = object()
"""Uploading._read_plain's answer for a path that is not a plain regular file it could read."""


@dataclass(slots=True)
class ReadAhead:
    """A small file read and hashed, waiting for its batch's store call (Uploading._store_batch)."""

    item: Stable
    key: str
    display: str
    sha256: str
    body: bytes


def read_small(source: str | Path, inside: str) -> tuple[bytes, str, int, Signature, Signature]:
    """A small file's snapshot in memory: its bytes (opened by files.open_inside: a regular file
    under `inside`, the real /artifacts), their sha256 and length, and the file's signature as
    opened and once read (fstat of the descriptor both times: a write during the read shows in the
    second, as in an lstat of its path, without the path's lookup). Read once; what is stored is
    exactly what was hashed. Asking for one byte more than fstat's size, a read that returns
    exactly that size was short: the file ended there (a regular file's reads are short only at
    its end), so no second read is needed to see the end. A file that grows or shrinks meanwhile
    is read to its end, and the caller's signature check after the read rejects it either way."""
    fd, info = open_inside(source, inside)
    try:
        body = os.read(fd, info.st_size + 1)  # one read for a file that does not grow meanwhile
        if len(body) != info.st_size:  # it grew or shrank: read to its end
            chunks = [body]
            while chunk := os.read(fd, CHUNK):
                chunks.append(chunk)
            body = b"".join(chunks)
        after = stat_signature(os.fstat(fd))
    finally:
        os.close(fd)
    return body, hashlib.sha256(body).hexdigest(), len(body), stat_signature(info), after


def _is_small(item: Stable) -> bool:
    return item.signature[0] <= SMALL_SNAPSHOT


AHEAD_ROOM = 4  # a snapshot is made ahead only with this many times its size free (Uploading._room_ahead)


def _worth_making_ahead(item: Stable) -> bool:
    """Whether `item`'s snapshot may be made ahead of its upload (snapshot_ahead): from the size
    where a snapshot copies on a second thread (a smaller one takes about a thread's start)."""
    return item.signature[0] >= PARALLEL_COPY


def _plain_file_signature(path: str) -> Signature | None:
    """The signature of a regular file (not a link) at `path`, else None: one lstat, where
    resolving the whole path costs one per folder, and it serves as the upload's first signature."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return stat_signature(info) if statmod.S_ISREG(info.st_mode) else None


class Uploading:
    # uploading
    def _take_run(self) -> list[Stable]:
        """The next file to upload, or, for a store that takes small files in batches, the run of
        small files next in the queue (up to a batch): one pop for the run, where the loop's
        condition-variable round trips and a pop each cost about a tenth of storing a small file.
        The run counts as queued (`_taken`) until each is claimed. Under the lock."""
        run = self.queue.pop_run(STORE_BATCH if self._puts_batched else 1, _is_small)
        self._taken.update((item.path, item) for item in run)
        self._pushes_at_run = self.queue.pushes
        return run

    def _claim(self, item: Stable) -> bool:
        """Whether `item` is uploaded now (then it is in flight), under the lock (its plain
        acquire and release: the condition's context manager costs more), so readers of `_taken`
        and `_in_flight` (the queue report, a rescan, abandon()) see each file in one of them. Not
        when abandon() took it back (it lists it as lost), and not when a file that pops before it
        became stable since the run was taken (LIFO: a newer checkpoint): the run's rest goes back
        to its place in the queue, so the order is exactly what popping one file at a time gives.
        Files reach the queue on the watcher's ticks (every TICK), so a run is given back at most
        once a tick, however fast a LIFO job writes. Nothing pushed since the run was taken
        (self._pushes_at_run): nothing can pop before it, and the queue is not asked."""
        self._lock.acquire()
        try:
            if self._taken.pop(item.path, None) is None:
                return False
            if self.queue.pushes != self._pushes_at_run and self.queue.pops_before(item):
                if item.path not in self.queue:  # (a newer version of it, queued meanwhile, supersedes it)
                    self.queue.push(item, time.monotonic())
                return False
            self._in_flight = item.path
            return True
        finally:
            self._lock.release()

    def _upload_one(self, item: Stable) -> None:
        try:
            self._upload(item)
        except Exception as error:
            self._fail_item(item, error)
        if self._batch_full():
            self._store_batch()

    def _upload_loop(self) -> None:
        """Upload until stopped. An error on one file fails that file and the job (never the
        thread silently: a dead uploader would leave finish() waiting forever)."""
        try:
            while True:
                with self._lock:
                    run = self._take_run()
                    while not run:
                        if self._stop.is_set():
                            return
                        self._lock.wait(TICK)
                        run = self._take_run()
                    after_end = self._draining  # then nothing writes: what it stores is final
                if ((not _is_small(run[0]) and (self._unrecorded or self._read_ahead))
                        or (self._unrecorded and self._batch_is_old())):
                    self._store_batch()  # the files taken before a large one are stored before it
                    self._record_batch()  # stored files do not wait for a long upload
                handled: list[Stable] = []
                try:
                    for item in run:
                        if self._claim(item):
                            handled.append(item)
                            self._upload_one(item)
                finally:
                    if self._read_ahead and self._store_due():
                        self._store_batch()
                    if self._unrecorded and self._record_due(run[-1]):
                        self._record_batch()
                    with self._lock:
                        self._in_flight = None
                        if after_end:  # handled as they are for good: no rescan stats them
                            self._confirmed.update(item.path for item in handled if item.path not in self.tracker)
                        self.queue.settle()
                        if not len(self.queue):  # only a drained queue is news (to finish()); waking
                            self._lock.notify_all()  # every waiter after each file costs a GIL hand-off
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
        if isinstance(error, OSError) and error.errno in OUT_OF_SPACE:
            folder = Path(os.path.dirname(error.filename)) if error.filename else self.store.snapshot_dir
            error = DiskFull(folder, item.signature[0], shown(item.path))
        self._file_failed(shown(item.path), error)

    def _file_failed(self, display: str, error: Exception) -> None:
        """The file shown as `display` failed (not stored, or stored but not recorded): it is listed
        as failed, and its reason (DISK_FULL, else UPLOAD_ERROR) may become the job's."""
        if display not in self.report.failed:
            self.report.failed.append(display)
        if isinstance(error, DiskFull):
            self._record_failure(PipelineFailure("DISK_FULL", error.paragraph()))
        else:
            self._record_failure(PipelineFailure(
                "UPLOAD_ERROR", f"the artifact uploader failed on {display!r}: {type(error).__name__}: {error}"))

    def _record_failure(self, failure: PipelineFailure) -> None:
        """The first failure decides the job's reason; each is a system event."""
        if self.report.failure is None:
            self.report.failure = failure
        self.on_event(failure.message)

    def _retouch(self, rel: str) -> None:
        with self._lock:
            self.tracker.touch(rel, time.monotonic(), self._signature_at(rel))

    @functools.cached_property
    def _key_prefix(self) -> str:
        """jobs/<job>/artifacts/, the start of every key this job stores (the name checked once)."""
        return artifact_prefix(self.job_name)

    def _source(self, rel: str) -> tuple[str | Path | None, Signature | None]:
        """The file to read for `rel`: itself, or a symlink's target when that stays inside /artifacts;
        and, for a plain file right in /artifacts, its signature as just seen (the upload's "before").
        Plain strings for a plain file (this runs once per file; pathlib would build four objects)."""
        here = self._prefix + rel
        if "/" not in rel and (seen := _plain_file_signature(here)) is not None:
            return self._real_prefix + rel, seen  # a plain file right in /artifacts: nothing to resolve
        return self._resolved_source(rel, Path(here)), None

    def _resolved_source(self, rel: str, path: Path) -> Path | None:
        """A link or a file in a subfolder: its real path when that stays inside /artifacts. A link
        that resolves to a file inside is remembered (self._links) with the links passed on the
        way, so their events, and that file's, touch it; so is a dangling one, with the part not
        there yet (`latest.pt -> ckpt-9.pt` made before ckpt-9.pt is written)."""
        if not path.is_symlink():  # a file in a subfolder (or gone, or no file any more)
            real = Path(os.path.realpath(path))
            if not is_inside(self.real_root, real):  # a folder on its way became a link out
                self._skip(rel, "it is reached through a folder that is now a link out of /artifacts; links are "
                                "never followed out")
                return None
            return real if real.is_file() else None  # gone, or a FIFO or folder now: nothing to store
        resolved = resolve_link(rel, self._real_prefix)
        with self._lock:
            if resolved.kind == MISSING:
                self._dangling.add(rel)  # its target may come; named at the end if it never does
            else:
                self._dangling.discard(rel)
            if resolved.kind in (FILE, MISSING):
                self._links.point(rel, (*resolved.passed, resolved.path))
                return Path(self._real_prefix + resolved.path) if resolved.kind == FILE else None
        self._forget_link(rel)
        self._skip(rel, _not_followed(rel, resolved))
        return None

    def _forget_link(self, rel: str) -> None:
        if self._links:
            with self._lock:
                self._links.forget(rel)

    def _skip(self, rel: str, why: str) -> None:
        """A link that is not stored is skipped with one event, once (a link re-touched at the end or
        by its target's changes comes back to the queue: it is not reported twice)."""
        if shown(rel) in self.report.skipped:
            return
        self.report.skipped.append(shown(rel))
        self.on_event(f"skipped artifact {shown(rel)!r}: {why}")

    def _upload(self, item: Stable) -> None:
        how = self._how(item.signature[0])
        prepared = self._read_plain(item) if how == IN_MEMORY and "/" not in item.path else NOT_PLAIN
        if prepared is NOT_PLAIN:
            source, seen = self._source(item.path)
            if source is None:
                self._settled[item.path] = item.signature
                return
            if how == IN_PLACE:
                prepared = self._open_in_place(item, source)
            elif how == IN_MEMORY:
                prepared = self._snapshot(item, source, self._read_small, seen)
            else:
                prepared = (self._made_ahead(item, source, seen)
                            or self._snapshot(item, source, self._snapshot_to_file, seen))
        if prepared is None:
            return
        taken, sha256, size, signature = prepared
        self._settled[item.path] = signature
        display = relative_key(item.path)  # the key's form of the path; raises on an unclean path, as a key must
        key = self._key_prefix + display
        try:
            if self._stored.get(item.path, (None,))[0] == signature and (how == IN_PLACE or
                                                                          self._stored[item.path][1] == sha256):
                return
            sent: list[str] = []  # the sha256 an in-place upload computed while sending
            if how == IN_PLACE:
                still_same = lambda: not self._cut_off and self._signature_at(item.path) == signature  # noqa: E731
                upload = lambda: sent.append(self.store.put_in_place(key, taken, size, still_same))  # noqa: E731
            elif how == IN_MEMORY and self._puts_batched:
                self._read_ahead.append(ReadAhead(item, key, display, sha256, taken))
                self._read_ahead_bytes += size
                return
            elif how == IN_MEMORY:
                upload = lambda: self.store.put_bytes(key, taken, sha256)  # noqa: E731
            else:
                upload = lambda: self.store.put_snapshot(key, taken, sha256, size)  # noqa: E731
            try:
                stored = self._store_with_retries(upload, item.path)
            except FileChanged:
                self._settled.pop(item.path, None)
                self._retouch(item.path)  # written to during the upload: it comes back once stable
                return
            if stored:
                self._record_stored(item, key, display, sent[-1] if sent else sha256, size)
        finally:
            if how == IN_PLACE:
                taken.close()
            elif how == ON_DISK:
                taken.unlink(missing_ok=True)

    @functools.cached_property
    def _in_place_threshold(self) -> int | None:
        """The size above which the store takes files from where they are (S3), None for never:
        looked up once, not per file (a missing attribute costs an exception each time)."""
        return getattr(self.store, "in_place_threshold", None)

    @functools.cached_property
    def _store_name(self) -> str | None:
        return getattr(self.store, "name", None)

    def _how(self, size: int) -> str:
        """How a file of `size` bytes is taken: sent from where it is (large, to S3), read into
        memory (small: no snapshot file to create and delete), or copied to a snapshot file."""
        threshold = self._in_place_threshold
        if threshold is not None and size > threshold:
            return IN_PLACE
        return IN_MEMORY if size <= SMALL_SNAPSHOT else ON_DISK

    @functools.cached_property
    def _puts_batched(self) -> bool:
        """Whether small files go to the store in batches: when its puts are quick (a local disk)
        and it takes many at once. (A slow store gets a file at a time: what a move cuts off is
        then one file in flight, not a batch.)"""
        return self._batch_records and callable(getattr(self.store, "put_many_bytes", None))

    def _store_due(self) -> bool:
        """The small files read ahead go to the store now: the queue drained, or the batch is full."""
        return not len(self.queue) or self._batch_full()

    def _batch_full(self) -> bool:
        return len(self._read_ahead) >= STORE_BATCH or self._read_ahead_bytes >= STORE_BATCH_BYTES

    def _store_batch(self) -> None:
        """Store the small files read ahead in one put_many_bytes call (retried as one upload), then
        count each stored, in order; a batch the disk cut short (StoredInPart) counts the files
        stored before the cut and fails the rest. They leave `_read_ahead` only then: until then
        they count as queued (_report_queue), so a reader sees each file queued or stored, never
        neither. It runs on the uploader thread only, or once that thread has ended
        (_stop_threads): no lock is held across the store call, which may wait (a sweep's
        exclusive lock, a slow disk) while the job's end is cut off on time."""
        batch = self._read_ahead[:]
        if not batch or self._cut_off:  # cut off: the job's end listed them as not stored
            return
        stored, failure = 0, None
        try:
            blobs = [(taken.key, taken.body, taken.sha256) for taken in batch]
            if self._store_with_retries(lambda: self.store.put_many_bytes(blobs), *(t.item.path for t in batch)):
                stored = len(batch)
        except Exception as error:
            stored, failure = getattr(error, "stored", 0), error  # StoredInPart: the files before the cut are stored
        with self._records_lock:  # against the cut-off: once cut off, the job's end has listed them as not stored
            if self._cut_off:
                return
            if failure is not None:  # (a StorageError after every retry: _store_with_retries failed the files)
                for taken in batch[stored:]:
                    self._fail_item(taken.item, failure)
            for taken in batch[:stored]:
                self._record_stored(taken.item, taken.key, taken.display, taken.sha256, len(taken.body))
            del self._read_ahead[:len(batch)]
            self._read_ahead_bytes -= sum(len(taken.body) for taken in batch)

    def _record_stored(self, item: Stable, key: str, display: str, sha256: str, size: int) -> None:
        """`display`: the path as shown, which for a stored file is its key's form (shown()). The
        version stored is `item`'s: every way of taking a file (_read_plain, _snapshot,
        _open_in_place) gives it up when its signature is not item.signature. Not after a cut-off
        (_stop_threads): the report already lists the file as not stored."""
        if self._cut_off:
            return
        self._stored[item.path] = (item.signature, sha256)
        artifact = Artifact(display, key, size, sha256, item.signature[1], time.time_ns(), self._store_name)
        self.report.uploaded.append(artifact)
        if self.report.failed and display in self.report.failed:
            self.report.failed.remove(display)
        if not self._unrecorded:
            self._unrecorded_since = time.monotonic()
        self._unrecorded.append((item.path, artifact))

    def _record_due(self, stored: Stable) -> bool:
        """The stored files waiting to be recorded go now, after `stored`'s upload: the queue
        drained (nothing else to do), `stored` was not small, or the batch is full or old enough
        (RECORD_BATCH, RECORD_SECONDS)."""
        return (not self._batch_records or not len(self.queue) or not _is_small(stored)
                or len(self._unrecorded) >= RECORD_BATCH or self._batch_is_old())

    def _batch_is_old(self) -> bool:
        return time.monotonic() - self._unrecorded_since >= RECORD_SECONDS

    @functools.cached_property
    def _batch_records(self) -> bool:
        """Whether records wait for a batch: only when the store says its puts are quick."""
        return bool(getattr(self.store, "quick_puts", False))

    def _record_batch(self) -> None:
        """Hand the files stored since the last batch to on_uploaded in one call. When that fails,
        each is recorded alone, so only a file whose own record fails (e.g. a name sqlite refuses)
        fails, with the job, as it did when every file was recorded by itself. The batch leaves
        `_unrecorded` only once handed over: until then the files count as queued (_report_queue),
        so a reader sees each file queued or stored, never neither. (Only the uploader thread
        appends to it, and this runs on that thread or after it stopped.)"""
        with self._records_lock:
            waiting = len(self._unrecorded)
            if not waiting:
                return
            stored = self._unrecorded[:waiting]
            handed = False
            try:
                if not self._cut_off:  # see ArtifactPipeline._stop_threads
                    self._hand_over([artifact for _path, artifact in stored])
                    handed = True
            finally:
                del self._unrecorded[:waiting]
        if handed:
            self._unqueue_recorded(path for path, _artifact in stored)

    def _unqueue_recorded(self, paths: Iterable[str]) -> None:
        """Files just recorded as stored leave the queued record at once, not at the next report
        (up to QUEUE_RECORD_SECONDS later): meanwhile `job status` counted them both queued and
        stored, hundreds of files during a flood. A newer version queued meanwhile comes back at
        the next report (its older one is stored: never neither)."""
        with self._lock:
            gone = self._recorded_queue.intersection(paths)
            if not gone:
                return
            change = QueueChange(frozenset(), frozenset(map(shown, gone)), len(self._recorded_queue) - len(gone))
            try:  # the change is known: no diff of the whole queued set per batch
                self.on_queue(change, self._recorded_warning)
            except Exception:  # noqa: BLE001 - the next report removes them (its diff still holds them) or says why
                return
            self._recorded_queue -= gone

    def _hand_over(self, batch: list[Artifact]) -> None:
        try:
            self.on_uploaded(batch)
            return
        except Exception as error:
            if len(batch) == 1:
                self._file_failed(batch[0].path, error)
                return
        for artifact in batch:
            try:
                self.on_uploaded([artifact])
            except Exception as error:
                self._file_failed(artifact.path, error)

    def _open_in_place(self, item: Stable, source: str | Path) -> tuple[BinaryIO, None, int, Signature] | None:
        """Open the file once (never through a link) to send it from where it is: a large file goes
        to S3 from this same descriptor, hashed as it is sent, without a private copy, so swapping
        the path for a link meanwhile cannot send another file. None (and re-watch) when it
        changed since it was judged stable."""
        before = self._signature_at(item.path)
        if before != item.signature:
            self._retouch(item.path)
            return None
        handle = open_unfollowed(source, self.real_root)
        if handle is None:
            self._retouch(item.path)
            return None
        return handle, None, before[0], before

    def _read_small(self, source: str | Path) -> tuple[bytes, str, int, Signature]:
        body, sha256, size, _opened, after = read_small(source, self._real_prefix)
        return body, sha256, size, after

    def _read_plain(self, item: Stable) -> tuple[bytes, str, int, Signature] | None | object:
        """A small file right in /artifacts (most of a job's files), read without _source's lstat:
        opened first (O_NOFOLLOW: a link is refused, never followed; O_NONBLOCK: a FIFO cannot
        hang it), the descriptor's fstat at the open stands for the signature before (the inode
        the path named then) and its fstat after the read for the one after. None (and re-watch)
        when the file changed since it was judged stable or during the read; NOT_PLAIN when the
        open found no regular file (a link, a FIFO, nothing) or failed: _source and _snapshot then
        judge it as any other file, with their events and retries."""
        try:
            body, sha256, size, opened, after = read_small(self._real_prefix + item.path, self._real_prefix)
        except OSError:
            return NOT_PLAIN
        if opened != item.signature or after != opened:
            self._retouch(item.path)
            return None
        self._copy_failures.pop(item.path, None)
        return body, sha256, size, after

    def _snapshot_to_file(self, source: str | Path) -> tuple[Path, str, int, None]:
        return (*snapshot_file(source, self.store.snapshot_dir, opener=self._open_inside), None)

    def _made_ahead(self, item: Stable, source: str | Path, seen: Signature | None
                    ) -> tuple[Path, str, int, Signature] | None:
        """`item`'s snapshot if it was made ahead (snapshot_ahead) for this version of this file
        and the file is still that version (`seen`: its signature just taken, if any; a file the
        job rewrote since, even one whose new version the watcher has not heard of yet, is
        snapshot anew by _snapshot, which watches it again), and the next large file's snapshot
        started: the one after this when this one was ready (the uploader makes the next one
        itself meanwhile), else the next (made beside this one), when the disk has room for it.
        None for a store that takes large files from where they are (S3), a file under the size
        where snapshots copy on two threads, and a file reached through a link."""
        ahead = self._snapshot_ahead
        if ahead is None or not _worth_making_ahead(item) or os.fspath(source) != self._real_prefix + item.path:
            return None
        prepared = ahead.take(item)
        with self._lock:
            upcoming = self.queue.upcoming(2, _worth_making_ahead)
        if len(upcoming) > (prepared is not None) and self._room_ahead(upcoming[prepared is not None]):
            ahead.start(upcoming[prepared is not None])
        if prepared is None:
            return None
        if (seen or self._signature(self._prefix + item.path)) != prepared.signature:
            prepared.snapshot.unlink(missing_ok=True)
            return None
        self._copy_failures.pop(item.path, None)
        return prepared.snapshot, prepared.sha256, prepared.size, prepared.signature

    @functools.cached_property
    def _snapshot_ahead(self) -> SnapshotAhead | None:
        if self._in_place_threshold is not None:
            return None
        return SnapshotAhead(self._snapshot_quietly)

    def _room_ahead(self, item: Stable) -> bool:
        """Whether the snapshot folder has room for `item`'s copy made ahead and, beside it, the
        uploader's own and one ready (AHEAD_ROOM times its size): a disk with room for the files
        one at a time never fails a job DISK_FULL for a copy made ahead."""
        try:
            free = shutil.disk_usage(self.store.snapshot_dir).free
        except OSError:
            return False
        return free >= AHEAD_ROOM * item.signature[0]

    def _snapshot_quietly(self, item: Stable) -> Prepared | None:
        """What _snapshot makes of a file reached without a link, made on another thread: no event,
        no re-watch, nothing counted. None whenever anything is not as expected (the file changed,
        is a link or sits below one, the copy failed): the upload then makes the snapshot itself."""
        here, real = self._prefix + item.path, self._real_prefix + item.path
        if os.path.realpath(here) != real or (before := self._signature(here)) != item.signature:
            return None
        try:
            taken = self._copy_unchanged(here, real, before, self._snapshot_to_file)
        except OSError:
            return None
        if taken is None:
            return None
        snapshot, sha256, size, _before = taken
        if size != before[0]:  # (a plain file: its signature's size is its own)
            snapshot.unlink(missing_ok=True)
            return None
        return Prepared(before, snapshot, sha256, size)

    def _open_inside(self, source: str | Path) -> int:
        return open_inside(source, self._real_prefix)[0]

    def _snapshot(self, item: Stable, source: str | Path, take: Callable[[Path], tuple],
                  seen: Signature | None = None) -> tuple | None:
        """A private copy of `source` (`take` makes it: a file, or the bytes in memory), hashed;
        None (and re-watch) when it changed meanwhile. `seen`: the signature of a plain file right
        in /artifacts taken just before (by _source), which saves a second lstat."""
        here = self._prefix + item.path
        before = seen or self._signature(here)
        if before != item.signature:
            self._retouch(item.path)
            return None
        try:
            taken = self._copy_unchanged(here, source, before, take, seen is not None)
        except OSError as error:
            if error.errno in OUT_OF_SPACE:  # retrying would spin: the copy fails the same way
                raise DiskFull(self.store.snapshot_dir, item.signature[0], shown(item.path)) from None
            if self._keeps_failing(item.path):
                raise  # the same error every time: fail the file rather than re-watch it forever
            self._retouch(item.path)
            return None
        self._copy_failures.pop(item.path, None)
        if taken is None:
            self._retouch(item.path)  # written to while we copied: wait for it to settle again
        return taken

    def _copy_unchanged(self, here: str, source: str | Path, before: Signature, take: Callable[[Path], tuple],
                        read_as_after: bool = False) -> tuple | None:
        """The torn-file check both snapshots share (_snapshot, and _snapshot_quietly ahead of it):
        `take(source)`, kept only when the file at `here` still has the signature `before` it had
        ahead of the copy (and a link's target still exists); else None, the copy deleted.
        `read_as_after`: for a plain file right in /artifacts, the signature `take` saw once it had
        read (the bytes in memory) stands for the lstat after. take's OSError passes to the caller,
        which decides what a failed copy means."""
        taken, sha256, size, read_as = take(source)
        after = read_as if read_as_after and read_as is not None else self._signature(here)
        if after != before or (source != here and self._signature(source) is None):
            if isinstance(taken, Path):
                taken.unlink(missing_ok=True)
            return None
        return taken, sha256, size, before

    def _keeps_failing(self, rel: str) -> bool:
        """True once copying `rel` failed more times in a row than uploads are retried (a file that
        vanished meanwhile does not count: it is simply gone)."""
        if self._signature_at(rel) is None:
            return False
        self._copy_failures[rel] = self._copy_failures.get(rel, 0) + 1
        return self._copy_failures[rel] > self.settings.retries

    def _store_with_retries(self, upload: Callable[[], None], *rels: str) -> bool:
        """Run `upload` (of the files at `rels`), retrying a StorageError with backoff; False, with
        the files failed and an event each, when every attempt failed."""
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
        for rel in rels:
            if shown(rel) not in self.report.failed:
                self.report.failed.append(shown(rel))
            self.on_event(f"upload of {shown(rel)!r} failed after {attempts} attempt(s): {last.message}")
        return False

    def _stop_now(self) -> bool:
        return self._stop.is_set() and not self._draining


def _not_followed(rel: str, resolved: Resolved) -> str:
    """Why the link at `rel` is skipped, for its event: what it (or the last link on its way, which
    may be another than itself) points at."""
    last = resolved.passed[-1] if resolved.passed else rel
    what = "the folder " if resolved.kind == DIR else ""
    link = (f"it is a link to {what}{resolved.text!r}" if last == rel else
            f"it leads through {shown(last)!r}, a link to {what}{resolved.text!r}")
    if resolved.kind == LOOP:
        return f"{link}, which leads through more than {MAX_HOPS} links (a loop, or more than the kernel follows)"
    if resolved.kind == DIR:
        return f"{link}; links to folders are not followed (that folder's files are stored under their own paths)"
    if resolved.kind == OTHER:
        return f"{link}, which is no regular file (a FIFO, a socket or a device): nothing to store"
    return f"{link}, outside /artifacts; links are never followed out"
