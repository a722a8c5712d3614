"""Large files' hashes read ahead of their upload (emulator/artifacts/hash_ahead.py): what the
local store keeps is still each file's bytes, whole, with their own sha256, in the queue's order."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.artifacts.files import open_inside, stat_signature
from emulator.artifacts.hash_ahead import HashAhead
from emulator.artifacts.upload import HASH_AHEAD_FROM
from emulator.blobs import LocalStore
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
        written[name] = os.urandom(HASH_AHEAD_FROM + 4096 * n)
        (root / name).write_bytes(written[name])
    return written


def stored_as(store: LocalStore, artifact: Artifact, tmp_path: Path) -> bytes:
    dest = tmp_path / "pulled" / artifact.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    store.get_to(artifact.key, dest)  # checks the sha256 of what it reads
    return dest.read_bytes()


def test_large_files_hashed_ahead_are_stored_whole_with_their_own_hash_in_order(tmp_path, monkeypatch):
    pipeline, store, stored = make_pipeline(tmp_path)
    names = ["a.ckpt", "b.ckpt", "c.ckpt", "d.ckpt"]
    written = write_large(pipeline.root, names)
    used = []
    take = HashAhead.take

    def counted(self, item):
        hashed = take(self, item)
        used.append((item.path, hashed is not None))
        return hashed

    monkeypatch.setattr(HashAhead, "take", counted)
    pipeline.start()
    pipeline.finish()
    assert [a.path for a in stored] == names  # FIFO: the order they were written
    for artifact in stored:
        assert artifact.sha256 == hashlib.sha256(written[artifact.path]).hexdigest()
        assert stored_as(store, artifact, tmp_path) == written[artifact.path]
    assert any(hashed for _, hashed in used), f"no upload used a hash read ahead: {used}"


def test_a_file_rewritten_after_its_hash_was_read_ahead_is_stored_as_its_new_bytes(tmp_path, monkeypatch):
    """The rewrite keeps the size and the mtime (cp -p): the copy made with the hash read before it
    would have paired the new bytes with the old hash. The signature (its ctime) tells them apart."""
    pipeline, store, stored = make_pipeline(tmp_path)
    written = write_large(pipeline.root, ["a.ckpt", "b.ckpt"])
    target = pipeline.root / "b.ckpt"
    new = os.urandom(len(written["b.ckpt"]))
    read = HashAhead._read
    rewritten = []

    def rewriting_after(self, item):
        hashed = read(self, item)
        if item.path == "b.ckpt" and not rewritten:
            kept = os.stat(target)
            target.write_bytes(new)
            os.utime(target, ns=(kept.st_atime_ns, kept.st_mtime_ns))
            rewritten.append(hashed)
        return hashed

    monkeypatch.setattr(HashAhead, "_read", rewriting_after)
    pipeline.start()
    pipeline.finish()
    assert rewritten and rewritten[0] is not None, "b.ckpt's hash was not read ahead"
    last = {a.path: a for a in stored}
    assert last["b.ckpt"].sha256 == hashlib.sha256(new).hexdigest()
    for artifact in stored:
        assert hashlib.sha256(stored_as(store, artifact, tmp_path)).hexdigest() == artifact.sha256


def test_a_hash_is_given_only_for_the_version_it_read(tmp_path):
    root = tmp_path / "artifacts"
    root.mkdir()
    path = root / "a.ckpt"
    path.write_bytes(b"x" * 10_000)
    inside = os.fspath(root) + "/"
    ahead = HashAhead(lambda rel: open_inside(inside + rel, inside)[0], threading.Event())
    item = Stable("a.ckpt", stat_signature(os.stat(path)), 1)
    ahead.start(item)
    hashed = ahead.take(item)
    assert hashed is not None and hashed.sha256 == hashlib.sha256(b"x" * 10_000).hexdigest()
    assert ahead.take(item) is None  # taken once
    ahead.start(item)
    path.write_bytes(b"y" * 10_000)  # another version: its hash is not this one
    newer = Stable("a.ckpt", stat_signature(os.stat(path)), 2)
    assert ahead.take(newer) is None  # whenever the rewrite came: before the read, during it or after
    os.symlink("/etc/passwd", root / "link")
    link = Stable("link", stat_signature(os.stat("/etc/passwd")), 3)
    ahead.start(link)
    assert ahead.take(link) is None  # a link is never opened (the upload judges it as before)


def test_a_stopped_pipeline_ends_a_hash_under_way(tmp_path):
    root = tmp_path / "artifacts"
    root.mkdir()
    path = root / "big.ckpt"
    path.write_bytes(os.urandom(4 * HASH_AHEAD_FROM))
    inside = os.fspath(root) + "/"
    stop = threading.Event()
    stop.set()
    ahead = HashAhead(lambda rel: open_inside(inside + rel, inside)[0], stop)
    item = Stable("big.ckpt", stat_signature(os.stat(path)), 1)
    ahead.start(item)
    assert ahead.take(item) is None
