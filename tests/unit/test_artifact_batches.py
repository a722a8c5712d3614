"""Small files read while the upload queue stays busy go to the local store in batches
(put_many_bytes: one lock, one pack write, one manifest write), still one file at a time in
order, every byte checked, each file queued until stored, and a batch that fails fails each of
its files. Real local store and real files; no engine."""

from __future__ import annotations

import errno
import os
import threading

from test_artifact_records import Batches

from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.artifacts.pipeline import QUEUE_RECORD_SECONDS
from emulator.artifacts.upload import STORE_BATCH
from emulator.blobs import SMALL_SNAPSHOT, LocalStore


class CountingStore(LocalStore):
    """A real local store that notes the keys of each put_many_bytes call."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.calls: list[list[str]] = []

    def put_many_bytes(self, blobs):
        self.calls.append([key.rsplit("/", 1)[1] for key, _body, _sha in blobs])
        super().put_many_bytes(blobs)


def pipeline_over(tmp_path, files: dict[str, bytes], store, on_queue=None):
    """A pipeline over `files`, written in this order (one second apart: FIFO order at a rescan)."""
    root = tmp_path / "artifacts"
    root.mkdir()
    for i, (name, body) in enumerate(files.items()):
        (root / name).write_bytes(body)
        os.utime(root / name, (1_700_000_000 + i,) * 2)
    batches = Batches()
    pipeline = ArtifactPipeline(root, "job-1", store, "FIFO", lambda e: None, batches,
                                PipelineSettings(stability=0.05), on_queue=on_queue)
    return pipeline, batches


def stored(store: LocalStore, tmp_path, name: str) -> bytes:
    out = tmp_path / "out" / name
    out.parent.mkdir(exist_ok=True)
    store.get_to(f"jobs/job-1/artifacts/{name}", out)  # checks every byte against the sha256
    return out.read_bytes()


def test_small_files_queued_at_once_are_stored_in_batches_in_order_byte_for_byte(tmp_path):
    files = {f"step-{i}": os.urandom(100 + i) for i in range(200)}
    store = CountingStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, files, store)
    pipeline.start()
    report = pipeline.finish()
    assert [name for call in store.calls for name in call] == list(files)  # each once, in the order written
    assert len(store.calls) < 20 and max(map(len, store.calls)) <= STORE_BATCH  # batched, and bounded
    assert batches.paths() == list(files) and not report.failed
    assert all(stored(store, tmp_path, name) == body for name, body in files.items())


def test_small_files_taken_before_a_large_one_are_stored_before_it(tmp_path):
    files = {"a": b"a", "b": b"b", "large.bin": os.urandom(SMALL_SNAPSHOT + 1), "c": b"c"}
    store = CountingStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, files, store)
    pipeline.start()
    pipeline.finish()
    assert batches.paths() == list(files)
    assert store.calls == [["a", "b"], ["c"]]  # the large file went alone, between them
    assert [o.key.rsplit("/", 1)[1] for o in store.list("jobs/job-1/artifacts/")] == ["a", "b", "c", "large.bin"]


class GatedStore(LocalStore):
    """A real local store whose batch waits for `release`, saying when it has begun."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.begun, self.release = threading.Event(), threading.Event()

    def put_many_bytes(self, blobs):
        self.begun.set()
        assert self.release.wait(30)
        super().put_many_bytes(blobs)


def test_files_read_ahead_count_as_queued_until_their_batch_is_stored(tmp_path):
    """`cycle job status` and the TUI read the queued set: a file read but not yet stored is queued
    (never neither queued nor stored)."""
    names = [f"f{i}" for i in range(5)]
    queued: set[str] = set()
    changed = threading.Condition()

    def on_queue(change, _warning):
        with changed:
            queued.update(change.added)
            queued.difference_update(change.removed)
            changed.notify_all()

    store = GatedStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, {name: name.encode() for name in names}, store, on_queue)
    pipeline.start()
    try:
        assert store.begun.wait(10), "no batch was stored"
        with changed:  # the queued set is reported every QUEUE_RECORD_SECONDS, only when it changed
            assert changed.wait_for(lambda: queued >= set(names), timeout=10), f"queued: {sorted(queued)}"
            left = changed.wait_for(lambda: not queued >= set(names), timeout=4 * QUEUE_RECORD_SECONDS)
        assert not left, f"left the queued set before being stored: {sorted(set(names) - queued)}"
        assert not batches.calls
    finally:
        store.release.set()
        report = pipeline.finish()
    assert batches.paths() == names and not queued and not report.failed


