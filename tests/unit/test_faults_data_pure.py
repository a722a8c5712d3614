"""Data faults checked without an engine: the artifact pipeline's failure paths and link refusal."""

from __future__ import annotations

import os


def test_an_uploader_failure_ends_the_pipeline_with_a_named_reason_not_a_hang(tmp_path):
    """The recording step raising (as sqlite did for a surrogate-escaped name) fails that file and
    the job; later files still upload and finish() returns."""
    import sqlite3
    import threading

    from emulator.artifacts import ArtifactPipeline, PipelineSettings
    from emulator.blobs import LocalStore

    root = tmp_path / "artifacts"
    root.mkdir()
    events, recorded = [], []

    def record(artifacts):  # all or none, as the job's one transaction per batch
        if any(artifact.path == "bad.txt" for artifact in artifacts):
            raise sqlite3.OperationalError("database is locked")
        recorded.extend(artifact.path for artifact in artifacts)

    pipeline = ArtifactPipeline(root, "job-1", LocalStore(tmp_path / "store"), "FIFO", events.append, record,
                                PipelineSettings(stability=0.05))
    pipeline.start()
    (root / "bad.txt").write_text("bad")
    (root / "good.txt").write_text("good")
    done = []
    finisher = threading.Thread(target=lambda: done.append(pipeline.finish()), daemon=True)
    finisher.start()
    finisher.join(timeout=30)
    assert done, "finish() hung after the uploader failed"
    report = done[0]
    assert report.failure is not None and report.failure.reason == "UPLOAD_ERROR"
    assert "OperationalError" in report.failure.message and "bad.txt" in report.failure.message
    assert report.failed == ["bad.txt"] and recorded == ["good.txt"]
    assert any("OperationalError" in e for e in events)


def test_a_path_that_is_a_link_when_opened_is_refused(tmp_path):
    from emulator.artifacts import open_unfollowed

    root = tmp_path / "artifacts"
    root.mkdir()
    (root / "real.bin").write_bytes(b"x")
    (tmp_path / "secret").write_bytes(b"secret")
    os.symlink(tmp_path / "secret", root / "link.bin")
    os.symlink(root / "real.bin", root / "inside-link.bin")
    assert open_unfollowed(root / "link.bin", root) is None
    assert open_unfollowed(root / "inside-link.bin", root) is None  # refused even when it points inside
    assert open_unfollowed(tmp_path / "secret", root) is None  # a file outside the root
    with open_unfollowed(root / "real.bin", root) as handle:
        assert handle.read() == b"x"


def test_a_snapshot_that_fails_the_same_way_every_time_fails_the_file_instead_of_spinning(tmp_path):
    """The snapshot folder vanished (someone cleaned the home): each copy fails with ENOENT. (A file
    over SMALL_SNAPSHOT: smaller ones are snapshotted in memory, with no file.)"""
    import shutil
    import threading

    from emulator.artifacts import ArtifactPipeline, PipelineSettings
    from emulator.blobs import SMALL_SNAPSHOT, LocalStore

    root = tmp_path / "artifacts"
    root.mkdir()
    store = LocalStore(tmp_path / "store")
    shutil.rmtree(store.snapshot_dir)
    events = []
    pipeline = ArtifactPipeline(root, "job-1", store, "FIFO", events.append, lambda a: None,
                                PipelineSettings(stability=0.05, retries=2, backoff=0.01))
    pipeline.start()
    (root / "a.bin").write_bytes(b"a" * (SMALL_SNAPSHOT + 1))
    done = []
    finisher = threading.Thread(target=lambda: done.append(pipeline.finish()), daemon=True)
    finisher.start()
    finisher.join(timeout=30)
    assert done, "finish() kept re-watching a file whose copy always fails"
    assert done[0].failed == ["a.bin"] and done[0].failure.reason == "UPLOAD_ERROR"
    assert "FileNotFoundError" in done[0].failure.message
