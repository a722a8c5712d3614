"""A snapshot's sha256 is of its own bytes (emulator/blobs.py snapshot_file): a job writing its file
meanwhile through a shared mmap, which moves neither its mtime nor its ctime, could make a hash
pass and a separate copy pass of the source see different bytes, and storage keep a blob whose
bytes do not match the sha256 it is stored (and deduplicated) under."""

from __future__ import annotations

import hashlib
import mmap
import os
import threading

import pytest

from emulator.blobs import PARALLEL_COPY, snapshot_file


@pytest.mark.parametrize("size", [PARALLEL_COPY // 2, 2 * PARALLEL_COPY], ids=["one thread", "two threads"])
def test_a_file_written_through_a_shared_mapping_while_it_is_snapshot_gives_a_snapshot_that_matches_its_hash(
        tmp_path, size):
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(size))
    into = tmp_path / "snapshots"
    into.mkdir()
    stop = threading.Event()
    with open(source, "r+b") as f, mmap.mmap(f.fileno(), size) as mapped:
        def write_meanwhile() -> None:
            value = 0
            while not stop.is_set():
                value = (value + 1) % 256
                for offset in range(0, size, 64 * 1024):  # every 64 KiB, all through the file
                    mapped[offset] = value

        writer = threading.Thread(target=write_meanwhile)
        writer.start()
        try:
            for _ in range(3):
                snapshot, sha256, copied = snapshot_file(source, into)
                body = snapshot.read_bytes()
                snapshot.unlink()
                assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha256, copied) == (sha256, size)
        finally:
            stop.set()
            writer.join()


def test_a_hash_that_fails_stops_the_copy_at_its_next_step(tmp_path, monkeypatch):
    import errno

    import emulator.blobs as blobs

    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(32 * blobs.COPY_STEP))
    steps = []
    step = blobs._copy_step

    def counted(*args):
        steps.append(args)
        return step(*args)

    def failing(*args):
        raise OSError(errno.EIO, "the disk failed")

    monkeypatch.setattr(blobs, "_copy_step", counted)
    monkeypatch.setattr(blobs.os, "preadv", failing)
    with pytest.raises(OSError):
        blobs.snapshot_file(source, tmp_path)
    assert len(steps) < 32
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]  # the snapshot is gone
