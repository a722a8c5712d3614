"""A download that knows a packed file's record (key, size, sha256, not its pack) finds the pack
through an index of the namespace's manifest, read once and then only as it grows. A sweep
(archive, volume removal) rewrites or removes a manifest: the index must not outlive it, even
when the new manifest got the old one's inode number back (freed, then reused) and is as long.
Real local store; no engine."""

from __future__ import annotations

import hashlib
import os

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
