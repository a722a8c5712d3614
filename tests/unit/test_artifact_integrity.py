"""Races a hostile or unlucky job can make at the exact moment the uploader reaches a step (found
by a report-only review in the tenth session, each reproduced here first): a wrapper around the
function the uploader calls next does the job's move at that moment, so each race is
deterministic. Real files and the real local store; no engine."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

import emulator.artifacts.upload as upload_module
from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.blobs import SMALL_SNAPSHOT, LocalStore
from emulator.models import Artifact

SIZES = {"in memory": 100, "snapshot file": SMALL_SNAPSHOT + 4096}


def make_pipeline(tmp_path: Path, store=None):
    root = tmp_path / "artifacts"
    root.mkdir(exist_ok=True)
    stored: list[Artifact] = []
    events: list[str] = []
    pipeline = ArtifactPipeline(root, "job-1", store or LocalStore(tmp_path / "store"), "FIFO", events.append,
                                stored.extend, PipelineSettings(stability=0.05, retries=2, backoff=0.01))
    return pipeline, stored, events


def stored_bytes(store_root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (store_root / "blobs").rglob("*") if p.is_file())


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
    """The uploader checks a plain file with lstat, then opens it: a FIFO renamed over it in between
    blocked that open for ever (no writer), and finish() waits for the upload in flight."""
    pipeline, _stored, _events = make_pipeline(tmp_path)
    target = pipeline.root / "a.bin"
    target.write_bytes(b"x" * SIZES[how])
    real_signature = upload_module._plain_file_signature
    swapped = []

    def then_swap(path):
        seen = real_signature(path)
        if seen is not None and path.endswith("a.bin") and not swapped:
            swapped.append(path)
            os.mkfifo(pipeline.root / "fifo")
            os.rename(pipeline.root / "fifo", path)
        return seen

    monkeypatch.setattr(upload_module, "_plain_file_signature", then_swap)
    pipeline.start()
    ended = threading.Event()
    threading.Thread(target=lambda: (pipeline.finish(), ended.set()), daemon=True).start()
    try:
        assert ended.wait(10), "finish() still waits: the uploader is blocked opening a FIFO"
    finally:
        if not ended.is_set():  # unblock the uploader so the test process can end
            os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
    assert swapped
