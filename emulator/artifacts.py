"""The artifact pipeline of one job: watcher → 500 ms stability → one-at-a-time upload.

IO around the pure rules in emulator/rules/stability.py and emulator/rules/upload_queue.py:
- a watchdog observer on the host side of the job's /artifacts (creations, modifications, moves;
  deletions are ignored: storage keeps the file), falling back to polling when inotify limits are hit;
- a ticker thread that moves files which stayed unchanged for the window into the upload queue and
  raises the queue-age warning;
- one uploader thread: snapshot (copy + sha256, checking the file did not change while copied, so
  storage never holds a torn copy), store, record. Bounded retries with backoff.
At job end: a final rescan of /artifacts, then the queue drains.
Symlinks are never followed out of /artifacts: a link is uploaded (as its target's bytes) only when
it resolves inside /artifacts; otherwise it is skipped with a system event naming it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat as statmod
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from emulator.blobs import CHUNK, BlobStore, FileChanged, StorageError, snapshot_file
from emulator.models import QUEUE_WARNING_TEXT, Artifact
from emulator.rules.keys import artifact_key, is_inside, local_relative, relative_key
from emulator.rules.stability import STABILITY_SECONDS, Signature, StabilityTracker, Stable
from emulator.rules.upload_queue import QUEUE_WARNING_SECONDS, UploadQueue
from emulator.settings import Settings, load

TICK = 0.05
OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class PipelineSettings:
    """The spec's numbers; the environment may change them for tests only."""

    stability: float = STABILITY_SECONDS
    queue_warning: float = QUEUE_WARNING_SECONDS
    retries: int = 5
    backoff: float = 0.5
    polling: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineSettings:
        return cls(
            stability=settings.stability_seconds,
            queue_warning=settings.queue_warning_seconds,
            retries=settings.upload_retries,
            backoff=settings.upload_backoff,
            polling=settings.watcher_polling,
        )

    @classmethod
    def from_env(cls) -> PipelineSettings:
        """The pipeline's part of the current settings (emulator.settings reads the environment)."""
        return cls.from_settings(load())


@dataclass(frozen=True)
class PipelineFailure:
    """Why the pipeline could not do its work (the job's reason, e.g. DISK_FULL) and the one
    paragraph that says so."""

    reason: str
    message: str


class DiskFull(Exception):
    """No space left (ENOSPC or EDQUOT) in `folder` for `needed` bytes."""

    def __init__(self, folder: Path, needed: int, rel: str) -> None:
        super().__init__(folder, needed, rel)
        self.folder, self.needed, self.rel = folder, needed, rel

    def paragraph(self) -> str:
        try:
            disk = os.statvfs(self.folder)
            free = f"{disk.f_bavail * disk.f_frsize} bytes free"
        except OSError:
            free = "free space unknown"
        return (f"out of disk space: the artifact {self.rel!r} needs {self.needed} bytes in {self.folder} "
                f"({free}), so it was not stored. Free space on that disk, or set CYCLE_HOME to an emulator "
                "home on a larger disk, and run the job again.")


@dataclass
class PipelineReport:
    """Paths here are in their display form (a storage key's relative part), printable and storable."""

    uploaded: list[Artifact] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    failure: PipelineFailure | None = None

    @property
    def uploaded_bytes(self) -> int:
        return sum(a.size for a in self.uploaded)


def shown(rel: str) -> str:
    """A relative path as records and events show it: the storage key's form, valid UTF-8 (a name
    with invalid UTF-8 or control bytes is percent-encoded), which `rules.keys.local_relative` maps back."""
    try:
        return relative_key(rel)
    except ValueError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def file_path(display: str) -> str:
    """The path (str, surrogate-escaped like os.walk gives it) a display form stands for."""
    try:
        return os.fsdecode(local_relative(display))
    except ValueError:  # BadInput: not a form `shown` makes
        return display


