"""Large files' snapshots made ahead of their upload (emulator/artifacts/snapshot_ahead.py): the
local store still keeps each file's whole bytes under their own sha256, in the queue's order, and
no snapshot is left behind."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import emulator.artifacts.upload as upload_module
from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.artifacts.snapshot_ahead import Prepared, SnapshotAhead
from emulator.blobs import PARALLEL_COPY, LocalStore
from emulator.models import Artifact
from emulator.rules.stability import Stable


def make_pipeline(tmp_path: Path, order: str = "FIFO"):
    root = tmp_path / "artifacts"
    root.mkdir()
    store = LocalStore(tmp_path / "store")
    stored: list[Artifact] = []
    pipeline = ArtifactPipeline(root, "job-1", store, order, lambda event: None, stored.extend,
                                PipelineSettings(stability=0.05, retries=2, backoff=0.01))
    return pipeline, store, stored


def write_large(root: Path, names: list[str]) -> dict[str, bytes]:
    written = {}
    for n, name in enumerate(names):
        written[name] = os.urandom(PARALLEL_COPY + 4096 * n)
        (root / name).write_bytes(written[name])
    return written


def stored_as(store: LocalStore, artifact: Artifact, tmp_path: Path) -> bytes:
    dest = tmp_path / "pulled" / artifact.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    store.get_to(artifact.key, dest)  # checks the sha256 of what it reads
    return dest.read_bytes()


def count_takes(monkeypatch) -> list[tuple[str, bool]]:
    used: list[tuple[str, bool]] = []
    take = SnapshotAhead.take

    def counted(self, item):
        prepared = take(self, item)
        used.append((item.path, prepared is not None))
        return prepared

    monkeypatch.setattr(SnapshotAhead, "take", counted)
    return used


def test_large_files_snapshot_ahead_are_stored_whole_with_their_own_hash_in_order(tmp_path, monkeypatch):
    pipeline, store, stored = make_pipeline(tmp_path)
    names = ["a.ckpt", "b.ckpt", "c.ckpt", "d.ckpt"]
    written = write_large(pipeline.root, names)
    used = count_takes(monkeypatch)
    pipeline.start()
    pipeline.finish()
    assert [a.path for a in stored] == names  # FIFO: the order they were written
    for artifact in stored:
        assert artifact.sha256 == hashlib.sha256(written[artifact.path]).hexdigest()
        assert stored_as(store, artifact, tmp_path) == written[artifact.path]
    assert any(ready for _, ready in used), f"no upload used a snapshot made ahead: {used}"
    assert list(store.snapshot_dir.iterdir()) == []


def test_a_file_rewritten_after_its_snapshot_was_made_ahead_is_stored_as_each_whole_version(tmp_path, monkeypatch):
    """The rewrite keeps the size and the mtime (cp -p): the version snapshot ahead is stored whole
    with its own hash, and the new one after it, never a mix of the two."""
    pipeline, store, stored = make_pipeline(tmp_path)
    written = write_large(pipeline.root, ["a.ckpt", "b.ckpt"])
    target = pipeline.root / "b.ckpt"
    new = os.urandom(len(written["b.ckpt"]))
    quietly = upload_module.Uploading._snapshot_quietly
    rewritten = []

    def rewriting_after(self, item):
        prepared = quietly(self, item)
        if item.path == "b.ckpt" and not rewritten:
            kept = os.stat(target)
            target.write_bytes(new)
            os.utime(target, ns=(kept.st_atime_ns, kept.st_mtime_ns))
            rewritten.append(prepared)
        return prepared

    monkeypatch.setattr(upload_module.Uploading, "_snapshot_quietly", rewriting_after)
    pipeline.start()  # the job runs on: the watcher sees the rewrite
    deadline, new_sha = time.monotonic() + 20, hashlib.sha256(new).hexdigest()
    while not any(a.sha256 == new_sha for a in stored) and time.monotonic() < deadline:
        time.sleep(0.02)
    pipeline.finish()
    assert rewritten and rewritten[0] is not None, "b.ckpt's snapshot was not made ahead"
    versions = [a.sha256 for a in stored if a.path == "b.ckpt"]
    assert versions[-1] == hashlib.sha256(new).hexdigest()
    assert set(versions) <= {hashlib.sha256(written["b.ckpt"]).hexdigest(), hashlib.sha256(new).hexdigest()}
    for artifact in stored:  # each version's blob (the key now names the newest)
        assert hashlib.sha256(store._blob(artifact.sha256).read_bytes()).hexdigest() == artifact.sha256
    assert stored_as(store, stored[-1], tmp_path) == new
    assert list(store.snapshot_dir.iterdir()) == []


def test_a_snapshot_is_given_only_for_its_version_and_none_is_left_behind(tmp_path):
    made = tmp_path / "snap"
    made.write_bytes(b"x")

    def make(item: Stable) -> Prepared:
        path = tmp_path / f"snap-{item.seq}"
        path.write_bytes(b"x")
        return Prepared(item.signature, path, "0" * 64, 1)

    ahead = SnapshotAhead(make)
    first = Stable("a.ckpt", (1, 1, 1), 1)
    ahead.start(first)
    newer = Stable("a.ckpt", (1, 2, 2), 2)
    assert ahead.take(newer) is None  # made for the older version: deleted
    assert not (tmp_path / "snap-1").exists()
    ahead.start(newer)
    assert ahead.take(newer).snapshot == tmp_path / "snap-2"
    ahead.start(Stable("b.ckpt", (1, 3, 3), 3))
    while (running := ahead._running) is not None and running[1].is_alive():
        running[1].join()
    ahead.close()  # the pipeline stopped: the ready snapshot goes
    assert not (tmp_path / "snap-3").exists()
    ahead.start(Stable("c.ckpt", (1, 4, 4), 4))  # after close: none is made
    assert not (tmp_path / "snap-4").exists()


def test_a_snapshot_finished_after_the_pipeline_stopped_is_deleted(tmp_path):
    go = threading.Event()

    def make(item: Stable) -> Prepared:
        go.wait(5)
        path = tmp_path / "late"
        path.write_bytes(b"x")
        return Prepared(item.signature, path, "0" * 64, 1)

    ahead = SnapshotAhead(make)
    ahead.start(Stable("a.ckpt", (1, 1, 1), 1))
    ahead.close()
    go.set()
    ahead._running[1].join()
    assert not (tmp_path / "late").exists()


def test_a_moved_job_leaves_no_snapshot_made_ahead(tmp_path, monkeypatch):
    pipeline, store, stored = make_pipeline(tmp_path)
    write_large(pipeline.root, [f"{n}.ckpt" for n in range(8)])
    used = count_takes(monkeypatch)
    pipeline.start()
    deadline = time.monotonic() + 20
    while not used and time.monotonic() < deadline:
        time.sleep(0.01)
    pipeline.abandon()  # the machine went: files made ahead and not stored must not stay on disk
    ahead = pipeline._snapshot_ahead
    if ahead._running is not None:
        ahead._running[1].join()
    assert used and list(store.snapshot_dir.iterdir()) == []


def test_a_file_rewritten_after_its_snapshot_was_made_ahead_at_the_job_s_end_is_stored_as_its_last_version(
        tmp_path):
    """A checkpoint saved on SIGTERM, then the job's end: the write's event may not reach the
    watcher before it stops (modelled by stopping it first), and the end's rescan passes over a
    file still queued. The snapshot made ahead of the old version must not be stored for it."""
    pipeline, store, stored = make_pipeline(tmp_path)
    root = pipeline.root
    (root / "big.bin").write_bytes(os.urandom(16 * PARALLEL_COPY))
    os.utime(root / "big.bin", ns=(10**18, 10**18))
    v1, v2 = os.urandom(PARALLEL_COPY), os.urandom(PARALLEL_COPY)
    (root / "x.ckpt").write_bytes(v1)
    os.utime(root / "x.ckpt", ns=(2 * 10**18, 2 * 10**18))  # after big.bin in FIFO
    pipeline.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ahead = pipeline.__dict__.get("_snapshot_ahead")
        if ahead is not None and "x.ckpt" in ahead._ready:
            break
        time.sleep(0.0005)
    else:
        raise AssertionError("x.ckpt's snapshot was not made ahead while big.bin was stored")
    pipeline._stop_observer()
    with open(root / "x.ckpt", "r+b") as f:
        f.write(v2)
    report = pipeline.finish()
    assert not report.failed
    assert [a.sha256 for a in stored if a.path == "x.ckpt"][-1] == hashlib.sha256(v2).hexdigest()
    assert pipeline.unstored() == []


def test_a_copy_the_kernel_ends_early_is_finished_by_plain_reads(tmp_path, monkeypatch):
    """copy_file_range answers 0 for some files and file systems that still have bytes to give."""
    import emulator.blobs as blobs

    source = tmp_path / "model.bin"
    body = os.urandom(2 * PARALLEL_COPY)
    source.write_bytes(body)
    real = os.copy_file_range

    def stops_early(src, dst, count, offset_src=None, offset_dst=None):
        return 0 if offset_src and offset_src >= PARALLEL_COPY // 2 else real(src, dst, count, offset_src, offset_dst)

    monkeypatch.setattr(blobs.os, "copy_file_range", stops_early)
    snapshot, sha256, size = blobs.snapshot_file(source, tmp_path)
    assert (snapshot.read_bytes(), sha256, size) == (body, hashlib.sha256(body).hexdigest(), len(body))


def test_no_snapshot_is_made_ahead_without_room_for_it_beside_the_uploader_s_own(tmp_path, monkeypatch):
    """A disk with room for the files one at a time must not fail a job DISK_FULL for copies made ahead."""
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(upload_module.shutil, "disk_usage", lambda path: usage(10**12, 0, 3 * PARALLEL_COPY))
    pipeline, store, stored = make_pipeline(tmp_path)
    written = write_large(pipeline.root, ["a.ckpt", "b.ckpt", "c.ckpt"])
    used = count_takes(monkeypatch)
    pipeline.start()
    pipeline.finish()
    assert [a.path for a in stored] == list(written) and used and not any(ready for _, ready in used)
