"""Races a hostile or unlucky job can make at the exact moment the uploader reaches a step (found
by a report-only review in the tenth session, each reproduced here first): a wrapper around the
function the uploader calls next does the job's move at that moment, so each race is
deterministic. Real files and the real local store; no engine."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

import emulator.artifacts.files as files_module
import emulator.artifacts.upload as upload_module
from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.blobs import SMALL_SNAPSHOT, LocalStore
from emulator.models import Artifact
from emulator.rules.stability import Stable

SIZES = {"in memory": 100, "snapshot file": SMALL_SNAPSHOT + 4096}


def make_pipeline(tmp_path: Path, store=None):
    root = tmp_path / "artifacts"
    root.mkdir(exist_ok=True)
    stored: list[Artifact] = []
    events: list[str] = []
    pipeline = ArtifactPipeline(root, "job-1", store or LocalStore(tmp_path / "store"), "FIFO", events.append,
                                stored.extend, PipelineSettings(stability=0.05, retries=2, backoff=0.01))
    return pipeline, stored, events


def link_job(tmp_path):
    """A pipeline over the folder tmp_path/artifacts (made if missing): (folder, pipeline, stored
    records, events, store)."""
    root = tmp_path / "artifacts"
    root.mkdir(exist_ok=True)
    store = LocalStore(tmp_path / "store")
    stored, events = [], []
    pipeline = ArtifactPipeline(root, "job-1", store, "FIFO", events.append, stored.extend,
                                PipelineSettings(stability=0.05, retries=2, backoff=0.01))
    return root, pipeline, stored, events, store


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def fetched(store, tmp_path: Path, rel: str) -> bytes:
    """The stored bytes of the job's file `rel`."""
    store.get_to(f"jobs/job-1/artifacts/{rel}", tmp_path / "check.bin")
    return (tmp_path / "check.bin").read_bytes()


def stored_bytes(store_root: Path) -> bytes:
    return b"".join(p.read_bytes() for folder in ("blobs", "packs") for p in (store_root / folder).rglob("*")
                    if p.is_file())