def open_unfollowed(path: Path, root: Path) -> BinaryIO | None:
    """`path` opened for reading without following a link, or None when it is not (any more) the
    regular file that was judged: a link at open time (O_NOFOLLOW refuses it), not a regular
    file, another inode than a moment ago, or a file that lives outside `root` (checked on the
    open descriptor itself, so a folder swapped for a link on the way is caught too)."""
    try:
        judged = os.lstat(path)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # ELOOP: a link now; ENOENT: gone
        return None
    handle = os.fdopen(fd, "rb")
    try:
        opened = os.fstat(fd)
        where = os.readlink(f"/proc/self/fd/{fd}")
        if (statmod.S_ISREG(opened.st_mode) and (opened.st_dev, opened.st_ino) == (judged.st_dev, judged.st_ino)
                and is_inside(root, where)):
            return handle
    except OSError:
        pass
    handle.close()
    return None


def signature_of(path: Path) -> Signature | None:
    """(size, mtime_ns) of a regular file or symlink at `path`, None for anything else or nothing."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not (statmod.S_ISREG(info.st_mode) or statmod.S_ISLNK(info.st_mode)):
        return None
    return info.st_size, info.st_mtime_ns


def _make_handler(pipeline: ArtifactPipeline):
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            kind = event.event_type
            if kind in ("deleted", "opened", "closed_no_write"):
                return  # deletions never remove stored files
            path = event.dest_path if kind == "moved" else event.src_path
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if pipeline.first_write is None:
                pipeline.first_write = time.monotonic()
            if event.is_directory:
                if kind in ("created", "moved"):
                    pipeline.touch_tree(Path(path))
                return
            pipeline.touch(Path(path))

    return Handler()


class ArtifactPipeline:
    def __init__(self, root: Path, job_name: str, store: BlobStore, order: str,
                 on_event: Callable[[str], None], on_uploaded: Callable[[Artifact], None],
                 settings: PipelineSettings | None = None,
                 on_queue: Callable[[int, bool], None] | None = None) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self._prefix = os.fspath(root).rstrip("/") + "/"
        self.job_name = job_name
        self.store = store
        self.settings = settings or PipelineSettings.from_env()
        self.on_event = on_event
        self.on_uploaded = on_uploaded
        self.on_queue = on_queue or (lambda length, warning: None)
        self.tracker = StabilityTracker(self.settings.stability)
        self.queue = UploadQueue(order)
        self.report = PipelineReport()
        self._stored: dict[str, tuple[Signature, str]] = {}  # path -> (signature, sha256) in storage
        self._settled: dict[str, Signature] = {}  # path -> version last handled: stored, skipped or failed
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._draining = False
        self._in_flight: str | None = None
        self._warned = False
        self._consecutive_failures = 0
        self._uploader_gone = False
        self._copy_failures: dict[str, int] = {}
        self._observer = None
        self._threads: list[threading.Thread] = []
        self.first_write: float | None = None  # monotonic time of the first write the watcher saw

    def seed(self, restored: dict[str, tuple]) -> None:
        """Files restored from storage before the container starts: {path: (signature, size, sha256)}.
        They count as stored, so they are not uploaded again unless the job rewrites them."""
        for display, (signature, _size, sha256) in restored.items():
            path = file_path(display)
            self._stored[path] = (signature, sha256)
            self._settled[path] = signature

    def unstored(self) -> list[str]:
        """Files on this machine's disk whose current version is not in storage."""
        found = []
        for base, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(base) / name
                rel, signature = self._relative(path), signature_of(path)
                if (rel and signature and self._stored.get(rel, (None,))[0] != signature
                        and shown(rel) not in self.report.skipped):
                    found.append(shown(rel))
        return found

    # watching
    def start(self) -> None:
        self._observer = self._start_observer()
        self.touch_tree(self.root)  # files restored or written before the watch began
        for target in (self._tick_loop, self._upload_loop):
            thread = threading.Thread(target=target, name=f"artifacts-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _start_observer(self):
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if not self.settings.polling:
            try:
                observer = Observer()
                observer.schedule(_make_handler(self), str(self.root), recursive=True)
                observer.start()
                return observer
            except OSError as error:
                if error.errno not in (errno.ENOSPC, errno.EMFILE, errno.ENFILE):
                    raise
                self.on_event(f"inotify limit reached ({error.strerror}): watching /artifacts by polling every second "
                              "instead")
        observer = PollingObserver(timeout=1)
        observer.schedule(_make_handler(self), str(self.root), recursive=True)
        observer.start()
        return observer

    def _relative(self, path: Path) -> str | None:
        """`path` relative to /artifacts, or None when it is not below it."""
        text, prefix = os.fspath(path), self._prefix
        if not text.startswith(prefix) or len(text) == len(prefix):
            return None
        return text[len(prefix):]

    def touch(self, path: Path) -> None:
        rel = self._relative(path)
        if rel is None:
            return
        with self._lock:
            self.tracker.touch(rel, time.monotonic(), signature_of(path))
            self._lock.notify_all()

    def touch_tree(self, folder: Path) -> None:
        """Touch every file under `folder` that is not already waiting, oldest first (by mtime),
        so a rescan keeps the order the files were written in."""
        for rel, _ in self._unseen(folder):
            self.touch(self.root / rel)

    def _unseen(self, folder: Path) -> list[tuple[str, Signature]]:
        """Files under `folder` neither stored as they are now nor waiting, sorted by mtime."""
        found = []
        for base, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(base) / name
                rel, signature = self._relative(path), signature_of(path)
                if rel is None or signature is None or self._settled.get(rel) == signature:
                    continue
                with self._lock:
                    if rel in self.tracker or rel in self.queue or rel == self._in_flight:
                        continue
                found.append((rel, signature))
        return sorted(found, key=lambda item: item[1][1])

    # moving stable files to the queue
    def _tick_loop(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    self._tick(time.monotonic())
                    self._lock.wait(TICK)
        except Exception as error:  # finish() still queues what waits; the job ends FAILED
            self._record_failure(PipelineFailure(
                "UPLOAD_ERROR", f"the artifact watcher stopped: {type(error).__name__}: {error}"))

    def _tick(self, now: float) -> None:
        for item in self.tracker.due(now, lambda rel: signature_of(self.root / rel)):
            if self._settled.get(item.path) != item.signature:
                self.queue.push(item, now)
        if not self._warned and self.queue.warning_due(now, self.settings.queue_warning):
            self._warned = True
            self.on_event(QUEUE_WARNING_TEXT)
        self.on_queue(len(self.queue) + len(self.tracker) + (1 if self._in_flight else 0), self._warned)
        self._lock.notify_all()

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

    # ending
    def finish(self) -> PipelineReport:
        """The job ended: rescan /artifacts, queue everything not yet stored, drain, stop.

        Nothing writes any more, so waiting files need no stability window. The rescan repeats
        until it finds nothing new: a file rewritten while its older version was in flight is
        only seen once that upload has ended."""
        self._stop_observer()
        with self._lock:
            self._draining = True
        while True:
            unseen = self._unseen(self.root)
            with self._lock:
                now = time.monotonic()
                for rel, signature in unseen:
                    self.tracker.touch(rel, now, signature)
                for item in self.tracker.flush(lambda rel: signature_of(self.root / rel)):
                    if self._settled.get(item.path) != item.signature:
                        self.queue.push(item, now)
                self._lock.notify_all()
                while (len(self.queue) or self._in_flight) and not self._uploader_gone:
                    self._lock.wait(TICK)
            with self._lock:
                waiting = len(self.tracker)  # files sent back to wait (changed during their upload)
            if self._uploader_gone or (not unseen and not waiting and not self._unseen(self.root)):
                break
        self._stop_threads()
        return self.report

    def abandon(self) -> PipelineReport:
        """Stop at once (the machine is gone): what was still waiting is recorded as abandoned."""
        self._stop_observer()
        with self._lock:
            waiting = set(self.queue.paths()) | set(self.tracker.paths())
            self.report.abandoned = sorted(shown(p) for p in waiting if signature_of(self.root / p) is not None)
            while self.queue.pop() is not None:
                pass
        self._stop_threads()
        return self.report

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _stop_threads(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=60)
        self.on_queue(len(self.queue), self._warned)
