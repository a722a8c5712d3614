"""The artifact pipeline on a real folder with real watchdog and the real stores (no Docker):
stability, renames, deletions, symlinks, ordering, retries, the queue warning, many files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.blobs import LocalStore, StorageError
from emulator.models import QUEUE_WARNING_TEXT


class Recorder:
    def __init__(self):
        self.events: list[str] = []
        self.uploaded = []
        self.queue = []

    def event(self, text):
        self.events.append(text)

    def upload(self, artifacts):
        self.uploaded.extend(artifacts)


class SlowStore(LocalStore):
    """A real local store whose uploads take `delay` seconds, to let a queue build up: a file at a
    time, as to S3 (its puts are not quick, so small files are not stored in batches)."""

    quick_puts = False

    def __init__(self, root, delay):
        super().__init__(root)
        self.delay = delay

    def put_snapshot(self, key, snapshot, sha256, size):
        time.sleep(self.delay)
        super().put_snapshot(key, snapshot, sha256, size)

    def put_bytes(self, key, body, sha256):
        time.sleep(self.delay)
        super().put_bytes(key, body, sha256)


class BrokenStore(LocalStore):
    def __init__(self, root):
        super().__init__(root)
        self.calls = 0

    def put_snapshot(self, key, snapshot, sha256, size):
        self.calls += 1
        raise StorageError("the storage server went away")

    def put_many_bytes(self, blobs):
        self.calls += 1
        raise StorageError("the storage server went away")


def make(tmp_path, store=None, order="FIFO", **settings):
    root = tmp_path / "artifacts"
    root.mkdir(exist_ok=True)
    store = store or LocalStore(tmp_path / "store")
    rec = Recorder()
    pipeline = ArtifactPipeline(root, "job-1", store, order, rec.event, rec.upload,
                                PipelineSettings(**settings), on_queue=lambda q, w: rec.queue.append((q.length, w)))
    pipeline.start()
    return root, store, rec, pipeline


def stored_bytes(store, tmp_path, rel):
    out = tmp_path / "check.bin"
    store.get_to(f"jobs/job-1/artifacts/{rel}", out)
    return out.read_bytes()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_file_unchanged_for_500ms_reaches_storage_byte_for_byte_while_running(tmp_path):
    root, store, rec, pipeline = make(tmp_path)
    data = os.urandom(200_000)
    (root / "results.bin").write_bytes(data)
    written = time.monotonic()
    assert wait_for(lambda: rec.uploaded)
    assert time.monotonic() - written >= 0.5  # never before the 500 ms window
    assert stored_bytes(store, tmp_path, "results.bin") == data
    pipeline.finish()


def test_write_then_rename_uploads_the_destination_only(tmp_path):
    root, store, rec, pipeline = make(tmp_path)
    (root / "ckpt").mkdir()
    (root / "ckpt" / ".step-1.tmp").write_bytes(b"checkpoint")
    os.rename(root / "ckpt" / ".step-1.tmp", root / "ckpt" / "step-1.pt")
    report = pipeline.finish()
    assert [a.path for a in report.uploaded] == ["ckpt/step-1.pt"]
    assert stored_bytes(store, tmp_path, "ckpt/step-1.pt") == b"checkpoint"


def test_slow_writer_is_never_uploaded_half_written(tmp_path):
    """The IO side (each write's event reaches the tracker); the window itself is tested with a
    fake clock in tests/unit/test_rules_stability.py. A 2 s window keeps the 0.3 s pauses well
    inside it on a busy machine."""
    root, store, rec, pipeline = make(tmp_path, stability=2.0)
    with open(root / "model.bin", "wb") as f:
        for chunk in range(6):
            f.write(bytes([chunk]) * 10_000)
            f.flush()
            time.sleep(0.3)  # pauses under the window: the file never counts as stable
    assert wait_for(lambda: rec.uploaded)
    report = pipeline.finish()
    assert len(report.uploaded) == 1 and report.uploaded[0].size == 60_000
    assert stored_bytes(store, tmp_path, "model.bin") == b"".join(bytes([c]) * 10_000 for c in range(6))


def test_deleting_a_file_keeps_it_in_storage(tmp_path):
    root, store, rec, pipeline = make(tmp_path)
    (root / "log.txt").write_text("keep me")
    assert wait_for(lambda: rec.uploaded)
    (root / "log.txt").unlink()
    pipeline.finish()
    assert stored_bytes(store, tmp_path, "log.txt") == b"keep me"


def test_a_file_changed_while_uploading_is_uploaded_again(tmp_path):
    root, store, rec, pipeline = make(tmp_path, store=SlowStore(tmp_path / "store", 0.8))
    (root / "metrics.json").write_text('{"step": 1}')
    assert wait_for(lambda: len(rec.queue) and any(n for n, _ in rec.queue))
    time.sleep(0.7)  # stable, now uploading slowly
    (root / "metrics.json").write_text('{"step": 2}')
    report = pipeline.finish()
    assert stored_bytes(store, tmp_path, "metrics.json") == b'{"step": 2}'
    assert [a.size for a in report.uploaded][-1] == len('{"step": 2}')


def test_zero_byte_files_and_odd_names_upload(tmp_path):
    root, store, rec, pipeline = make(tmp_path)
    (root / "empty.marker").write_bytes(b"")
    (root / "line\nbreak.txt").write_text("n")
    Path(os.fsdecode(root / os.fsdecode(b"bad-\xff.bin"))).write_bytes(b"b")
    report = pipeline.finish()
    keys = sorted(a.key for a in report.uploaded)
    assert keys == ["jobs/job-1/artifacts/bad-%FF.bin", "jobs/job-1/artifacts/empty.marker",
                    "jobs/job-1/artifacts/line%0Abreak.txt"]
    assert stored_bytes(store, tmp_path, "empty.marker") == b""


def test_symlinks_are_never_followed_out_of_artifacts(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    root, store, rec, pipeline = make(tmp_path)
    (root / "real.txt").write_text("inside")
    (root / "inside-link").symlink_to("real.txt")
    (root / "abs-link").symlink_to("/etc/passwd")
    (root / "up-link").symlink_to("../secret.txt")
    (root / "dir-link").symlink_to(tmp_path)
    report = pipeline.finish()
    stored = {a.path for a in report.uploaded}
    assert stored == {"real.txt", "inside-link"}
    assert stored_bytes(store, tmp_path, "inside-link") == b"inside"
    assert sorted(report.skipped) in (["abs-link", "dir-link", "up-link"], ["abs-link", "up-link"])
    assert any("'up-link'" in e and "outside /artifacts" in e for e in rec.events)
    everything = [p for folder in ("blobs", "packs") for p in (tmp_path / "store" / folder).rglob("*") if p.is_file()]
    assert everything and all(b"host secret" not in p.read_bytes() for p in everything)  # the store's own files
    assert store.head("jobs/job-1/artifacts/up-link") is None and store.head("jobs/job-1/artifacts/abs-link") is None


def test_a_link_is_stored_again_when_only_its_target_changes(tmp_path):
    """`latest.pt -> ckpt.pt` made once, then only ckpt.pt rewritten: the watcher sees events on
    ckpt.pt alone, yet storage's latest.pt follows each version, while running and at the end."""
    root, store, rec, pipeline = make(tmp_path)
    (root / "ckpt.pt").write_bytes(b"v1")
    (root / "latest.pt").symlink_to("ckpt.pt")
    stored_now = lambda: store.head("jobs/job-1/artifacts/latest.pt") and stored_bytes(store, tmp_path, "latest.pt")  # noqa: E731
    assert wait_for(lambda: stored_now() == b"v1")
    (root / "ckpt.pt").write_bytes(b"v2 longer")
    assert wait_for(lambda: stored_now() == b"v2 longer"), "the link kept its target's old bytes"
    (root / "ckpt.pt").write_bytes(b"v3")  # at the very end: only the end-of-job rescan can see it
    report = pipeline.finish()
    assert stored_bytes(store, tmp_path, "latest.pt") == b"v3"
    assert [a.size for a in report.uploaded if a.path == "latest.pt"] == [2, 9, 2]


def test_a_link_settles_only_once_its_target_stopped_changing(tmp_path):
    """The link's window restarts with each write to its target, as the target's does: a
    slowly written target is never stored half-written under the link's name."""
    root, store, rec, pipeline = make(tmp_path, stability=2.0)
    with open(root / "model.bin", "wb") as f:
        for chunk in range(20):
            f.write(bytes([chunk]) * 3_000)
            f.flush()
            if chunk == 0:
                (root / "latest.bin").symlink_to("model.bin")
            # 4 s of writes, each pause a tenth of the window (a stall of 1.8 s would be needed to
            # fail by chance); a link judged by its own lstat was stable 2 s after it was made
            time.sleep(0.2)
    report = pipeline.finish()
    assert [a.size for a in report.uploaded if a.path == "latest.bin"] == [60_000]
    assert stored_bytes(store, tmp_path, "latest.bin") == b"".join(bytes([c]) * 3_000 for c in range(20))


def test_a_link_to_a_folder_inside_is_skipped_with_one_event(tmp_path):
    """`steps/latest -> s1` (a folder): its files are stored under their own paths, the link is named
    as skipped once (a user test found it dropped without a word)."""
    root, store, rec, pipeline = make(tmp_path)
    (root / "steps" / "s1").mkdir(parents=True)
    (root / "steps" / "s1" / "w.bin").write_bytes(b"w")
    (root / "steps" / "latest").symlink_to("s1")
    report = pipeline.finish()
    assert [a.path for a in report.uploaded] == ["steps/s1/w.bin"]
    assert report.skipped == ["steps/latest"]
    events = [e for e in rec.events if "'steps/latest'" in e]
    assert len(events) == 1 and "link to the folder 's1'" in events[0], rec.events


def test_a_link_out_whose_target_changes_is_still_skipped_once(tmp_path):
    """A host file behind a link out of /artifacts that changes does not bring the link back (its
    signature is its own lstat: the target is not even looked up), and were it queued again it
    would be skipped again, never read, and reported once."""
    outside = tmp_path / "host.log"
    outside.write_text("one")
    root, store, rec, pipeline = make(tmp_path)
    (root / "log-link").symlink_to(outside)
    assert wait_for(lambda: "log-link" in pipeline.report.skipped)
    outside.write_text("two, longer")
    report = pipeline.finish()
    assert report.skipped == ["log-link"] and report.uploaded == []
    assert len([e for e in rec.events if "'log-link'" in e]) == 1
    assert store.head("jobs/job-1/artifacts/log-link") is None


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_link_to_a_large_file_is_taken_by_the_targets_size(tmp_path, where, request):
    """A link's size is its target's: a 2 MiB target goes through a snapshot file, a 9 MiB one to S3
    in place (opened without following a link, at its real path), not read whole into memory."""
    from emulator.blobs import S3Store

    size = 2 * 1024 * 1024 if where == "local" else 9 * 1024 * 1024
    store = (LocalStore(tmp_path / "store") if where == "local"
             else S3Store(request.getfixturevalue("s3_host"), "link-bucket", tmp_path / "snap"))
    used = []
    for method in ("put_bytes", "put_snapshot", "put_in_place"):
        if hasattr(store, method):
            real = getattr(store, method)
            setattr(store, method, lambda *args, _real=real, _name=method: (used.append(_name), _real(*args))[1])
    root, store, rec, pipeline = make(tmp_path, store=store, stability=0.1)
    (root / "ckpt.bin").write_bytes(os.urandom(size))
    (root / "latest.bin").symlink_to("ckpt.bin")
    assert wait_for(lambda: any(a.path == "latest.bin" for a in rec.uploaded))
    final = os.urandom(size + 1)
    (root / "ckpt.bin").write_bytes(final)
    report = pipeline.finish()
    assert stored_bytes(store, tmp_path, "latest.bin") == final
    assert [a.size for a in report.uploaded if a.path == "latest.bin"][-1] == size + 1
    assert "put_bytes" not in used and ("put_snapshot" if where == "local" else "put_in_place") in used


@pytest.mark.parametrize("order", ["FIFO", "LIFO"])
def test_upload_order(tmp_path, order):
    root, store, rec, pipeline = make(tmp_path, store=SlowStore(tmp_path / "store", 0.4), order=order)
    (root / "first").write_text("0")
    assert wait_for(lambda: rec.queue and rec.queue[-1][0] >= 1)
    time.sleep(0.6)  # "first" is now stable and uploading
    for i in range(1, 5):
        (root / f"ckpt-{i}").write_text(str(i))
        time.sleep(0.05)
    report = pipeline.finish()
    order_seen = [a.path for a in report.uploaded]
    assert order_seen[0] == "first"
    expected = [f"ckpt-{i}" for i in range(1, 5)]
    assert order_seen[1:] == (expected if order == "FIFO" else expected[::-1])


def test_queue_warning_after_the_threshold(tmp_path):
    root, store, rec, pipeline = make(tmp_path, store=SlowStore(tmp_path / "store", 0.5), queue_warning=1.0)
    for i in range(6):
        (root / f"ckpt-{i}").write_text(str(i))
    assert wait_for(lambda: QUEUE_WARNING_TEXT in rec.events, timeout=15)
    assert any(warning for _, warning in rec.queue)
    pipeline.finish()
    assert 'artifact_upload_order = "LIFO"' in QUEUE_WARNING_TEXT


def test_failed_uploads_are_retried_a_bounded_number_of_times_then_reported(tmp_path):
    store = BrokenStore(tmp_path / "store")
    root, _, rec, pipeline = make(tmp_path, store=store, retries=3, backoff=0.01)
    (root / "a").write_text("a")
    report = pipeline.finish()
    assert report.failed == ["a"] and store.calls == 3
    assert any("failed after 3 attempt(s)" in e for e in rec.events)


def test_polling_fallback_when_inotify_limits_are_hit(tmp_path, monkeypatch):
    import errno

    import watchdog.observers

    class Exhausted(watchdog.observers.Observer):
        def schedule(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watchdog.observers, "Observer", Exhausted)
    root, store, rec, pipeline = make(tmp_path)
    assert any("polling" in e for e in rec.events)
    (root / "polled.txt").write_text("seen by polling")
    assert wait_for(lambda: rec.uploaded, timeout=10)
    pipeline.finish()


def test_abandon_records_what_was_still_waiting(tmp_path):
    root, store, rec, pipeline = make(tmp_path, store=SlowStore(tmp_path / "store", 1.0))
    for i in range(3):
        (root / f"f{i}").write_text(str(i))
    assert wait_for(lambda: rec.queue and rec.queue[-1][0] >= 3)
    time.sleep(0.7)
    report = pipeline.abandon()
    assert report.abandoned and set(report.abandoned) | {a.path for a in report.uploaded} >= {"f1", "f2"}


def test_abandoned_files_are_listed_in_natural_order(tmp_path):
    """The lost files of a move were listed as text sorts them: step-10 before step-6."""
    root, store, rec, pipeline = make(tmp_path, stability=30.0)  # nothing becomes stable: all wait
    for step in (10, 6, 9, 100):
        (root / f"step-{step}.pt").write_text(str(step))
    assert wait_for(lambda: len(pipeline.tracker.paths()) == 4)
    assert pipeline.abandon().abandoned == ["step-6.pt", "step-9.pt", "step-10.pt", "step-100.pt"]


def test_one_hundred_thousand_files(tmp_path):
    root = tmp_path / "artifacts"
    for d in range(100):
        folder = root / f"d{d:03}"
        folder.mkdir(parents=True)
        for f in range(1000):
            (folder / f"f{f:04}").write_bytes(b"%d" % f)
    store = LocalStore(tmp_path / "store")
    rec = Recorder()
    pipeline = ArtifactPipeline(root, "job-1", store, "FIFO", rec.event, rec.upload, PipelineSettings())
    pipeline.start()
    report = pipeline.finish()
    assert len(report.uploaded) == 100_000 and not report.failed
    assert len(store.list("jobs/job-1/")) == 100_000


def test_small_files_are_stored_without_a_snapshot_file(tmp_path):
    """Small files are snapshotted in memory: storing them works even where no snapshot file can be
    made (here the snapshot folder is a plain file), and nothing is left behind."""
    store = LocalStore(tmp_path / "store")
    store.snapshot_dir.rmdir()
    store.snapshot_dir.write_bytes(b"not a folder")
    root, _, rec, pipeline = make(tmp_path, store=store)
    files = {f"f{i}.txt": os.urandom(4096) for i in range(20)}
    for name, data in files.items():
        (root / name).write_bytes(data)
    report = pipeline.finish()
    assert not report.failed and sorted(a.path for a in report.uploaded) == sorted(files)
    for name, data in files.items():
        out = tmp_path / "back"
        store.get_to(f"jobs/job-1/artifacts/{name}", out)
        assert out.read_bytes() == data


def test_large_files_go_to_s3_in_place_byte_for_byte(tmp_path, s3_host):
    from emulator.blobs import S3Store

    store = S3Store(s3_host, "inplace-bucket", tmp_path / "snap")
    root, _, rec, pipeline = make(tmp_path, store=store)
    data = os.urandom(20 * 1024 * 1024 + 123)  # over the in-place threshold, several parts
    (root / "model.bin").write_bytes(data)
    report = pipeline.finish()
    assert [a.size for a in report.uploaded] == [len(data)]
    out = tmp_path / "back.bin"
    store.get_to("jobs/job-1/artifacts/model.bin", out)
    assert out.read_bytes() == data
    assert list((tmp_path / "snap").iterdir()) == []  # no private copy was made


def test_a_large_file_written_during_its_upload_is_never_stored_torn(tmp_path, s3_host):
    from emulator.blobs import S3Store

    class WriterDuringUpload(S3Store):
        calls = 0

        def put_in_place(self, key, path, size, still_same):
            WriterDuringUpload.calls += 1
            if WriterDuringUpload.calls == 1:
                with open(root / "ckpt.bin", "ab") as f:  # the job appends while the first upload runs
                    f.write(b"tail")
            return super().put_in_place(key, path, size, still_same)

    store = WriterDuringUpload(s3_host, "torn-bucket", tmp_path / "snap")
    root, _, rec, pipeline = make(tmp_path, store=store)
    data = os.urandom(10 * 1024 * 1024)
    (root / "ckpt.bin").write_bytes(data)
    report = pipeline.finish()
    assert WriterDuringUpload.calls == 2 and [a.size for a in report.uploaded] == [len(data) + 4]
    out = tmp_path / "back.bin"
    store.get_to("jobs/job-1/artifacts/ckpt.bin", out)
    assert out.read_bytes() == data + b"tail"


def test_watchdogs_warning_about_a_new_folders_watch_added_twice_stays_off_the_terminal(tmp_path):
    """watchdog warns (a repr of the whole watch, kilobytes on one line) when a new folder's watch
    is added twice, a race of its creation event and its parent's scan that it handles by reusing
    the watch; a job writing many nested folders printed it on the user's stderr. Other warnings
    still show."""
    import warnings

    from watchdog.observers.inotify_c import InotifyConstants, InotifyFD

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        root, store, rec, pipeline = make(tmp_path)
        inotify, folder = InotifyFD.get_instance(), os.fsencode(tmp_path)
        for _ in range(2):  # the race, on purpose: the same watch and callback id added twice
            wd = inotify.add_callback(folder, InotifyConstants.IN_CREATE, lambda event: None, "twice")
        inotify.remove_callbacks([(wd, "twice")])
        warnings.warn("another runtime warning", RuntimeWarning)
        (root / "a" / "b").mkdir(parents=True)
        (root / "a" / "b" / "f.txt").write_bytes(b"x")
        assert wait_for(lambda: rec.uploaded)
        pipeline.finish()
    shown = [str(w.message) for w in caught]
    assert shown == ["another runtime warning"], shown
