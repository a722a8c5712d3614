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
it resolves inside /artifacts; otherwise it is skipped with a system event naming it. A link is
uploaded again when its target changes (rules/links.py: its signature includes the target's, and
an event on the target touches the links known to resolve to it)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cycle.api.keys import natural_key
from emulator.artifacts.files import file_path, resolve_link, shown, stored_as_a_file
from emulator.artifacts.report import PipelineReport, PipelineSettings
from emulator.artifacts.upload import ReadAhead, Uploading
from emulator.artifacts.watch import TICK, Watching
from emulator.blobs import BlobStore
from emulator.models import Artifact
from emulator.rules.links import MISSING, LinkTargets
from emulator.rules.stability import Signature, StabilityTracker, Stable
from emulator.rules.upload_queue import QueueChange, UploadQueue, queue_change, queued_paths

QUEUE_RECORD_SECONDS = 0.25  # how often the queued set is compared with the job's record
STOP_WAIT_SECONDS = 60  # the job's end or move waits this long for an upload under way, then cuts it off


class ArtifactPipeline(Watching, Uploading):
    def __init__(self, root: Path, job_name: str, store: BlobStore, order: str,
                 on_event: Callable[[str], None], on_uploaded: Callable[[list[Artifact]], None],
                 settings: PipelineSettings | None = None,
                 on_queue: Callable[[QueueChange, bool], None] | None = None) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self._prefix = os.fspath(root).rstrip("/") + "/"  # paths under /artifacts as plain strings, per file
        self._real_prefix = os.fspath(self.real_root).rstrip("/") + "/"
        self.job_name = job_name
        self.store = store
        self.settings = settings or PipelineSettings.from_env()
        self.on_event = on_event
        self.on_uploaded = on_uploaded
        self.on_queue = on_queue or (lambda change, warning: None)  # the queued files' change, the 600 s warning
        self.tracker = StabilityTracker(self.settings.stability)
        self.queue = UploadQueue(order)
        self.report = PipelineReport()
        self._stored: dict[str, tuple[Signature, str]] = {}  # path -> (signature, sha256) in storage
        self._settled: dict[str, Signature] = {}  # path -> version last handled: stored, skipped or failed
        self._links = LinkTargets()  # links seen resolving to a file inside /artifacts (under the lock)
        self._dangling: set[str] = set()  # links last seen leading to nothing yet (named at the end if still so)
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._draining = False
        self._in_flight: str | None = None
        # popped with a run of small files (Uploading._take_run), not yet uploaded: still queued to
        # readers; the uploader claims each (pop) before its upload, abandon() takes them back
        self._taken: dict[str, Stable] = {}
        self._pushes_at_run = 0  # the queue's pushes when the run in `_taken` was popped (Uploading._claim)
        self._warned = False
        self._recorded_queue: set[str] = set()  # the queued set as on_queue last heard it
        self._recorded_warning = False
        self._queue_record_failing = False  # the last record of the queue failed (_try_record_queue)
        self._next_queue_record = 0.0
        self._consecutive_failures = 0
        self._uploader_gone = False
        self._rescan_due = False  # inotify dropped events: the ticker rescans (Watching.events_lost)
        self._confirmed: set[str] = set()  # at the job's end: files seen handled as they are (finish())
        self._copy_failures: dict[str, int] = {}
        # stored, not yet handed to on_uploaded (upload.RECORD_BATCH): (path, its record)
        self._unrecorded: list[tuple[str, Artifact]] = []
        self._unrecorded_since = 0.0
        self._read_ahead: list[ReadAhead] = []  # small files read, not yet stored (upload.STORE_BATCH)
        self._read_ahead_bytes = 0
        self._records_lock = threading.RLock()  # records handed over vs the cut-off (_stop_threads)
        self._cut_off = False  # stopped while an upload still ran: nothing more is recorded
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
                rel, signature = self._relative(path), self._signature(path)
                if (rel and signature and self._stored.get(rel, (None,))[0] != signature
                        and shown(rel) not in self.report.skipped):
                    found.append(shown(rel))
        return found

    # ending
    def finish(self) -> PipelineReport:
        """The job ended: rescan /artifacts, queue everything not yet stored, drain, stop; then
        name each link still leading to nothing (its target never came): skipped, with its event."""
        self._drain(None)
        self._stop_threads()
        for rel in sorted(self._dangling):
            if os.path.islink(self._prefix + rel) and (now := resolve_link(rel, self._real_prefix)).kind == MISSING:
                self._skip(rel, f"it is a link to {now.text!r}, which names the file {now.path!r} as a folder"
                           if os.path.lexists(self._real_prefix + now.path) else
                           f"it is a link to {now.text!r}, which is not there at the job's end (a dangling link)")
        return self.report

    def drain_until(self, deadline: float) -> bool:
        """What finish() does before it stops, until `deadline` (time.monotonic()): a moved job's
        container that exited within its grace period leaves the machine for the rest of that
        period, so the files it wrote last (a checkpoint saved on SIGTERM) are stored, not lost
        with the machine. True when everything was stored in time; abandon() follows either way."""
        return self._drain(deadline)

    def _drain(self, deadline: float | None) -> bool:
        """Nothing writes any more, so waiting files need no stability window. The rescan repeats
        until it finds nothing new: a file rewritten while its older version was in flight is
        only seen once that upload has ended. A file seen handled as it is (stored, skipped or
        failed: by a rescan, or by an upload that began after the end) is not stat'ed by the
        next rescan (`_confirmed`): nothing can have changed it since. False when `deadline`
        came first."""
        self._stop_observer()
        with self._lock:
            self._draining = True
        while True:
            unseen = self._unseen(self.root)
            with self._lock:
                now = time.monotonic()
                for rel, signature in unseen:
                    self.tracker.touch(rel, now, signature)
                self.queue.push_many([item for item in self.tracker.flush(self._signature_at)
                                      if self._settled.get(item.path) != item.signature], now)
                self._lock.notify_all()
                while (len(self.queue) or self._in_flight or self._taken) and not self._uploader_gone:
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
                    self._lock.wait(TICK)
            with self._lock:
                waiting = len(self.tracker)  # files sent back to wait (changed during their upload)
            if self._uploader_gone or (not unseen and not waiting and not self._unseen(self.root)):
                return not self._uploader_gone
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def abandon(self) -> PipelineReport:
        """Stop at once (the machine is gone): what was still waiting is recorded as abandoned."""
        self._stop_observer()
        with self._lock:
            waiting = set(self.queue.paths()) | set(self.tracker.paths()) | set(self._taken)
            self._taken.clear()  # the uploader leaves what it took and did not claim yet
            while self.queue.pop() is not None:
                pass
        self._stop_threads()
        if self._cut_off:  # still under way when the machine went: lost with it (never recorded)
            waiting |= {taken.item.path for taken in list(self._read_ahead)} | {self._in_flight} - {None}
        self.report.abandoned = sorted((shown(p) for p in waiting  # what a link's skip never stores is not lost
                                        if stored_as_a_file(self._prefix + p, self._real_prefix)), key=natural_key)
        return self.report

    def _stop_threads(self) -> None:
        self._stop.set()
        if (ahead := self.__dict__.get("_snapshot_ahead")) is not None:
            ahead.close()  # no more snapshots made ahead; the ready ones deleted
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=STOP_WAIT_SECONDS)
        uploading = any(thread.is_alive() for thread in self._threads)
        if not uploading:
            self._store_batch()  # files it had read ahead when it stopped (abandon() emptied the queue meanwhile)
        with self._records_lock:
            self._record_batch()  # what the uploader stored last (or before it stopped) is recorded
            # An upload still running now (a large file, a server that hangs, a batch waiting on the
            # disk) is cut off: the job's end or move lists its file as not stored, so a late
            # record (or, on S3 in place, a late completion) would contradict that, and could land
            # after a newer version's.
            self._cut_off = uploading
        with self._lock:
            self._try_record_queue(set())  # stopped: nothing more is uploaded from this machine

    def _try_record_queue(self, queued: set[str]) -> None:
        """_record_queue, where a failure (the database busy past its timeout, a full disk) costs
        only the record's freshness: it is one system event per run of failures, tried again at
        the next report, and neither the watcher's thread nor the job's end stops for it."""
        try:
            self._record_queue(queued)
        except Exception as error:  # noqa: BLE001 - see above
            if not self._queue_record_failing:
                self.on_event(f"the upload queue could not be recorded for `cycle job status` ({type(error).__name__}: "
                              f"{error}); uploads go on, and it is tried again")
            self._queue_record_failing = True
        else:
            self._queue_record_failing = False

    def _report_queue(self, now: float) -> None:
        """Tell the job's record what is queued now (rules.upload_queue.queued_paths), at most every
        QUEUE_RECORD_SECONDS (at once when the 600 s warning was just raised); under the lock."""
        if now < self._next_queue_record and self._warned == self._recorded_warning:
            return
        self._next_queue_record = now + QUEUE_RECORD_SECONDS
        # read, not yet stored; then stored, its record not yet written: in this order, as a file
        # moves from one to the other (appended there before it leaves here), so none is missed
        unrecorded = [taken.item.path for taken in list(self._read_ahead)]
        unrecorded += [path for path, _artifact in list(self._unrecorded)]
        queued = [*self.queue.paths(), *list(self._taken), *unrecorded]
        self._try_record_queue(queued_paths(self.tracker.paths(), queued, self._in_flight))

    def _record_queue(self, queued: set[str]) -> None:
        """Only what changed (names as shown) goes to `on_queue`, and only when something did."""
        change = queue_change(self._recorded_queue, queued)
        if change is None and self._warned == self._recorded_warning:
            return
        change = change or QueueChange(frozenset(), frozenset(), len(queued))
        self.on_queue(QueueChange(frozenset(map(shown, change.added)), frozenset(map(shown, change.removed)),
                                  change.length), self._warned)
        self._recorded_queue, self._recorded_warning = queued, self._warned  # once recorded: a failure is retried