class FullStore(CountingStore):
    """A real local store whose disk fills up on its second batch."""

    def put_many_bytes(self, blobs):
        if self.calls:
            self.calls.append([key.rsplit("/", 1)[1] for key, _body, _sha in blobs])
            raise OSError(errno.ENOSPC, "No space left on device", os.fspath(self.root / "packs"))
        super().put_many_bytes(blobs)


def test_a_batch_the_disk_refuses_fails_each_of_its_files_and_records_none_of_them(tmp_path):
    files = {f"f{i:03}": b"x" * i for i in range(3 * STORE_BATCH)}
    store = FullStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, files, store)
    pipeline.start()
    report = pipeline.finish()
    first, refused = store.calls[0], [name for call in store.calls[1:] for name in call]
    assert batches.paths() == first and report.failed == refused and set(first) | set(refused) == set(files)
    assert report.failure is not None and report.failure.reason == "DISK_FULL"


class _StoresOnFirstCopy(list):
    """`_read_ahead` and `_unrecorded` of a pipeline: right after the first copy of either (the
    ticker's report of the queued set reads both), the uploader's batch is stored, as the GIL may
    let it run there: its files move from read ahead to stored-not-yet-recorded."""

    fired = False

    def __init__(self, items, pipeline) -> None:
        super().__init__(items)
        self.pipeline = pipeline

    def __iter__(self):
        yield from list(super().__iter__())
        if not _StoresOnFirstCopy.fired:
            _StoresOnFirstCopy.fired = True
            uploader = threading.Thread(target=self.pipeline._store_batch)
            uploader.start()
            uploader.join()


def test_a_file_moving_from_read_ahead_to_stored_is_never_reported_neither(tmp_path):
    """The report read the stored-not-recorded files first, then the read-ahead ones: a batch
    stored in between was in neither copy, and left the queued set before its record."""
    queued: set[str] = set()

    def on_queue(change, _warning):
        queued.update(change.added)
        queued.difference_update(change.removed)

    pipeline, batches = pipeline_over(tmp_path, {"f": b"hello"}, LocalStore(tmp_path / "store"), on_queue)
    pipeline.tracker.touch("f", 0.0, pipeline._signature_at("f"))
    [item] = pipeline.tracker.flush(pipeline._signature_at)
    pipeline._upload(item)  # read ahead, not yet stored
    with pipeline._lock:
        pipeline._report_queue(0.0)
    assert queued == {"f"} and pipeline._read_ahead
    pipeline._read_ahead = _StoresOnFirstCopy(pipeline._read_ahead, pipeline)
    pipeline._unrecorded = _StoresOnFirstCopy(pipeline._unrecorded, pipeline)
    with pipeline._lock:
        pipeline._report_queue(1.0)
    assert _StoresOnFirstCopy.fired and not pipeline._read_ahead and not batches.calls  # stored, not recorded
    assert queued == {"f"}


def test_the_jobs_end_cuts_off_a_batch_that_waits_on_the_disk(tmp_path, monkeypatch):
    """The batch's store call held the lock the job's end takes to record: abandon() waited as long
    as the store did (a sweep's exclusive lock, a hung disk), past the upload's cut-off."""
    import time

    import emulator.artifacts.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "STOP_WAIT_SECONDS", 0.5)
    store = GatedStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, {f"f{i}": b"x" * i for i in range(3)}, store)
    pipeline.start()
    try:
        assert store.begun.wait(10), "no batch was stored"
        started = time.monotonic()
        report = pipeline.abandon()
        assert time.monotonic() - started < 5
    finally:
        store.release.set()
    for thread in pipeline._threads:
        thread.join(10)
    assert pipeline._cut_off and not batches.calls and not report.uploaded  # the batch stored late is not recorded:
    assert report.abandoned == ["f0", "f1", "f2"]  # the move lists its files as lost with the machine


