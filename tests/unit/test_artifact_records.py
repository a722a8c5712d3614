"""Stored files reach the job's record in batches while the queue is busy, at once otherwise.

A record is one sqlite transaction (~0.1 ms on a disk: as much as storing a small file), so 2,000
small files queued at a job's end are recorded in a few dozen transactions, not 2,000; but no file
waits for its record longer than the batch limits, and none waits behind a large upload.
Real local store and real files; no engine."""

from __future__ import annotations

import os
import threading
import time

from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.artifacts.upload import RECORD_BATCH
from emulator.blobs import SMALL_SNAPSHOT, LocalStore


class Batches:
    """on_uploaded: each call's paths, and when it came."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.times: dict[str, float] = {}
        self.arrived = threading.Event()

    def __call__(self, artifacts) -> None:
        self.calls.append([a.path for a in artifacts])
        for artifact in artifacts:
            self.times[artifact.path] = time.monotonic()
        self.arrived.set()

    def paths(self) -> list[str]:
        return [path for call in self.calls for path in call]


class TimedStore(LocalStore):
    """A real local store that notes when each upload of a large file starts, and takes a while."""

    def __init__(self, root, delay: float) -> None:
        super().__init__(root)
        self.delay = delay
        self.large_started: dict[str, float] = {}

    def put_snapshot(self, key, snapshot, sha256, size):
        self.large_started[key.rsplit("/", 1)[1]] = time.monotonic()
        time.sleep(self.delay)
        super().put_snapshot(key, snapshot, sha256, size)


def pipeline_over(tmp_path, files: dict[str, bytes], store=None):
    root = tmp_path / "artifacts"
    root.mkdir()
    for i, (name, body) in enumerate(files.items()):
        (root / name).write_bytes(body)
        stamp = 1_700_000_000 + i  # written in this order (the FIFO order is by mtime at a rescan)
        os.utime(root / name, (stamp, stamp))
    batches = Batches()
    pipeline = ArtifactPipeline(root, "job-1", store or LocalStore(tmp_path / "store"), "FIFO", lambda e: None,
                                batches, PipelineSettings(stability=0.05))
    return pipeline, batches


def test_many_small_files_are_recorded_in_few_batches_each_once_in_upload_order(tmp_path):
    names = [f"f{i:04}" for i in range(300)]
    pipeline, batches = pipeline_over(tmp_path, {name: name.encode() for name in names})
    pipeline.start()
    report = pipeline.finish()
    assert batches.paths() == names  # every file once, in the order stored
    assert [a.path for a in report.uploaded] == names
    assert len(batches.calls) < len(names) // 10  # not one transaction per file
    assert max(len(call) for call in batches.calls) <= RECORD_BATCH


def test_a_file_written_while_the_queue_is_idle_is_recorded_right_after_its_upload(tmp_path):
    pipeline, batches = pipeline_over(tmp_path, {})
    pipeline.start()
    try:
        (pipeline.root / "only.txt").write_text("x")
        assert batches.arrived.wait(10), "the file was never recorded"
        assert batches.calls == [["only.txt"]]
    finally:
        pipeline.finish()


def test_small_files_stored_before_a_large_one_are_recorded_before_its_upload_starts(tmp_path):
    files = {"a-small": b"s" * 10, "b-small": b"t" * 10, "c-large": b"L" * (SMALL_SNAPSHOT + 1)}
    store = TimedStore(tmp_path / "store", delay=0.5)
    pipeline, batches = pipeline_over(tmp_path, files, store)
    pipeline.start()
    pipeline.finish()
    assert batches.paths() == ["a-small", "b-small", "c-large"]
    assert batches.times["b-small"] <= store.large_started["c-large"]  # not held back by the large upload


def test_a_batch_whose_record_fails_fails_only_the_file_that_cannot_be_recorded(tmp_path):
    import sqlite3

    names = [f"f{i:03}" for i in range(100)]
    recorded: list[str] = []

    def record(artifacts):  # all or none, as one transaction
        if any(a.path == "f050" for a in artifacts):
            raise sqlite3.OperationalError("database is locked")
        recorded.extend(a.path for a in artifacts)

    pipeline, _ = pipeline_over(tmp_path, {name: name.encode() for name in names})
    pipeline.on_uploaded = record
    pipeline.start()
    report = pipeline.finish()
    assert recorded == [name for name in names if name != "f050"]
    assert report.failed == ["f050"]
    assert report.failure is not None and "f050" in report.failure.message


def test_reading_files_in_artifacts_wakes_no_watcher_event(tmp_path, monkeypatch):
    """The uploader reads every file it stores (and a job may read its checkpoints): inotify is
    asked only for writes, creations and moves, so reads cost the watcher's thread nothing."""
    from emulator.artifacts import watch

    seen: list[str] = []
    make_handler = watch._make_handler

    def counting_handler(pipeline):
        handler = make_handler(pipeline)
        dispatch = handler.dispatch
        handler.dispatch = lambda event: (seen.append(event.event_type), dispatch(event))
        return handler

    monkeypatch.setattr(watch, "_make_handler", counting_handler)
    pipeline, batches = pipeline_over(tmp_path, {})
    pipeline.start()
    try:
        (pipeline.root / "written.txt").write_text("x")
        assert batches.arrived.wait(10), "the written file was never stored"
        deadline = time.monotonic() + 5
        while "closed" not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "created" in seen and "closed" in seen  # writes are still seen
        seen.clear()
        for _ in range(20):
            (pipeline.root / "written.txt").read_bytes()
        time.sleep(0.3)  # the observer reads inotify every ~0.1 s
        assert seen == []
    finally:
        pipeline.finish()


