"""Watching /artifacts: watchdog (inotify, or polling past its limits) and the 500 ms stability ticker
that moves stable files into the upload queue. Part of ArtifactPipeline (pipeline.py)."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import weakref
from pathlib import Path

from emulator.artifacts.files import signature_from, signature_of
from emulator.artifacts.report import PipelineFailure
from emulator.models import QUEUE_WARNING_TEXT
from emulator.rules.stability import Signature, in_write_order

TICK = 0.05
# watchdog (7.x) warns, with a repr of the whole watch, when a new folder's watch is added twice
# (its creation event and the scan of the folder's parent race) or removed once too often; it
# reuses the watch, so nothing is missed, but the warning landed on the user's terminal.
WATCH_RACE_WARNINGS = r"Callback with id .* (already exists|does not exist) for watch"


# watchdog logs an inotify queue overflow (IN_Q_OVERFLOW) below this logger, with this message, and
# offers no other hook that is not its internals; tests/unit/test_artifact_watch_overflow.py checks
# both against the installed watchdog. The handler on it also keeps watchdog's own lines off the
# job's terminal (Python printed them there, for want of any handler): the system event says it.
OVERFLOW_LOGGER = "watchdog.observers"
OVERFLOW_MESSAGE = "Inotify queue overflowed"
_WATCHING: weakref.WeakSet = weakref.WeakSet()  # the pipelines watching by inotify in this process


class _LostEvents(logging.Handler):
    """Tells every pipeline watching in this process that inotify dropped events (the overflow is
    the process's inotify instance's, so any of them may have missed files: a rescan is cheap)."""

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(OVERFLOW_MESSAGE):
            for pipeline in list(_WATCHING):
                pipeline.events_lost()


def _report_lost_events_to(pipeline: Watching) -> None:
    logger = logging.getLogger(OVERFLOW_LOGGER)
    if not any(isinstance(handler, _LostEvents) for handler in logger.handlers):
        logger.addHandler(_LostEvents(logging.WARNING))
    _WATCHING.add(pipeline)


def _make_handler(pipeline: Watching):
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


def _wanted_events() -> list:
    """The events the handler acts on: writes, creations and moves. Given to watchdog, which then
    asks inotify for nothing else: every read of a file in /artifacts (the uploader reads each file
    it stores, a job may read its own checkpoints) would otherwise wake the observer's thread twice
    (opened, closed without writing) for events the handler drops, in Python, under the GIL the
    uploader needs. Deletions are not wanted either (storage keeps a deleted file)."""
    from watchdog.events import (
        DirCreatedEvent,
        DirMovedEvent,
        FileClosedEvent,
        FileCreatedEvent,
        FileModifiedEvent,
        FileMovedEvent,
    )

    return [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent, DirCreatedEvent, DirMovedEvent]


class Watching:
    # watching
    def start(self) -> None:
        self._observer = self._start_observer()
        self.touch_tree(self.root)  # files restored or written before the watch began
        for target in (self._tick_loop, self._upload_loop):
            thread = threading.Thread(target=target, name=f"artifacts-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _start_observer(self):
        import warnings

        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        warnings.filterwarnings("ignore", message=WATCH_RACE_WARNINGS, category=RuntimeWarning)

        if not self.settings.polling:
            _report_lost_events_to(self)
            try:
                observer = Observer()
                observer.schedule(_make_handler(self), str(self.root), recursive=True, event_filter=_wanted_events())
                observer.start()
                return observer
            except OSError as error:
                if error.errno not in (errno.ENOSPC, errno.EMFILE, errno.ENFILE):
                    raise
                self.on_event(f"inotify limit reached ({error.strerror}): watching /artifacts by polling every second "
                              "instead")
        observer = PollingObserver(timeout=1)
        observer.schedule(_make_handler(self), str(self.root), recursive=True, event_filter=_wanted_events())
        observer.start()
        return observer

    def _signature(self, path: str | Path) -> Signature | None:
        """signature_of a file under this job's /artifacts: a link counts only when it resolves
        inside the real /artifacts folder (files.signature_of)."""
        return signature_of(path, self._real_prefix)

    def _signature_at(self, rel: str) -> Signature | None:
        """_signature of the file at `rel`, a path relative to /artifacts."""
        return signature_of(self._prefix + rel, self._real_prefix)

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
            now = time.monotonic()
            self.tracker.touch(rel, now, self._signature(path))
            if self._links:  # no links (the common case): no dict lookup per event
                self._touch_links_to(rel, now)
            self._lock.notify_all()

    def _touch_links_to(self, target: str, now: float) -> None:
        """`target` changed: each link known to resolve to it changed too (it is stored as the
        target's bytes), though no event names the link. Touched after the target, so the link
        counts as written after it (FIFO/LIFO). Under the lock."""
        for link in self._links.links_to(target):
            self.tracker.touch(link, now, self._signature_at(link))

    def touch_tree(self, folder: Path) -> None:
        """Touch every file under `folder` that is not already waiting, oldest first (by mtime; files
        written within one tick of the clock by name, step-9 before step-10),
        so a rescan keeps the order the files were written in."""
        unseen = self._unseen(folder)
        with self._lock:  # one hand-off for the whole tree, not one per file
            now = time.monotonic()
            for rel, signature in unseen:
                self.tracker.touch(rel, now, signature)
                if self._links:
                    self._touch_links_to(rel, now)
            self._lock.notify_all()

    def _unseen(self, folder: Path) -> list[tuple[str, Signature]]:
        """Files under `folder` neither stored as they are now nor waiting, oldest first
        (rules.stability.in_write_order: by mtime, a tie by natural name). Files
        waiting (pending, queued or in flight) are left out before their lstat, not after: at the
        job's end every file already waits, and a stat per file is most of a rescan's cost; so
        are files already confirmed stored after the job's end (finish())."""
        names = []
        confirmed = self._confirmed  # only grows (after the job's end): its files are left out here already, unlocked
        for base, dirs, files in os.walk(folder):
            base = os.path.join(base, "")  # ends in one "/": a file's path is a concatenation, not a join
            # a link to a folder is listed with the folders (walk does not follow it): it goes on as
            # a file, which the uploader skips with its event (never silently)
            links = [name for name in dirs if os.path.islink(base + name)]
            if not base.startswith(self._prefix):
                continue  # not below /artifacts (its root itself, if asked): no file of its own
            rel_base = base[len(self._prefix):]  # each file's path relative to /artifacts, a concatenation too
            names += [(rel, base + name) for name in (*files, *links) if (rel := rel_base + name) not in confirmed]
        with self._lock:  # one hand-off for the whole walk
            pending, queued, taken, in_flight = (self.tracker.waiting(), self.queue.waiting(), self._taken,
                                                 self._in_flight)
            if confirmed or pending or queued or taken or in_flight:  # (a job's start: nothing waits yet)
                names = [(rel, path) for rel, path in names if rel not in confirmed and rel not in pending
                         and rel not in queued and rel not in taken and rel != in_flight]  # (confirmed meanwhile)
        found = []
        settled, draining, inside = self._settled, self._draining, self._real_prefix
        for rel, path in names:
            try:  # signature_of, its lstat here (a scan is mostly this loop: one call less a file)
                info = os.lstat(path)
            except OSError:
                continue
            if (signature := signature_from(path, info, inside)) is None:
                continue
            if settled.get(rel) != signature:
                found.append((rel, signature))
            elif draining:
                confirmed.add(rel)  # the job ended: stored as it is now, and nothing writes any more
        return in_write_order(found)

    def events_lost(self) -> None:
        """inotify dropped events (its queue overflowed: a job wrote more files at once than the
        kernel queues, 16,384 by default): the files they named were never touched, and would
        have waited, unseen and reported neither queued nor stored, for the job's end (or been
        lost with a move). The ticker rescans /artifacts on its next tick. Any thread."""
        self._rescan_due = True

    def _rescan_if_due(self) -> None:
        if not self._rescan_due or self._draining:
            return
        self._rescan_due = False
        with self._lock:
            before = len(self.tracker)
        self.touch_tree(self.root)
        with self._lock:
            found = len(self.tracker) - before
        self.on_event(f"the file watcher lost events (inotify's queue overflowed): /artifacts was rescanned, "
                      f"{found} more file(s) found")

    # moving stable files to the queue
    def _tick_loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._rescan_if_due()
                with self._lock:
                    self._tick(time.monotonic())
                self._stop.wait(TICK)  # a timer, not the condition: uploads and touches need not wake it
        except Exception as error:  # finish() still queues what waits; the job ends FAILED
            self._record_failure(PipelineFailure(
                "UPLOAD_ERROR", f"the artifact watcher stopped: {type(error).__name__}: {error}"))

    def _tick(self, now: float) -> None:
        pushed = False
        for item in self.tracker.due(now, self._signature_at):
            if self._settled.get(item.path) != item.signature:
                self.queue.push(item, now)
                pushed = True
        if not self._warned and self.queue.warning_due(now, self.settings.queue_warning):
            self._warned = True
            self.on_event(QUEUE_WARNING_TEXT)
        self._report_queue(now)
        if pushed:
            self._lock.notify_all()

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