class CutShortStore(CountingStore):
    """A real local store whose disk fills up after the first two files of its first batch."""

    def put_many_bytes(self, blobs):
        from emulator.blobs import StoredInPart

        if not self.calls:
            self.calls.append([key.rsplit("/", 1)[1] for key, _body, _sha in blobs])
            LocalStore.put_many_bytes(self, blobs[:2])
            raise StoredInPart(2, OSError(errno.ENOSPC, "No space left on device"))
        super().put_many_bytes(blobs)


def test_a_batch_the_disk_cut_short_records_the_files_stored_before_the_cut_and_fails_the_rest(tmp_path):
    files = {f"f{i}": f"body {i}".encode() for i in range(5)}
    store = CutShortStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, files, store)
    pipeline.start()
    report = pipeline.finish()
    assert store.calls[0] == list(files)
    assert batches.paths() == ["f0", "f1"] and report.failed == ["f2", "f3", "f4"]
    assert report.failure is not None and report.failure.reason == "DISK_FULL"
    assert [stored(store, tmp_path, name) for name in ("f0", "f1")] == [files["f0"], files["f1"]]


def test_a_move_during_a_run_of_small_files_loses_only_the_files_not_yet_read(tmp_path, monkeypatch):
    """The uploader takes a run of small files from the queue at once: a move (abandon) while it
    reads one of them lists the ones it has not begun as lost and stores none of them; each file
    is stored or lost, never both, and all of them count as queued until then."""
    names = [f"f{i}" for i in range(10)]
    reading, release = gate_the_read_of(monkeypatch, "f1")
    queued: set[str] = set()

    def on_queue(change, _warning):
        queued.update(change.added)
        queued.difference_update(change.removed)

    store = CountingStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, {name: name.encode() for name in names}, store, on_queue)
    pipeline.start()
    ended: list = []
    try:
        assert reading.wait(10), "f1 was never read"
        assert not len(pipeline.queue) and set(pipeline._taken) == set(names[2:])  # taken as one run
        with pipeline._lock:
            pipeline._report_queue(1e9)
        assert queued == set(names)  # f0 read ahead, f1 in flight, the rest taken
        mover = threading.Thread(target=lambda: ended.append(pipeline.abandon()))
        mover.start()
        while pipeline._taken:  # abandon() took the run's unread files back
            threading.Event().wait(0.01)
    finally:
        release.set()
    mover.join(30)
    [report] = ended
    assert [a.path for a in report.uploaded] == ["f0", "f1"] == batches.paths()
    assert report.abandoned == names[2:]
    assert [o.key.rsplit("/", 1)[1] for o in store.list("jobs/job-1/artifacts/")] == ["f0", "f1"]


def test_a_move_cannot_slip_between_listing_a_runs_files_as_lost_and_taking_them_back(tmp_path, monkeypatch):
    """abandon() lists the run's files not yet begun, then takes them back: the uploader claimed
    them in between (a thread switch there), storing every file the move had just called lost."""
    import time

    names = [f"f{i}" for i in range(10)]
    reading, release = gate_the_read_of(monkeypatch, "f1")

    class SwitchBeforeClear(dict):
        def clear(self):
            release.set()  # the uploader goes on with the run while abandon() is here
            time.sleep(0.3)
            super().clear()

    store = CountingStore(tmp_path / "store")
    pipeline, batches = pipeline_over(tmp_path, {name: name.encode() for name in names}, store)
    pipeline._taken = SwitchBeforeClear()
    pipeline.start()
    assert reading.wait(10), "f1 was never read"
    report = pipeline.abandon()
    stored_names = {o.key.rsplit("/", 1)[1] for o in store.list("jobs/job-1/artifacts/")}
    assert report.abandoned == names[2:] and not stored_names & set(report.abandoned)
    assert stored_names == {"f0", "f1"} == {a.path for a in report.uploaded}