def test_a_folder_moved_into_artifacts_uploads_its_files_in_the_order_they_were_written(tmp_path):
    """FIFO over a new folder: the folder's rescan touches its files oldest first, and the "created"
    events watchdog makes up for them afterwards (in directory-listing order) must not reorder them."""
    pipeline, batches = pipeline_over(tmp_path, {})
    pipeline.start()
    try:
        outside = tmp_path / "outside"
        outside.mkdir()
        names = [f"ckpt-{i:02}" for i in range(60)]
        written = names[::2] + names[1::2]  # an order that is neither by name nor (likely) by listing
        for i, name in enumerate(written):
            (outside / name).write_bytes(name.encode())
            os.utime(outside / name, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
        os.rename(outside, pipeline.root / "run")
        deadline = time.monotonic() + 20
        while len(batches.paths()) < len(names) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pipeline.finish()
    assert batches.paths() == [f"run/{name}" for name in written]


class SlowSmallStore(LocalStore):
    """A real local store that takes `delay` seconds per small file, so the queue stays busy."""

    def __init__(self, root, delay: float) -> None:
        super().__init__(root)
        self.delay = delay

    def put_many_bytes(self, blobs):
        time.sleep(self.delay * len(blobs))
        super().put_many_bytes(blobs)


def test_a_file_leaves_the_queued_set_only_once_its_record_is_written(tmp_path):
    """Readers (job status, the TUI) see each file queued or stored, never neither, while records
    wait for their batch."""
    root = tmp_path / "artifacts"
    root.mkdir()
    timeline: list[tuple[str, frozenset[str]]] = []
    pipeline = ArtifactPipeline(
        root, "job-1", SlowSmallStore(tmp_path / "store", delay=0.03), "FIFO", lambda e: None,
        lambda artifacts: timeline.append(("recorded", frozenset(a.path for a in artifacts))),
        PipelineSettings(stability=0.05),
        on_queue=lambda change, warning: timeline.append(("left the queue", change.removed)))
    pipeline.start()
    try:
        for i in range(40):
            (root / f"f{i:02}").write_bytes(b"x" * i)
        deadline = time.monotonic() + 30
        while sum(len(paths) for kind, paths in timeline if kind == "recorded") < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pipeline.finish()
    recorded: set[str] = set()
    for kind, paths in list(timeline):
        if kind == "recorded":
            recorded |= paths
        else:
            assert paths <= recorded, f"left the queue before being recorded: {sorted(paths - recorded)}"
    assert recorded == {f"f{i:02}" for i in range(40)}
    assert len([kind for kind, _ in timeline if kind == "recorded"]) < 40  # batched


class SlowPutStore(LocalStore):
    """A store whose puts are not quick (as S3's: ~50x a record, and they can stall)."""

    quick_puts = False


def test_a_store_without_quick_puts_gets_each_file_recorded_as_soon_as_it_is_stored(tmp_path):
    names = [f"f{i:03}" for i in range(50)]
    pipeline, batches = pipeline_over(tmp_path, {name: name.encode() for name in names},
                                      SlowPutStore(tmp_path / "store"))
    pipeline.start()
    pipeline.finish()
    assert batches.calls == [[name] for name in names]


def test_files_written_within_one_clock_tick_upload_in_name_order(tmp_path):
    """The file system's clock ticks every few ms, so a loop writes many files with one mtime; a
    rescan orders those by name (natural: step-9 before step-10), not by the listing's hash order."""
    pipeline, batches = pipeline_over(tmp_path, {})
    names = [f"step-{i}" for i in range(40)]
    for name in reversed(names):
        (pipeline.root / name).write_bytes(name.encode())
        os.utime(pipeline.root / name, ns=(1_700_000_000_000_000_000,) * 2)  # one tick for all
    pipeline.start()
    pipeline.finish()
    assert batches.paths() == names
