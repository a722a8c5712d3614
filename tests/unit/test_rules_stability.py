"""The 500 ms window and the upload order with a fake clock: what the pipeline tests used to show
by sleeping inside the window on a busy machine (tests/integration/test_artifact_pipeline.py keeps the IO)."""

from __future__ import annotations

from emulator.rules.stability import Signature, StabilityTracker
from emulator.rules.upload_queue import FIFO, LIFO, UploadQueue


class Disk:
    """(size, mtime_ns) per path, as a fake stat."""

    def __init__(self) -> None:
        self.files: dict[str, Signature] = {}

    def write(self, path: str, size: int, now: float) -> Signature:
        self.files[path] = (size, int(now * 1e9))
        return self.files[path]

    def stat(self, path: str) -> Signature | None:
        return self.files.get(path)


def test_a_slow_writer_pausing_under_the_window_is_never_due_half_written():
    disk, tracker = Disk(), StabilityTracker(0.5)
    now = 0.0
    for chunk in range(1, 7):
        tracker.touch("model.bin", now, disk.write("model.bin", chunk * 10_000, now))
        now += 0.3
        assert tracker.due(now, disk.stat) == []  # 0.3 s after the last write: still inside the window
    ready = tracker.due(now + 0.2, disk.stat)
    assert [(s.path, s.signature[0]) for s in ready] == [("model.bin", 60_000)]


def test_never_before_the_window_and_at_once_after():
    disk, tracker = Disk(), StabilityTracker(0.5)
    tracker.touch("r.bin", 10.0, disk.write("r.bin", 5, 10.0))
    assert tracker.due(10.499, disk.stat) == []
    assert [s.path for s in tracker.due(10.5, disk.stat)] == ["r.bin"]


def test_a_change_without_an_event_restarts_the_window():
    disk, tracker = Disk(), StabilityTracker(0.5)
    tracker.touch("m.json", 0.0, disk.write("m.json", 11, 0.0))
    disk.write("m.json", 12, 0.4)  # the polling observer missed it
    assert tracker.due(0.5, disk.stat) == [] and "m.json" in tracker
    assert [s.signature[0] for s in tracker.due(1.0, disk.stat)] == [12]


def test_a_file_changed_while_uploading_is_queued_again_with_its_new_version():
    disk, tracker, queue = Disk(), StabilityTracker(0.5), UploadQueue(FIFO)
    tracker.touch("metrics.json", 0.0, disk.write("metrics.json", 11, 0.0))
    for item in tracker.due(0.5, disk.stat):
        queue.push(item, 0.5)
    in_flight = queue.pop()
    assert in_flight is not None and in_flight.signature[0] == 11
    tracker.touch("metrics.json", 0.7, disk.write("metrics.json", 12, 0.7))  # written during the upload
    for item in tracker.due(1.2, disk.stat):
        queue.push(item, 1.2)
    again = queue.pop()
    assert again is not None and again.signature[0] == 12 and again.seq > in_flight.seq


def order_after_first(order: str) -> list[str]:
    """'first' becomes stable and starts uploading; four checkpoints follow 50 ms apart."""
    disk, tracker, queue = Disk(), StabilityTracker(0.5), UploadQueue(order)
    tracker.touch("first", 0.0, disk.write("first", 1, 0.0))
    for item in tracker.due(0.6, disk.stat):
        queue.push(item, 0.6)
    uploaded = [queue.pop()]
    for i in range(1, 5):
        now = 0.6 + 0.05 * i
        tracker.touch(f"ckpt-{i}", now, disk.write(f"ckpt-{i}", 1, now))
    for item in tracker.due(2.0, disk.stat):
        queue.push(item, 2.0)
    while (item := queue.pop()) is not None:
        uploaded.append(item)
    return [item.path for item in uploaded if item is not None]


def test_upload_order_fifo_and_lifo():
    expected = [f"ckpt-{i}" for i in range(1, 5)]
    assert order_after_first(FIFO) == ["first", *expected]
    assert order_after_first(LIFO) == ["first", *expected[::-1]]


def test_queue_warning_after_the_threshold_counts_the_file_in_flight():
    queue, disk, tracker = UploadQueue(FIFO), Disk(), StabilityTracker(0.5)
    for i in range(6):
        tracker.touch(f"ckpt-{i}", 0.0, disk.write(f"ckpt-{i}", 1, 0.0))
    for item in tracker.due(0.5, disk.stat):
        queue.push(item, 0.5)
    queue.pop()  # uploading; five wait
    assert not queue.warning_due(1.5, threshold=1.0)
    assert queue.warning_due(1.6, threshold=1.0)
    while queue.pop() is not None:
        pass
    assert queue.warning_due(1.6, threshold=1.0)  # the last file is still in flight
    queue.settle()
    assert queue.age(2.0) == 0.0 and not queue.warning_due(2.0, threshold=1.0)


def test_an_event_for_a_waiting_file_that_did_not_change_keeps_its_place_and_window():
    """A new folder's files are touched oldest first; watchdog then makes up a "created" event for
    each file in it, in listing order: those must not reorder a FIFO upload nor restart windows."""
    disk, tracker, queue = Disk(), StabilityTracker(0.5), UploadQueue(FIFO)
    for i, name in enumerate(["d/c", "d/a", "d/b"]):  # written c, a, b
        disk.write(name, 10, i * 0.01)
    for name in ["d/c", "d/a", "d/b"]:  # the folder's rescan, by mtime
        tracker.touch(name, 0.1, disk.stat(name))
    for name in ["d/a", "d/b", "d/c"]:  # the made-up events, in listing order, a moment later
        tracker.touch(name, 0.3, disk.stat(name))
    for item in tracker.due(0.6, disk.stat):  # 0.5 s after the rescan: due, not restarted at 0.3
        queue.push(item, 0.6)
    assert [queue.pop().path for _ in range(3)] == ["d/c", "d/a", "d/b"]


def test_an_event_with_a_new_signature_still_restarts_the_window_and_moves_the_file_last():
    disk, tracker = Disk(), StabilityTracker(0.5)
    tracker.touch("a", 0.0, disk.write("a", 10, 0.0))
    tracker.touch("b", 0.1, disk.write("b", 10, 0.1))
    tracker.touch("a", 0.2, disk.write("a", 20, 0.2))  # a written again
    assert [s.path for s in tracker.due(0.65, disk.stat)] == ["b"]
    assert [s.path for s in tracker.due(0.75, disk.stat)] == ["a"]
