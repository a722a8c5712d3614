"""Which stable file uploads next: FIFO (order written) or LIFO (newest first). Pure.

A file already queued that becomes stable again is queued once, at its new place: the newer
version is what gets read at upload time. The queue also knows since when it has been non-empty
(the file in flight counts until `settle()`), for the spec's 600 s warning.

`queued_paths` is the one definition of an artifact "queued" for uploading, which the job's agent
records and every reader (`cycle job status`, the TUI, the SDK) reads back.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, KeysView
from dataclasses import dataclass

from cycle.api.models import JobState
from emulator.rules.stability import Stable

FIFO = "FIFO"
LIFO = "LIFO"
QUEUE_WARNING_SECONDS = 600.0


def queued_paths(waiting: Iterable[str], queued: Iterable[str], in_flight: str | None) -> set[str]:
    """The job's queued artifacts: every file seen changed on its machine and not yet stored as it
    is now, whether it waits out the stability window (`waiting`), waits in the upload queue
    (`queued`) or is being uploaded (`in_flight`). Only the job's agent knows these three, so it
    records them (store: the queued_artifacts table, via `queue_change`) and readers use that."""
    found = {*waiting, *queued}
    if in_flight is not None:
        found.add(in_flight)
    return found


@dataclass(frozen=True)
class QueueChange:
    """What changed in the queued set since the agent last recorded it, and its new size."""

    added: frozenset[str]
    removed: frozenset[str]
    length: int


def queue_change(recorded: set[str], now: set[str]) -> QueueChange | None:
    """The change to record (None when there is none): only differences are written, so a
    queue of 100 000 files costs a set difference per tick, not a rewrite of the whole list."""
    added, removed = frozenset(now - recorded), frozenset(recorded - now)
    if not added and not removed:
        return None
    return QueueChange(added, removed, len(now))


def has_upload_queue(state: JobState) -> bool:
    """Only a RUNNING job has queued artifacts for a reader: a job that ended, or left its machine
    in a move, has no upload queue (what it left waiting is reported as abandoned or lost)."""
    return state is JobState.RUNNING


class UploadQueue:
    def __init__(self, order: str = FIFO) -> None:
        if order not in (FIFO, LIFO):
            raise ValueError(f"upload order must be FIFO or LIFO, not {order!r}")
        self.order = order
        self._sign = 1 if order == FIFO else -1  # a priority is seq * sign: FIFO pops the oldest, LIFO the newest
        self._items: dict[str, Stable] = {}
        self._heap: list[tuple[int, str]] = []
        self.nonempty_since: float | None = None
        # pushes so far: a run popped when this read N pops in order before every other item for as
        # long as it still reads N (nothing pushed since can pop before the run's rest: pops_before)
        self.pushes = 0

    def push(self, item: Stable, now: float) -> None:
        self.pushes += 1
        if self.nonempty_since is None:
            self.nonempty_since = now
        self._items[item.path] = item
        priority = self._priority(item)
        heapq.heappush(self._heap, (priority, item.path))

    def push_many(self, items: list[Stable], now: float) -> None:
        """push() of each item (distinct paths), in one step when they are at least as many as the
        queue holds (a job's end queues every file it waited for at once): the heap rebuilt in
        linear time, not an O(log n) push each."""
        if len(items) < len(self._heap):
            for item in items:
                self.push(item, now)
            return
        if items and self.nonempty_since is None:
            self.nonempty_since = now
        self.pushes += len(items)
        self._items.update((item.path, item) for item in items)
        self._heap += [(item.seq * self._sign, item.path) for item in items]
        heapq.heapify(self._heap)

    def pop(self) -> Stable | None:
        item = self._next()
        if item is not None:
            self._take(item)
        return item

    def pop_run(self, limit: int, fits: Callable[[Stable], bool]) -> list[Stable]:
        """The next item and, when it `fits`, the items after it while they fit too, up to `limit`
        in all, in the queue's order: a run of small files a store takes in one batch, popped in
        one call (a pop and its lock each cost about a tenth of storing a small file). A file
        queued meanwhile that pops before the run's rest is not kept waiting: the uploader gives
        the rest back (pops_before)."""
        run: list[Stable] = []
        while len(run) < limit and (item := self._next()) is not None:
            small = fits(item)
            if run and not small:
                break
            self._take(item)
            run.append(item)
            if not small:
                break
        return run

    def upcoming(self, limit: int, fits: Callable[[Stable], bool], within: int = 64) -> list[Stable]:
        """The first `limit` items that `fits` among the next `within` to pop, in the order they
        would pop, left in the queue: what the uploader reaches next (a large file's snapshot can
        start ahead of its upload). The heap is walked in order from its top (a frontier of entries
        whose parents were visited), passing over superseded entries, and never more than 4 x
        `within` entries: cheap however long the queue, and however many entries it superseded."""
        found: list[Stable] = []
        heap, seen, visited = self._heap, set[str](), 0
        frontier = [(heap[0], 0)] if heap else []
        while frontier and len(seen) < within and len(found) < limit and visited < 4 * within:
            (priority, path), index = heapq.heappop(frontier)
            visited += 1
            for child in (2 * index + 1, 2 * index + 2):
                if child < len(heap):
                    heapq.heappush(frontier, (heap[child], child))
            item = self._items.get(path)
            if item is None or self._priority(item) != priority or path in seen:
                continue  # superseded by a later push of the same path (or its twin entry)
            seen.add(path)
            if fits(item):
                found.append(item)
        return found

    def pops_before(self, item: Stable) -> bool:
        """Whether the next item would pop before `item` were it queued: a run's file yields to a
        file that became stable after the run was taken and comes first (LIFO: any newer one)."""
        upcoming = self._next()
        return upcoming is not None and self._priority(upcoming) < self._priority(item)

    def _priority(self, item: Stable) -> int:
        return item.seq * self._sign

    def _next(self) -> Stable | None:
        """The item pop() returns next, left in the queue (stale heap entries dropped on the way)."""
        while self._heap:
            priority, path = self._heap[0]
            item = self._items.get(path)
            if item is not None and item.seq * self._sign == priority:  # _priority, inlined: once per pop
                return item
            heapq.heappop(self._heap)  # superseded by a later push of the same path
        return None

    def _take(self, item: Stable) -> None:
        """Remove `item`, which _next() just returned (the heap's top)."""
        heapq.heappop(self._heap)
        del self._items[item.path]

    def settle(self) -> None:
        """Called when an upload ends: the file in flight counted as queued until now."""
        if not self._items:
            self.nonempty_since = None

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, path: str) -> bool:
        return path in self._items

    def waiting(self) -> KeysView[str]:
        """The paths queued, as a live view (see StabilityTracker.waiting)."""
        return self._items.keys()

    def paths(self) -> list[str]:
        return list(self._items)

    def age(self, now: float) -> float:
        """Seconds the queue has been non-empty without a break (0 when empty)."""
        return 0.0 if self.nonempty_since is None else now - self.nonempty_since

    def warning_due(self, now: float, threshold: float = QUEUE_WARNING_SECONDS) -> bool:
        return self.age(now) > threshold