def test_lifo_a_file_stable_during_a_run_goes_before_the_runs_older_files(tmp_path, monkeypatch):
    """The spec's LIFO uploads the newest stable file first: a checkpoint written while a run of
    older small files was taken waited for the whole run (up to 64 files) before."""
    import time

    names = [f"f{i}" for i in range(20)]
    reading, release = gate_the_read_of(monkeypatch, "f19")
    root = tmp_path / "artifacts"
    root.mkdir()
    for i, name in enumerate(names):
        (root / name).write_bytes(name.encode())
        os.utime(root / name, (1_700_000_000 + i,) * 2)
    batches = Batches()
    pipeline = ArtifactPipeline(root, "job-1", CountingStore(tmp_path / "store"), "LIFO", lambda e: None, batches,
                                PipelineSettings(stability=0.05))
    pipeline.start()
    try:
        assert reading.wait(10), "f19 was never read"
        (root / "newest").write_bytes(b"checkpoint")
        pipeline.touch(root / "newest")
        deadline = time.monotonic() + 10
        while "newest" not in pipeline.queue and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        release.set()
    pipeline.finish()
    assert batches.paths() == ["f19", "newest", *reversed(names[:19])]


def gate_the_read_of(monkeypatch, name: str) -> tuple[threading.Event, threading.Event]:
    """The uploader's read of the file `name` waits (`reading` set) until `release` is set."""
    import emulator.artifacts.upload as upload_module

    real_read, reading, release = upload_module.read_small, threading.Event(), threading.Event()

    def gated(source, *args):
        if os.fspath(source).endswith(f"/{name}") and not release.is_set():
            reading.set()
            assert release.wait(30)
        return real_read(source, *args)

    monkeypatch.setattr(upload_module, "read_small", gated)
    return reading, release


def test_files_recorded_as_stored_leave_the_queued_record_with_their_batch(tmp_path):
    """The queued record was rewritten only at its next report (every QUEUE_RECORD_SECONDS), so
    during a flood `job status` counted hundreds of files both queued and stored."""
    queued: set[str] = set()

    def on_queue(change, _warning):
        queued.update(change.added)
        queued.difference_update(change.removed)

    pipeline, batches = pipeline_over(tmp_path, {"f": b"hello", "g": b"world"}, LocalStore(tmp_path / "store"),
                                      on_queue)
    for name in ("f", "g"):
        pipeline.tracker.touch(name, 0.0, pipeline._signature_at(name))
    for item in pipeline.tracker.flush(pipeline._signature_at):
        pipeline._upload(item)  # read ahead, not yet stored
    with pipeline._lock:
        pipeline._report_queue(0.0)
    assert queued == {"f", "g"}
    pipeline._store_batch()
    pipeline._record_batch()
    assert batches.paths() == ["f", "g"] and not queued  # no report came in between


def test_recorded_files_whose_queue_record_fails_leave_it_at_the_next_report(tmp_path):
    queued: set[str] = set()
    failing = [False]

    def on_queue(change, _warning):
        if failing[0]:
            raise RuntimeError("database is locked")
        queued.update(change.added)
        queued.difference_update(change.removed)

    pipeline, batches = pipeline_over(tmp_path, {"f": b"hello"}, LocalStore(tmp_path / "store"), on_queue)
    pipeline.tracker.touch("f", 0.0, pipeline._signature_at("f"))
    [item] = pipeline.tracker.flush(pipeline._signature_at)
    pipeline._upload(item)
    with pipeline._lock:
        pipeline._report_queue(0.0)
    failing[0] = True
    pipeline._store_batch()
    pipeline._record_batch()  # stored and recorded; its queue record failed
    assert batches.paths() == ["f"] and queued == {"f"}
    failing[0] = False
    with pipeline._lock:
        pipeline._report_queue(10.0)
    assert not queued