@pytest.mark.parametrize("how", SIZES)
def test_a_folder_swapped_for_a_link_to_a_host_folder_while_a_file_is_read_never_stores_the_host_file(
        tmp_path, monkeypatch, how):
    """O_NOFOLLOW guards only a path's last part: a job that swaps `sub` for a link to a host folder
    between the uploader's resolving of the path and its open, and back before the check after
    the read, had the host file's bytes stored as its artifact."""
    size = SIZES[how]
    pipeline, stored, _events = make_pipeline(tmp_path)
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.txt").write_bytes(b"HOST SECRET " * (size // 12 + 1))
    sub = pipeline.root / "sub"
    sub.mkdir()
    own = b"the job's own bytes " * (size // 20 + 1)
    (sub / "secret.txt").write_bytes(own)
    name = "read_small" if how == "in memory" else "snapshot_file"
    real = getattr(upload_module, name)
    swaps = []

    def swapping(source, *args, **kwargs):
        if not swaps:  # the first read only: the retry that follows finds the folder back in place
            swaps.append(source)
            os.rename(sub, pipeline.root / "sub.real")
            os.symlink(host, sub)
            try:
                return real(source, *args, **kwargs)
            finally:
                os.unlink(sub)
                os.rename(pipeline.root / "sub.real", sub)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(upload_module, name, swapping)
    pipeline.start()
    pipeline.finish()
    assert swaps, "the race was not reached"
    assert b"HOST" not in stored_bytes(tmp_path / "store")
    assert {a.path: a.sha256 for a in stored} == {"sub/secret.txt": hashlib.sha256(own).hexdigest()}


@pytest.mark.parametrize("how", SIZES)
def test_a_file_swapped_for_a_fifo_before_its_open_never_hangs_the_job_end(tmp_path, monkeypatch, how):
    """The uploader judges a file stable, then opens it: a FIFO renamed over it in between blocked
    that open for ever (no writer), and finish() waits for the upload in flight. The swap comes
    right before the read (after the lstat of the path, where one is made)."""
    pipeline, _stored, _events = make_pipeline(tmp_path)
    target = pipeline.root / "a.bin"
    target.write_bytes(b"x" * SIZES[how])
    name = "read_small" if how == "in memory" else "snapshot_file"
    real = getattr(upload_module, name)
    swapped = []

    def then_swap(source, *args, **kwargs):
        if os.fspath(source).endswith("a.bin") and not swapped:
            swapped.append(source)
            os.mkfifo(pipeline.root / "fifo")
            os.rename(pipeline.root / "fifo", target)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(upload_module, name, then_swap)
    pipeline.start()
    ended = threading.Event()
    threading.Thread(target=lambda: (pipeline.finish(), ended.set()), daemon=True).start()
    try:
        assert ended.wait(10), "finish() still waits: the uploader is blocked opening a FIFO"
    finally:
        if not ended.is_set():  # unblock the uploader so the test process can end
            os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
    assert swapped


class FlakyLogStore:
    """append_logs fails `failures` times first (sqlite busy past its timeout, a full disk)."""

    def __init__(self, failures: int) -> None:
        self.lines: list[str] = []
        self.failures = failures

    def append_logs(self, job_id, records):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")
        self.lines += [text for _ts, _stream, text in records]

    def record_log_backlog(self, job_id, waiting):
        pass


def test_a_log_shipment_that_fails_keeps_its_lines_and_the_shipper_goes_on():
    """ship() took the buffer before append_logs: when that raised, the batch was gone, and the
    shipper's thread died with it (no later line shipped until the job's end)."""

    from emulator.logship import LogShipper
    from emulator.models import Stream

    store = FlakyLogStore(failures=1)
    shipper = LogShipper(store, 1, sink=lambda *record: None, cadence=0.05)
    shipper.keep([(time.time_ns(), Stream.STDOUT, "line 1")])
    deadline = time.monotonic() + 10
    while store.failures and time.monotonic() < deadline:  # a shipment ran, and failed
        time.sleep(0.01)
    shipper.keep([(time.time_ns(), Stream.STDOUT, "line 2")])
    while store.lines != ["line 1", "line 2"] and time.monotonic() < deadline:  # shipped by the thread, not close()
        time.sleep(0.05)
    assert store.lines == ["line 1", "line 2"]
    shipper.close()


def test_the_last_shipment_at_the_job_end_is_tried_again_before_it_fails():

    from emulator.logship import LogShipper
    from emulator.models import Stream

    store = FlakyLogStore(failures=2)
    shipper = LogShipper(store, 1, sink=lambda *record: None, cadence=600)
    shipper.keep([(time.time_ns(), Stream.STDOUT, "the last line")])
    shipper.close()
    assert store.lines == ["the last line"]


def test_a_queue_record_that_fails_neither_stops_the_watcher_nor_fails_the_job(tmp_path):
    """The ticker records the queued files for `cycle job status`; when that write raised, the
    watcher's thread stopped: nothing more was queued until the job's end, which ended FAILED."""

    root = tmp_path / "artifacts"
    root.mkdir()
    stored: list[Artifact] = []
    events: list[str] = []
    failures = [1]

    def on_queue(change, warning):
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("database is locked")

    # a window longer than the record's period (QUEUE_RECORD_SECONDS): each file is recorded queued
    pipeline = ArtifactPipeline(root, "job-1", LocalStore(tmp_path / "store"), "FIFO", events.append, stored.extend,
                                PipelineSettings(stability=0.6), on_queue=on_queue)
    pipeline.start()
    (root / "first.txt").write_text("one")
    deadline = time.monotonic() + 10
    while failures[0] and time.monotonic() < deadline:  # the record of first.txt queued failed
        time.sleep(0.02)
    assert not failures[0]
    (root / "second.txt").write_text("two")
    deadline = time.monotonic() + 10
    while len(stored) < 2 and time.monotonic() < deadline:  # stored while the job runs: the ticker queued it
        time.sleep(0.02)
    assert sorted(a.path for a in stored) == ["first.txt", "second.txt"], events
    report = pipeline.finish()
    assert report.failure is None
    assert sum("upload queue could not be recorded" in event for event in events) == 1


def stored(path: str, uploaded_ns: int) -> Artifact:
    return Artifact(path=path, key=f"jobs/job-1/artifacts/{path}", size=1, sha256="0" * 64, mtime_ns=0,
                    uploaded_ns=uploaded_ns)


def test_the_newest_tree_keeps_the_newer_of_a_file_and_a_folder_of_the_same_name():
    from cycle.api.tree import newest_tree

    became_folder = [stored("ckpt", 1), stored("ckpt/step-1", 2), stored("ckpt/step-2", 3), stored("notes", 4)]
    kept, superseded = newest_tree(became_folder)
    assert [a.path for a in kept] == ["ckpt/step-1", "ckpt/step-2", "notes"]
    assert [a.path for a in superseded] == ["ckpt"]
    became_file = [stored("run/a/x", 1), stored("run/b", 2), stored("run", 3), stored("runs", 4)]
    kept, superseded = newest_tree(became_file)
    assert [a.path for a in kept] == ["run", "runs"]  # "runs" is no folder of "run"
    assert [a.path for a in superseded] == ["run/a/x", "run/b"]
    deep = [stored("a/b/c", 2), stored("a/b", 1)]  # the file a/b, then the folder a/b/ over it
    assert [a.path for a in newest_tree(deep)[0]] == ["a/b/c"]


def test_a_moved_job_whose_file_became_a_folder_is_restored_as_its_newest_tree(tmp_path):
    """Storage keeps a deleted file (the spec), so a job that replaced the file `ckpt` by a folder
    `ckpt/` has records for both; the restore wrote them in path order, and `ckpt/step-1` then
    needed a folder where the file was: the move failed the job (AGENT_ERROR)."""
    from types import SimpleNamespace

    from emulator.job.move import RecoveryStrategy

    store = LocalStore(tmp_path / "store")
    records = []
    for path, body in (("ckpt", b"old single file"), ("ckpt/step-1", b"step one")):
        sha = hashlib.sha256(body).hexdigest()
        store.put_bytes(f"jobs/job-1/artifacts/{path}", body, sha)
        records.append(Artifact(path=path, key=f"jobs/job-1/artifacts/{path}", size=len(body), sha256=sha,
                                mtime_ns=0, uploaded_ns=len(records) + 1, store="local"))
    events: list[str] = []
    ctx = SimpleNamespace(
        home=tmp_path / "home", blobs=store, job=SimpleNamespace(id=1, name="job-1"), event=events.append,
        settings=SimpleNamespace(restore_attempts=1, restore_backoff_seconds=0.0),
        store=SimpleNamespace(artifacts=lambda job_id: sorted(records, key=lambda a: a.path)))
    restored, _seconds = RecoveryStrategy(ctx, sleep=lambda s: None).restore("local-1")
    assert sorted(restored) == ["ckpt/step-1"]
    assert any("1 stored file(s) not restored" in event and "ckpt" in event for event in events)


class SlowStore(LocalStore):
    """A real local store whose snapshot puts take `delay` seconds (a multi-GB checkpoint, a slow server)."""

    def __init__(self, root, delay: float) -> None:
        super().__init__(root)
        self.delay = delay
        self.started = threading.Event()
        self.finished = threading.Event()

    def put_snapshot(self, key, snapshot, sha256, size):
        self.started.set()
        time.sleep(self.delay)
        super().put_snapshot(key, snapshot, sha256, size)
        self.finished.set()


def test_an_upload_still_running_when_the_move_gives_up_on_it_is_never_recorded_after(tmp_path, monkeypatch):
    """abandon() waits for the upload in flight at most 60 s (shortened here): one still running
    then went on after the move listed its file as lost and B restored from the records, and
    its record was written later, contradicting the move (and landing after B's own records)."""

    real_join = threading.Thread.join
    monkeypatch.setattr(threading.Thread, "join", lambda self, timeout=None: real_join(self, min(timeout or 0.3, 0.3)))
    store = SlowStore(tmp_path / "store", delay=1.0)
    pipeline, stored, _events = make_pipeline(tmp_path, store)
    (pipeline.root / "ckpt.pt").write_bytes(os.urandom(SMALL_SNAPSHOT + 4096))  # a snapshot file: put_snapshot
    pipeline.start()
    assert store.started.wait(10)
    pipeline.abandon()
    assert "ckpt.pt" in pipeline.unstored()  # what the move lists as lost
    recorded = [a.path for a in stored]
    assert store.finished.wait(10)
    time.sleep(0.3)  # the uploader's record step, were it to run
    assert [a.path for a in stored] == recorded == []


class SlowInPlaceStore(LocalStore):
    """A store that sends large files from where they are (as S3Store does), slowly; it asks
    still_same() before completing, as S3Store.put_in_place does before its last request."""

    in_place_threshold = 1024

    def __init__(self, root) -> None:
        super().__init__(root)
        self.started = threading.Event()
        self.answers: list[bool] = []

    def put_in_place(self, key, source, size, still_same):

        self.started.set()
        time.sleep(1.0)
        self.answers.append(still_same())
        from emulator.blobs import FileChanged

        if not self.answers[-1]:
            raise FileChanged(key)
        return hashlib.sha256(source.read()).hexdigest()


def test_an_in_place_upload_cut_off_by_the_move_is_not_completed(tmp_path, monkeypatch):
    real_join = threading.Thread.join
    monkeypatch.setattr(threading.Thread, "join", lambda self, timeout=None: real_join(self, min(timeout or 0.3, 0.3)))
    store = SlowInPlaceStore(tmp_path / "store")
    pipeline, stored, _events = make_pipeline(tmp_path, store)
    (pipeline.root / "big.bin").write_bytes(os.urandom(4096))
    pipeline.start()
    assert store.started.wait(10)
    pipeline.abandon()
    deadline = time.monotonic() + 10
    while not store.answers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.answers == [False] and stored == []


def test_a_manifest_line_cut_short_by_a_full_disk_costs_no_later_line(tmp_path, monkeypatch):
    """The manifest's write ignored a short count: the partial line merged with the next one and
    both became unreadable, so a stored file dropped out of the store's listing (and of what a
    sweep counts as referenced)."""
    import emulator.blobs as blobs

    store = LocalStore(tmp_path / "store")
    real_write = os.write
    short = [True]

    def write(fd, data):
        if short[0] and os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
            short[0] = False
            return real_write(fd, bytes(data)[: len(data) // 2])  # the disk took half
        return real_write(fd, data)

    monkeypatch.setattr(blobs.os, "write", write)
    body = b"first"
    with pytest.raises(OSError):
        store.put_bytes("jobs/job-1/artifacts/first", body, hashlib.sha256(body).hexdigest())
    for name in ("second", "third"):
        store.put_bytes(f"jobs/job-1/artifacts/{name}", name.encode(), hashlib.sha256(name.encode()).hexdigest())
    assert [o.key for o in store.list("jobs/job-1/")] == ["jobs/job-1/artifacts/second", "jobs/job-1/artifacts/third"]
    again = LocalStore(tmp_path / "store")  # another process finds the manifest ending inside a line
    with (tmp_path / "store" / "manifests" / "jobs" / "job-1.jsonl").open("ab") as manifest:
        manifest.write(b'{"key": "art')
    again.put_bytes("jobs/job-1/artifacts/fourth", b"4", hashlib.sha256(b"4").hexdigest())
    assert "jobs/job-1/artifacts/fourth" in [o.key for o in again.list("jobs/job-1/")]


def test_a_rewrite_that_keeps_size_and_mtime_is_stored_again(tmp_path):
    """`cp -p`, `rsync -t`, `tar x` or `touch -r` write new bytes with the old size and mtime: a
    signature of (size, mtime_ns) took the file for the version already stored, and storage kept
    the old bytes for good."""
    pipeline, stored, _events = make_pipeline(tmp_path)
    path = pipeline.root / "metrics.json"
    path.write_bytes(b'{"loss": 0.50}')
    kept = os.stat(path)
    pipeline.start()
    deadline = time.monotonic() + 10
    while not stored and time.monotonic() < deadline:
        time.sleep(0.02)
    path.write_bytes(b'{"loss": 0.25}')  # same size
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))  # and the old mtime, as cp -p keeps it
    pipeline.finish()
    assert [a.sha256 for a in stored] == [hashlib.sha256(b'{"loss": 0.50}').hexdigest(),
                                          hashlib.sha256(b'{"loss": 0.25}').hexdigest()]


def test_a_move_within_the_grace_period_stores_the_files_written_last(tmp_path):
    """drain_until: the container exited early in its grace period; the files it wrote last (not
    yet stable for 500 ms) are stored in the time left, as at a job's end, not lost with A."""
    root = tmp_path / "artifacts"
    root.mkdir()
    stored: list[Artifact] = []
    pipeline = ArtifactPipeline(root, "job-1", LocalStore(tmp_path / "store"), "FIFO", lambda e: None, stored.extend,
                                PipelineSettings(stability=30))  # no file would be stable in time
    pipeline.start()
    (root / "emergency.ckpt").write_bytes(b"saved on SIGTERM")
    assert pipeline.drain_until(time.monotonic() + 10)
    report = pipeline.abandon()
    assert [a.path for a in stored] == ["emergency.ckpt"] and report.abandoned == []


def test_the_grace_period_ending_first_leaves_the_rest_to_the_move(tmp_path):
    store = SlowStore(tmp_path / "store", delay=0.5)
    root = tmp_path / "artifacts"
    root.mkdir()
    stored: list[Artifact] = []
    pipeline = ArtifactPipeline(root, "job-1", store, "FIFO", lambda e: None, stored.extend,
                                PipelineSettings(stability=30))
    for name in ("a.ckpt", "b.ckpt", "c.ckpt"):
        (root / name).write_bytes(os.urandom(SMALL_SNAPSHOT + 1))  # snapshot files: the slow put
    pipeline.start()
    started = time.monotonic()
    assert not pipeline.drain_until(started + 0.2)
    assert time.monotonic() - started < 1.0  # it stopped waiting at the deadline, mid-upload
    report = pipeline.abandon()  # the upload in flight finishes; the rest is lost with the machine
    assert [a.path for a in stored] == ["a.ckpt"] and report.abandoned == ["b.ckpt", "c.ckpt"]


def test_a_link_to_a_folder_is_not_listed_as_lost_with_the_machine(tmp_path):
    """A user test: a move's lost files named `checkpoints/latest`, a link to a folder, which is
    never stored (its folder's files are), so it cannot be lost."""
    root = tmp_path / "artifacts"
    (root / "checkpoints" / "step-2").mkdir(parents=True)
    pipeline = ArtifactPipeline(root, "job-1", LocalStore(tmp_path / "store"), "FIFO", lambda e: None,
                                lambda artifacts: None, PipelineSettings(stability=30))
    pipeline.start()
    (root / "checkpoints" / "step-2" / "weights.bin").write_bytes(b"w")
    (root / "checkpoints" / "latest").symlink_to("step-2")
    (root / "out").symlink_to("/etc/hostname")
    (root / "best").symlink_to("checkpoints/step-2/weights.bin")
    deadline = time.monotonic() + 10
    while len(pipeline.tracker) < 4 and time.monotonic() < deadline:  # every event seen
        time.sleep(0.02)
    report = pipeline.abandon()
    assert report.abandoned == ["best", "checkpoints/step-2/weights.bin"]


@pytest.mark.parametrize("size", [100, SMALL_SNAPSHOT + 10], ids=["in memory", "snapshot file"])
def test_a_link_that_climbs_out_through_a_folder_link_and_back_follows_its_target_and_the_end_finishes(tmp_path,
                                                                                                      size):
    """`sub/../../x.bin`, through `sub` -> `deep/er`, is /artifacts/x.bin in the container (the
    kernel follows `sub` before its `..`). Judged by its text alone, the watcher never looked at
    its target: a reviewer's case hung the job's end, and a user test found it stored once, torn,
    and never again. Watcher and uploader now resolve it alike, as the container does: stored as
    x.bin's bytes, again when only x.bin changes, and the end returns."""
    root = tmp_path / "artifacts"
    (root / "deep" / "er").mkdir(parents=True)
    (root / "sub").symlink_to("deep/er")
    (root / "x.bin").write_bytes(b"x" * size)
    (root / "l.bin").symlink_to("sub/../../x.bin")
    (root / "ok.bin").symlink_to("deep/../x.bin")
    root, pipeline, stored, events, store = link_job(tmp_path)
    pipeline.start()
    wait_until(lambda: "l.bin" in [a.path for a in stored])
    (root / "x.bin").write_bytes(b"y" * size)  # only the target changes
    finished = []
    ending = threading.Thread(target=lambda: finished.append(pipeline.finish()), daemon=True)
    ending.start()
    ending.join(timeout=20)
    assert finished, "the job's end did not return"
    assert [a.path for a in stored].count("l.bin") == 2 and finished[0].skipped == ["sub"]  # (a link to a folder)
    assert all(fetched(store, tmp_path, rel) == b"y" * size for rel in ("l.bin", "ok.bin", "x.bin"))


def test_a_link_through_a_link_is_stored_again_when_the_link_between_is_pointed_elsewhere(tmp_path):
    """`latest.bin -> /artifacts/best.bin -> ckpt-1.bin`, then `ln -sfn ckpt-2.bin best.bin`: no
    event names latest.bin, and its target before did not change, so storage kept the old
    checkpoint under latest.bin until the job's end (a reviewer's case). The links passed on the
    way are remembered with the target: best.bin's event touches latest.bin while the job runs."""
    root, pipeline, stored, events, store = link_job(tmp_path)
    (root / "ckpt-1.bin").write_bytes(b"one")
    (root / "best.bin").symlink_to("ckpt-1.bin")
    (root / "latest.bin").symlink_to("/artifacts/best.bin")
    pipeline.start()
    latest = lambda: [a.size for a in stored if a.path == "latest.bin"]  # noqa: E731
    try:
        wait_until(lambda: latest() == [3])
        (root / "ckpt-2.bin").write_bytes(b"two!!")
        os.symlink("ckpt-2.bin", root / "best.tmp")
        os.rename(root / "best.tmp", root / "best.bin")  # as `ln -sfn` does
        assert wait_until(lambda: latest() == [3, 5])  # while the job runs, not at its end
    finally:
        pipeline.finish()
    assert fetched(store, tmp_path, "latest.bin") == b"two!!" and not events


def test_an_absolute_link_into_the_container_s_artifacts_is_stored_as_the_job_sees_it(tmp_path, monkeypatch):
    """`ln -s /artifacts/ckpt.bin /artifacts/latest.bin`, the usual way a job points at its newest
    checkpoint, names the job's own ckpt.bin (its container sees its folder at /artifacts): stored
    as that file's bytes, from a subfolder too, and again when only that file changes. It was
    skipped (a user test). The machine's own /artifacts (here a folder standing in for it, with
    another ckpt.bin) is never read; text that climbs out (`/artifacts/../x`) or reaches a file
    through a folder link out is skipped."""
    machine = tmp_path / "machine-artifacts"
    machine.mkdir()
    (machine / "ckpt.bin").write_bytes(b"the machine's own")
    monkeypatch.setattr(files_module, "CONTAINER_ARTIFACTS", str(machine))
    (tmp_path / "secret").write_bytes(b"host secret")
    root = tmp_path / "artifacts"
    (root / "sub").mkdir(parents=True)
    (root / "ckpt.bin").write_bytes(b"v1")
    (root / "latest.bin").symlink_to(f"{machine}/ckpt.bin")
    (root / "sub" / "latest.bin").symlink_to(f"{machine}/ckpt.bin")
    (root / "up.bin").symlink_to(f"{machine}/../secret")
    (root / "out").symlink_to(tmp_path)
    (root / "through.bin").symlink_to(f"{machine}/out/secret")
    root, pipeline, stored, events, store = link_job(tmp_path)
    pipeline.start()
    versions = lambda: [a.size for a in stored if a.path == "latest.bin"]  # noqa: E731
    wait_until(lambda: versions() == [2])
    (root / "ckpt.bin").write_bytes(b"v2 longer")  # only the target changes
    report = pipeline.finish()
    assert versions() == [2, 9]
    assert sorted(a.path for a in stored if a.size == 9) == ["ckpt.bin", "latest.bin", "sub/latest.bin"]
    assert fetched(store, tmp_path, "latest.bin") == fetched(store, tmp_path, "sub/latest.bin") == b"v2 longer"
    assert sorted(report.skipped) == ["out", "through.bin", "up.bin"]
    assert b"host secret" not in stored_bytes(tmp_path / "store")
    assert b"the machine's own" not in stored_bytes(tmp_path / "store")


@pytest.mark.parametrize("rel", ["step-1.pt", "ckpts/step-1.pt"])
def test_a_file_gone_before_its_upload_is_no_skip_and_no_event(tmp_path, rel):
    """A job keeping its last N checkpoints deletes one judged stable before the uploader reached
    it: a reviewer found it skipped as "reached through a link ... outside /artifacts", naming
    the machine's own path. Nothing is there: nothing to store, nothing to say."""
    root, pipeline, stored, events, _store = link_job(tmp_path)
    (root / "ckpts").mkdir()
    pipeline._upload_one(Stable(rel, (100, 1, 1), 1))
    assert not pipeline.report.skipped and not events and not stored


def test_a_link_made_before_its_target_is_stored_once_the_target_comes_while_the_job_runs(tmp_path):
    """`latest.bin -> ckpt-1.bin` made first: dangling when judged, it was forgotten, and stored
    only by the end's rescan. The part not there is remembered: its arrival touches the link."""
    root, pipeline, stored, events, _store = link_job(tmp_path)
    (root / "latest.bin").symlink_to("ckpt-1.bin")
    pipeline.start()
    try:
        wait_until(lambda: pipeline._settled.get("latest.bin"))  # judged while dangling
        (root / "ckpt-1.bin").write_bytes(b"one")
        assert wait_until(lambda: "latest.bin" in [a.path for a in stored]), events  # while the job runs
    finally:
        pipeline.finish()


def test_a_chain_leading_out_names_the_link_that_points_out(tmp_path):
    root, pipeline, stored, events, _store = link_job(tmp_path)
    (root / "best.bin").symlink_to("/etc/passwd")
    (root / "latest.bin").symlink_to("best.bin")
    pipeline.start()
    pipeline.finish()
    assert [e for e in events if "'latest.bin'" in e] == [
        "skipped artifact 'latest.bin': it leads through 'best.bin', a link to '/etc/passwd', outside /artifacts; "
        "links are never followed out"]
    assert not stored


def test_a_link_on_the_way_pointed_at_a_file_of_the_same_size_and_times_changes_the_link(tmp_path, monkeypatch):
    """Two checkpoints of one size written within one tick of a coarse clock (ext4 before Linux
    6.13) have equal (size, mtime, ctime): `ln -sfn b.bin best.bin` changed nothing in latest.bin's
    signature, so it was never stored again. The target's inode is part of it. (This kernel's
    clock is fine, so the stat of the two files gives them the same times here.)"""
    root = tmp_path / "artifacts"
    root.mkdir()
    for name in ("a.bin", "b.bin"):
        (root / name).write_bytes(b"same")
    twins = {os.stat(root / name).st_ino for name in ("a.bin", "b.bin")}
    real_fstat = os.fstat

    class SameTimes:
        def __init__(self, info: os.stat_result) -> None:
            self.st_mode, self.st_size, self.st_ino = info.st_mode, info.st_size, info.st_ino
            self.st_mtime_ns = self.st_ctime_ns = 1_700_000_000_000_000_000

    monkeypatch.setattr(files_module.os, "fstat",
                        lambda fd: SameTimes(info) if (info := real_fstat(fd)).st_ino in twins else info)
    (root / "best.bin").symlink_to("a.bin")
    (root / "latest.bin").symlink_to("best.bin")
    inside = f"{os.path.realpath(root)}/"
    before = files_module.signature_of(root / "latest.bin", inside)
    os.symlink("b.bin", root / "best.tmp")
    os.rename(root / "best.tmp", root / "best.bin")
    assert files_module.signature_of(root / "latest.bin", inside) != before


def test_a_link_made_again_at_the_same_file_each_epoch_is_stored_once(tmp_path):
    """`ln -sfn ckpt-1.bin best.bin` every epoch while the best stays at epoch 1 stored best.bin
    again each time, the same bytes, which a drill read as a restored checkpoint rewritten (a
    false FAIL in a user test). A link's signature is its target's alone (with its inode)."""
    root, pipeline, stored, events, _store = link_job(tmp_path)
    (root / "ckpt-1.bin").write_bytes(b"best")
    (root / "best.bin").symlink_to("ckpt-1.bin")
    pipeline.start()
    try:
        wait_until(lambda: "best.bin" in [a.path for a in stored])
        for epoch in range(3):
            os.symlink("ckpt-1.bin", root / "best.tmp")
            os.rename(root / "best.tmp", root / "best.bin")
            (root / f"epoch-{epoch}.log").write_bytes(b"x")
            wait_until(lambda: f"epoch-{epoch}.log" in [a.path for a in stored])  # after best.bin's event: FIFO
    finally:
        pipeline.finish()
    assert [a.path for a in stored].count("best.bin") == 1


def test_a_link_still_dangling_at_the_end_or_to_a_fifo_is_named_others_are_not(tmp_path):
    """A user test found these skipped in silence: `ln -s never.pt dang`, whose target never came,
    and a link to a FIFO. A link whose target came, or that the job removed, says nothing."""
    root, pipeline, stored, events, _store = link_job(tmp_path)
    (root / "dang").symlink_to("never.pt")
    (root / "came").symlink_to("later.pt")
    (root / "removed").symlink_to("nothing.pt")
    (root / "file.pt").write_bytes(b"f")
    (root / "slash").symlink_to("file.pt/")  # the kernel's ENOTDIR: never followed
    os.mkfifo(root / "fifo")
    (root / "fifolink").symlink_to("fifo")
    pipeline.start()
    wait_until(lambda: len(pipeline._dangling) == 4)  # each judged while dangling
    (root / "later.pt").write_bytes(b"came")
    (root / "removed").unlink()
    report = pipeline.finish()
    assert sorted(a.path for a in stored) == ["came", "file.pt", "later.pt"]
    assert sorted(report.skipped) == ["dang", "fifolink", "slash"]
    assert [e for e in events if "skipped" in e] == [
        "skipped artifact 'fifolink': it is a link to 'fifo', which is no regular file (a FIFO, a socket or a "
        "device): nothing to store",
        "skipped artifact 'dang': it is a link to 'never.pt', which is not there at the job's end (a dangling link)",
        "skipped artifact 'slash': it is a link to 'file.pt/', which names the file 'file.pt' as a folder"]


def test_the_resolver_never_looks_through_a_folder_that_is_a_link_now(tmp_path):
    """A job swaps a folder on a link's way for a link to a host folder after the resolver judged
    it a folder: each look goes folder by folder from the job's folder with O_NOFOLLOW, so the
    host folder is not looked into (by path, lstat followed the swapped folder)."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "x.bin").write_bytes(b"host")
    root = tmp_path / "artifacts"
    root.mkdir()
    (root / "d").symlink_to(host)
    assert files_module._look_at(f"{root}/", "d/x.bin") is None
    assert files_module._look_at(f"{root}/", "d") == ("link", str(host))


def test_a_restore_gives_each_file_the_modified_time_the_job_gave_it(tmp_path):
    """A restore wrote in path order, so the newest checkpoint by mtime was the last path restored
    (step-9.pt over step-30.pt): a job resuming by mtime went back 21 steps without a word."""
    from types import SimpleNamespace

    from emulator.artifacts.files import stat_signature
    from emulator.job.move import RecoveryStrategy

    store = LocalStore(tmp_path / "store")
    written = {"ckpt/step-30.pt": 1_700_000_300_000_000_007, "ckpt/step-9.pt": 1_700_000_009_000_000_000}
    records = []
    for path, mtime in written.items():
        body = path.encode()
        sha = hashlib.sha256(body).hexdigest()
        store.put_bytes(f"jobs/job-1/artifacts/{path}", body, sha)
        records.append(Artifact(path=path, key=f"jobs/job-1/artifacts/{path}", size=len(body), sha256=sha,
                                mtime_ns=mtime, uploaded_ns=mtime + 1, store="local"))
    ctx = SimpleNamespace(
        home=tmp_path / "home", blobs=store, job=SimpleNamespace(id=1, name="job-1"), event=lambda text: None,
        settings=SimpleNamespace(restore_attempts=1, restore_backoff_seconds=0.0),
        store=SimpleNamespace(artifacts=lambda job_id: records))
    restored, _seconds = RecoveryStrategy(ctx, sleep=lambda s: None).restore("local-1")
    folder = tmp_path / "home" / "machines" / "local-1" / "artifacts" / "job-1"
    assert {path: os.stat(folder / path).st_mtime_ns for path in written} == written
    assert all(restored[path][0] == stat_signature(os.lstat(folder / path)) for path in written)  # known as stored


@pytest.mark.parametrize("how", SIZES)
def test_a_file_written_between_its_open_and_its_read_is_stored_as_the_version_read(tmp_path, monkeypatch, how):
    """The check after the read (fstat of the open file for a small one, an lstat of its path for a
    snapshot file) sees the write: the version stored carries the size and time of the bytes
    stored, never the ones judged stable before the write."""
    pipeline, stored, _events = make_pipeline(tmp_path)
    target = pipeline.root / "metrics.json"
    target.write_bytes(b"v1" * (SIZES[how] // 2))
    real_open = upload_module.open_inside
    written = []

    def writing_meanwhile(path, inside):
        opened = real_open(path, inside)
        if not written:
            written.append(path)
            with open(target, "ab") as f:
                f.write(b"+v2")
            os.utime(target, ns=(time.time_ns() + 10**9,) * 2)  # a later time even on a coarse clock
        return opened

    monkeypatch.setattr(upload_module, "open_inside", writing_meanwhile)
    pipeline.start()
    pipeline.finish()
    assert written, "the race was not reached"
    final = target.read_bytes()
    assert [(a.sha256, a.size, a.mtime_ns) for a in stored] == [
        (hashlib.sha256(final).hexdigest(), len(final), target.stat().st_mtime_ns)]
