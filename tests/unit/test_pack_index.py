"""A download that knows a packed file's record (key, size, sha256, not its pack) finds the pack
through an index of the namespace's manifest, read once and then only as it grows. A sweep
(archive, volume removal) rewrites or removes a manifest: the index must not outlive it, even
when the new manifest got the old one's inode number back (freed, then reused) and is as long.
Real local store; no engine."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from emulator.blobs import LocalStore, StoredObject


def _put(store: LocalStore, key: str, body: bytes) -> StoredObject:
    sha256 = hashlib.sha256(body).hexdigest()
    store.put_bytes(key, body, sha256)
    return StoredObject(key, len(body), sha256)  # what a job's record keeps: no pack, no offset


def test_a_records_download_after_a_sweep_reads_the_new_manifest_even_on_a_reused_inode(tmp_path):
    store = LocalStore(tmp_path / "store")
    before = _put(store, "volumes/data/train.csv", b"old bytes " * 50)
    store.get_to(before.key, tmp_path / "before.csv", known=before)  # the index is built
    store.delete_prefix("volumes/data/")  # `volume rm data`: the manifest and packs are gone
    manifest = tmp_path / "store" / "manifests" / "volumes" / "data.jsonl"
    records = [_put(store, f"volumes/data/shard-{i}.csv", os.urandom(64)) for i in range(8)]  # `volume create data`
    index = store._pack_indexes[manifest]
    assert os.path.getsize(manifest) >= index.read
    index.inode = os.stat(manifest).st_ino  # as if the kernel had handed the freed inode number back
    for record in records:
        store.get_to(record.key, tmp_path / "out.csv", known=record)
        assert hashlib.sha256((tmp_path / "out.csv").read_bytes()).hexdigest() == record.sha256


def test_a_batch_refused_partway_leaves_nothing_wrong_for_the_next_one(tmp_path):
    """The pack's size and the bytes remembered for deduplication moved on for blobs never written
    (a later key in the batch refused): the next files got lines naming bytes not in the pack."""
    import pytest

    from emulator.blobs import StorageError

    store = LocalStore(tmp_path / "store")
    first = _put(store, "jobs/j/artifacts/first", b"first")
    body = b"A" * 10
    with pytest.raises(StorageError, match="no namespace"):
        store.put_many_bytes([("jobs/j/artifacts/a", body, hashlib.sha256(body).hexdigest()),
                              ("no-namespace", b"x", hashlib.sha256(b"x").hexdigest())])
    records = [first, _put(store, "jobs/j/artifacts/b", b"B" * 10), _put(store, "jobs/j/artifacts/a2", body)]
    for record in records:
        store.get_to(record.key, tmp_path / "out", known=record)  # every byte checked against the sha256
        store.get_to(record.key, tmp_path / "out")  # and by the manifest line's own pack and offset


def test_a_manifest_line_the_disk_cuts_short_stores_the_files_before_it_and_says_how_many(tmp_path, monkeypatch):
    """A batch's lines go in one write: a full disk that cuts it short in the third line leaves the
    first two whole (their files stored and listed), and StoredInPart says so (the whole batch was
    once reported failed, every file of it); the torn part is no file's line."""
    import errno

    store = LocalStore(tmp_path / "store")
    bodies = [f"body {i}".encode() for i in range(4)]
    cut = put_with_a_full_disk(monkeypatch, store, bodies, after_the_second_line=10)  # part of the third
    assert cut.stored == 2 and cut.errno == errno.ENOSPC
    assert [o.key.rsplit("/", 1)[1] for o in store.list("jobs/j/")] == ["f0", "f1"]
    for i in (0, 1):
        store.get_to(f"jobs/j/artifacts/f{i}", tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == bodies[i]


def test_a_manifest_line_the_disk_leaves_without_its_newline_counts_as_stored(tmp_path, monkeypatch):
    """Every reader takes a last line that lacks only its newline (it parses), and the next write
    ends it: counted as not stored, its file was failed (the job FAILED) yet listed and readable."""
    store = LocalStore(tmp_path / "store")
    bodies = [f"body {i}".encode() for i in range(3)]
    cut = put_with_a_full_disk(monkeypatch, store, bodies, after_the_second_line=-1)  # all but its newline
    assert cut.stored == 2
    listed = lambda: [o.key.rsplit("/", 1)[1] for o in store.list("jobs/j/")]  # noqa: E731
    assert listed() == ["f0", "f1"]
    store.get_to("jobs/j/artifacts/f1", tmp_path / "out")  # found by the pack index, before any newline came
    assert (tmp_path / "out").read_bytes() == bodies[1]
    store.put_many_bytes([("jobs/j/artifacts/later", b"later", hashlib.sha256(b"later").hexdigest())])
    assert listed() == ["f0", "f1", "later"]


def put_with_a_full_disk(monkeypatch, store: LocalStore, bodies: list[bytes], after_the_second_line: int):
    """put_many_bytes of `bodies` (keys jobs/j/artifacts/f<i>) on a disk that takes the manifest's
    bytes up to the end of the batch's second line and `after_the_second_line` more (or fewer):
    the StoredInPart it raises."""
    import pytest

    import emulator.blobs as blobs
    from emulator.blobs import StoredInPart

    real_write, room = os.write, []  # room: the manifest bytes the disk still takes, once known

    def full(fd, data):
        if fd not in store._kept.manifests.values():
            return real_write(fd, data)
        data = bytes(data)
        if not room:
            room.append(data.index(b"\n", data.index(b"\n") + 1) + 1 + after_the_second_line)
        took = real_write(fd, data[:room[0]])
        room[0] -= took
        return took

    monkeypatch.setattr(blobs.os, "write", full)
    with pytest.raises(StoredInPart) as cut:
        store.put_many_bytes([(f"jobs/j/artifacts/f{i}", body, hashlib.sha256(body).hexdigest())
                              for i, body in enumerate(bodies)])
    monkeypatch.setattr(blobs.os, "write", real_write)
    return cut.value


def test_another_writer_after_a_line_left_without_its_newline_starts_a_line_of_its_own(tmp_path, monkeypatch):
    """Whether the manifest ended inside a line was read only when a store object opened it: another
    process's writer, open before the cut, glued its line onto the one left without its newline,
    and a reader then lost both (the first one counted stored)."""
    root = tmp_path / "store"
    other = LocalStore(root)  # another agent writing the same namespace, its manifest already open
    other.put_many_bytes([("jobs/j/artifacts/early", b"early", hashlib.sha256(b"early").hexdigest())])
    store = LocalStore(root)
    bodies = [f"body {i}".encode() for i in range(3)]
    assert put_with_a_full_disk(monkeypatch, store, bodies, after_the_second_line=-1).stored == 2
    other.put_many_bytes([("jobs/j/artifacts/later", b"later", hashlib.sha256(b"later").hexdigest())])
    assert sorted(o.key.rsplit("/", 1)[1] for o in LocalStore(root).list("jobs/j/")) == ["early", "f0", "f1", "later"]


def test_the_same_bytes_are_appended_once_per_pack_and_again_after_the_pack_is_dropped(tmp_path, monkeypatch):
    """Deduplication within a batch, across batches, and never onto a pack the store stopped
    appending to (a pack write failed: the next bytes go to a new pack, and a line naming the old
    one for them would name bytes it never got)."""
    import errno

    import pytest

    from emulator import blobs

    store = LocalStore(tmp_path / "store")
    same, other = b"S" * 100, b"O" * 100
    sha = hashlib.sha256(same).hexdigest()
    store.put_many_bytes([("jobs/j/artifacts/a", same, sha), ("jobs/j/artifacts/b", same, sha)])
    _put(store, "jobs/j/artifacts/c", same)
    assert [p.stat().st_size for p in (tmp_path / "store" / "packs").rglob("*.pack")] == [100]
    real_write = os.write
    monkeypatch.setattr(blobs.os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.EIO, "bad disk")))
    with pytest.raises(OSError):
        _put(store, "jobs/j/artifacts/d", other)
    monkeypatch.setattr(blobs.os, "write", real_write)
    records = [_put(store, "jobs/j/artifacts/e", same), _put(store, "jobs/j/artifacts/f", other)]
    assert sorted(p.stat().st_size for p in (tmp_path / "store" / "packs").rglob("*.pack")) == [100, 200]
    for record in records:
        store.get_to(record.key, tmp_path / "out", known=record)
        store.get_to(record.key, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == (same if record.key.endswith("e") else other)


def test_a_batch_of_two_namespaces_goes_to_each_ones_pack_and_manifest_in_order(tmp_path):
    """A batch whose keys interleave two namespaces: each file in its own namespace's pack, each
    manifest's lines in the batch's order, every file read back byte for byte."""
    store = LocalStore(tmp_path / "store")
    keys = [f"jobs/{job}/artifacts/{n}" for n, job in enumerate("ababa")]
    bodies = {key: os.urandom(50) for key in keys}
    store.put_many_bytes([(key, body, hashlib.sha256(body).hexdigest()) for key, body in bodies.items()])
    for job in ("a", "b"):
        lines = (tmp_path / "store" / "manifests" / "jobs" / f"{job}.jsonl").read_text().splitlines()
        assert [json.loads(line)["key"] for line in lines] == [
            key.split("/", 2)[2] for key in keys if key.startswith(f"jobs/{job}/")]
    for key, body in bodies.items():
        store.get_to(key, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == body


@pytest.mark.parametrize("key", ["jobs/j", "jobs/j/", "jobs//j/x", "/jobs/j/x", "jobs", "/", "//x/y"])
def test_a_key_without_a_namespace_and_a_name_is_refused_even_beside_a_known_namespace(tmp_path, key):
    from emulator.blobs import StorageError

    store = LocalStore(tmp_path / "store")
    _put(store, "jobs/j/artifacts/known", b"known")  # jobs/j's manifest now known to the store object
    with pytest.raises(StorageError, match="no namespace"):
        store.put_bytes(key, b"x", hashlib.sha256(b"x").hexdigest())
    with pytest.raises(StorageError, match="no namespace"):  # after keys of one namespace: the whole batch refused
        store.put_many_bytes([("jobs/j/artifacts/a", b"a", hashlib.sha256(b"a").hexdigest()),
                              (key, b"x", hashlib.sha256(b"x").hexdigest())])
    assert [stored.key for stored in store.list("jobs/")] == ["jobs/j/artifacts/known"]
