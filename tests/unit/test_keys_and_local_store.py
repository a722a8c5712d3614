"""Storage keys (pure) and the local store's own guarantees. The BlobStore contract against both stores
(local and the real moto S3 server) is in tests/integration/test_keys_and_blobs.py."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from cycle.api.keys import artifact_key, check_job_name, local_relative, relative_key
from cycle.errors import BadInput
from emulator.blobs import LocalStore, S3Store, StorageError, manifest_line


def snapshot(store, data: bytes) -> tuple[Path, str]:
    path = store.snapshot_dir / f"snap-{uuid.uuid4().hex}"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", ["a.txt", "ckpt/step-1.pt", "ünïcode/名前.bin", "with space/x", "100%.txt",
                                  "line\nbreak", "tab\there", os.fsdecode(b"bad-\xff\xfe-utf8")])
def test_relative_keys_round_trip_and_are_clean_utf8(name):
    key = relative_key(name)
    key.encode("utf-8")  # always valid UTF-8
    assert "\n" not in key and "\x00" not in key
    assert local_relative(key) == os.fsencode(name)


def test_readable_names_stay_readable():
    assert relative_key("ckpt/step-1.pt") == "ckpt/step-1.pt"
    assert relative_key("ünïcode/名前.bin") == "ünïcode/名前.bin"
    assert relative_key("line\nbreak") == "line%0Abreak"


def test_every_ascii_name_gets_the_key_the_general_encoder_gives():
    """Plain ASCII paths take a shortcut (no encoding); it must give exactly the general rule's key."""
    from cycle.api.keys import _encode_component

    for code in range(128):
        for name in (chr(code), f"a{chr(code)}b", f"dir/x{chr(code)}", f"{chr(code)}{chr(code)}"):
            parts = os.fsencode(name).split(b"/")
            if any(p in (b"", b".", b"..") for p in parts):
                with pytest.raises(ValueError):
                    relative_key(name)
                continue
            assert relative_key(name) == "/".join(_encode_component(p) for p in parts), repr(name)


@pytest.mark.parametrize("bad", ["", "a//b", "./a", "a/../b", "..", "/abs"])
def test_unclean_relative_paths_are_refused(bad):
    with pytest.raises(ValueError):
        relative_key(bad)


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../x", "a//b", "%2E%2E/x", "a/%2Fetc", "a/%00b"])
def test_keys_that_could_escape_are_refused(bad):
    with pytest.raises(BadInput):
        local_relative(bad)


@pytest.mark.parametrize("bad", ["../x", "/abs", ".hidden", "a/b", ""])
def test_job_names_that_could_escape_are_refused(bad):
    with pytest.raises(BadInput):
        check_job_name(bad)


def test_artifact_key_has_one_prefix_per_job():
    assert artifact_key("demo-3", "ckpt/a.pt") == "jobs/demo-3/artifacts/ckpt/a.pt"


def test_local_store_keeps_identical_bytes_once(tmp_path):
    """Blob files are shared by every namespace; a job's packed small files once per pack."""
    store = LocalStore(tmp_path / "store")
    for job in ("j-1", "j-2"):
        snap, sha = snapshot(store, b"same bytes")
        store.put_snapshot(f"jobs/{job}/artifacts/x", snap, sha, 10)
    assert [p.name for p in (tmp_path / "store" / "blobs").rglob("*") if p.is_file()] == [sha]
    for name in ("y", "z", "y"):
        put_small(store, f"jobs/j-1/artifacts/{name}", b"same small bytes")
    assert [p.read_bytes() for p in packs(tmp_path / "store")] == [b"same small bytes"]
    for key in ("jobs/j-1/artifacts/y", "jobs/j-1/artifacts/z"):
        assert store.get_to(key, tmp_path / "out").sha256 == hashlib.sha256(b"same small bytes").hexdigest()


def packs(root: Path) -> list[Path]:
    return sorted((root / "packs").rglob("*.pack"), key=lambda p: p.stat().st_mtime_ns)


def test_a_new_local_store_has_every_blob_folder(tmp_path):
    LocalStore(tmp_path / "store")
    folders = sorted(p.name for p in (tmp_path / "store" / "blobs" / "sha256").iterdir())
    assert folders == [f"{i:02x}" for i in range(256)]


@pytest.mark.parametrize("sizes", [[0, 1, 4096, 1024 * 1024], [4096] * 300], ids=["sizes", "many"])
def test_small_files_are_packed_and_read_back_byte_for_byte(tmp_path, sizes):
    """A job's small files go to a pack file of the job (no inode, name and rename each), each
    read back exactly: through the manifest (head, list) and through a record that knows only the
    key, size and sha256 (pull, restore, --mount-job), while the manifest grows."""
    from emulator.blobs import StoredObject

    store = LocalStore(tmp_path / "store")
    reader = LocalStore(tmp_path / "store")
    bodies = {f"jobs/j-1/artifacts/f{i}": os.urandom(size) for i, size in enumerate(sizes)}
    for number, (key, body) in enumerate(bodies.items()):
        put_small(store, key, body)
        if number % 50 == 0:  # the reader's index of the packs catches up as lines are appended
            record = StoredObject(key, len(body), hashlib.sha256(body).hexdigest())
            assert reader.get_to(key, tmp_path / "known", known=record).size == len(body)
            assert (tmp_path / "known").read_bytes() == body
    assert [p.name for p in (tmp_path / "store" / "blobs").rglob("*") if p.is_file()] == []
    assert len(packs(tmp_path / "store")) == 1
    for key, body in bodies.items():
        record = StoredObject(key, len(body), hashlib.sha256(body).hexdigest())
        for known in (None, record):
            store.get_to(key, tmp_path / "out", known=known)
            assert (tmp_path / "out").read_bytes() == body


def test_a_damaged_pack_is_refused_and_nothing_is_written(tmp_path):
    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/a", b"first")
    put_small(store, "jobs/j/artifacts/b", b"good")
    pack = packs(tmp_path / "store")[0]
    pack.write_bytes(b"firstevil")
    with pytest.raises(StorageError, match="does not match"):
        store.get_to("jobs/j/artifacts/b", tmp_path / "b")
    assert not (tmp_path / "b").exists()
    pack.write_bytes(b"firstgo")  # cut short
    with pytest.raises(StorageError, match="does not match"):
        store.get_to("jobs/j/artifacts/b", tmp_path / "b")
    store.get_to("jobs/j/artifacts/a", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == b"first"


def test_a_write_cut_short_leaves_no_line_and_the_next_file_goes_to_a_new_pack(tmp_path, monkeypatch):
    """A full disk cuts a blob short in the pack: its key is not stored (no manifest line names the
    partial bytes), and the next blob is not appended after them but to a new pack."""
    import errno

    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/a", b"a" * 100)
    real_write = os.write

    def full(fd, data):
        if len(data) == 5000:
            real_write(fd, bytes(data[:10]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        put_small(store, "jobs/j/artifacts/b", b"b" * 5000)
    monkeypatch.setattr(os, "write", real_write)
    put_small(store, "jobs/j/artifacts/c", b"c" * 100)
    assert [o.key for o in store.list("jobs/j/")] == ["jobs/j/artifacts/a", "jobs/j/artifacts/c"]
    assert len(packs(tmp_path / "store")) == 2
    for name in ("a", "c"):
        store.get_to(f"jobs/j/artifacts/{name}", tmp_path / name)
        assert (tmp_path / name).read_bytes() == name.encode() * 100


def test_archiving_a_job_removes_its_packs_and_nothing_of_another_jobs(tmp_path):
    store, other = LocalStore(tmp_path / "store"), LocalStore(tmp_path / "store")
    put_small(store, "jobs/j-1/artifacts/a", b"one")
    put_small(other, "jobs/j-1/artifacts/b", b"two")  # a second writer: a pack of its own
    put_small(store, "jobs/j-2/artifacts/a", b"one")
    assert len(packs(tmp_path / "store")) == 3
    assert store.delete_prefix("jobs/j-1/artifacts/") == 2
    assert not (tmp_path / "store" / "packs" / "jobs" / "j-1").exists()
    store.get_to("jobs/j-2/artifacts/a", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == b"one"
    put_small(other, "jobs/j-1/artifacts/c", b"after")  # the writer whose pack went starts a new one
    other.get_to("jobs/j-1/artifacts/c", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == b"after"


def test_a_partly_swept_pack_stays_whole_for_the_objects_it_still_holds(tmp_path):
    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/old", b"old bytes")
    put_small(store, "jobs/j/artifacts/kept", b"kept bytes")
    assert store.delete_prefix("jobs/j/artifacts/old") == 1
    assert [p.read_bytes() for p in packs(tmp_path / "store")] == [b"old byteskept bytes"]
    store.get_to("jobs/j/artifacts/kept", tmp_path / "kept")
    assert (tmp_path / "kept").read_bytes() == b"kept bytes"


def test_a_stored_blob_of_the_wrong_size_is_refused_not_named(tmp_path):
    store = LocalStore(tmp_path / "store")
    snap, sha = snapshot(store, b"good")
    store.put_snapshot("jobs/j/artifacts/a", snap, sha, 4)
    blob = next(p for p in (tmp_path / "store" / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"damaged")
    snap, sha = snapshot(store, b"good")
    with pytest.raises(StorageError, match="has 7 bytes, expected 4"):
        store.put_snapshot("jobs/j/artifacts/b", snap, sha, 4)
    assert [o.key for o in store.list("jobs/j/")] == ["jobs/j/artifacts/a"]


@pytest.mark.parametrize("key", ["artifacts/a.txt", 'artifacts/quote"and\\back', "artifacts/ünï/名前",
                                 "artifacts/100%25", "artifacts/tab\there"])
def test_manifest_lines_are_the_json_they_always_were(key):
    line = manifest_line(key, "ab" * 32, 4096, 1_700_000_000_123_456_789)
    expected = json.dumps({"key": key, "sha256": "ab" * 32, "size": 4096, "ts": 1_700_000_000_123_456_789},
                          ensure_ascii=False) + "\n"
    assert line == expected.encode("utf-8")
    packed = manifest_line(key, "ab" * 32, 4096, 5, "0123456789abcdef.pack", 8192)
    assert json.loads(packed) == {"key": key, "sha256": "ab" * 32, "size": 4096, "ts": 5,
                                  "pack": "0123456789abcdef.pack", "offset": 8192}


def put_small(store, key: str, data: bytes) -> None:
    store.put_bytes(key, data, hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("kept", [True, False], ids=["manifest-rewritten", "manifest-removed"])
def test_a_writer_keeps_recording_after_another_store_sweeps_its_manifest(tmp_path, kept):
    """A store keeps its manifest open between files; a sweep from another store object (as from
    another process) replaces or removes that manifest, and what the writer stores next must still
    land in the manifest in place, not in the file the sweep replaced."""
    writer, sweeper = LocalStore(tmp_path / "store"), LocalStore(tmp_path / "store")
    put_small(writer, "jobs/j/artifacts/old", b"old")
    if kept:
        put_small(writer, "jobs/j/artifacts/kept", b"kept")
    assert sweeper.delete_prefix("jobs/j/artifacts/old") == 1
    put_small(writer, "jobs/j/artifacts/new", b"new")
    reader = LocalStore(tmp_path / "store")
    expected = ["jobs/j/artifacts/kept", "jobs/j/artifacts/new"] if kept else ["jobs/j/artifacts/new"]
    assert [o.key for o in reader.list("jobs/j/")] == expected
    reader.get_to("jobs/j/artifacts/new", tmp_path / "new")
    assert (tmp_path / "new").read_bytes() == b"new"


def test_a_store_closes_the_files_it_kept_open(tmp_path):
    before = len(os.listdir("/proc/self/fd"))
    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/a", b"a")
    put_small(store, "volumes/v/a", b"a")
    assert len(os.listdir("/proc/self/fd")) > before
    del store
    assert len(os.listdir("/proc/self/fd")) == before


def test_local_store_detects_a_corrupted_blob(tmp_path):
    store = LocalStore(tmp_path / "store")
    snap, sha = snapshot(store, b"good")
    store.put_snapshot("jobs/j/artifacts/x", snap, sha, 4)
    blob = next(p for p in (tmp_path / "store" / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"evil")
    with pytest.raises(StorageError, match="does not match"):
        store.get_to("jobs/j/artifacts/x", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_s3_store_that_does_not_answer_says_how_to_fix(tmp_path):
    with pytest.raises(StorageError, match="cycle emulator storage start"):
        S3Store("127.0.0.1:9", "nope", tmp_path)


@pytest.mark.parametrize("size", [0, 5, 8 * 1024 * 1024 + 17])  # the last one hashes and copies on two threads
def test_snapshot_is_a_byte_exact_private_copy_with_its_sha256(tmp_path, size):
    from emulator.blobs import snapshot_file

    data = os.urandom(size)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    (tmp_path / "snaps").mkdir()
    copy, sha, got = snapshot_file(source, tmp_path / "snaps")
    assert (got, sha) == (size, hashlib.sha256(data).hexdigest())
    assert copy.read_bytes() == data and copy.stat().st_ino != source.stat().st_ino


def test_snapshot_refuses_a_link(tmp_path):
    from emulator.blobs import snapshot_file

    (tmp_path / "secret").write_bytes(b"x" * (9 * 1024 * 1024))
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    (tmp_path / "snaps").mkdir()
    with pytest.raises(OSError):
        snapshot_file(tmp_path / "link", tmp_path / "snaps")
    assert list((tmp_path / "snaps").iterdir()) == []


def test_a_forked_child_appends_to_a_pack_of_its_own(tmp_path):
    """A store object's pack keeps its size in memory: a forked child appending to the parent's
    pack would give both the same offsets, and each the other's bytes."""
    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/before", b"before the fork")
    pid = os.fork()
    if pid == 0:
        try:
            put_small(store, "jobs/j/artifacts/child", b"the child's bytes")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    put_small(store, "jobs/j/artifacts/parent", b"the parent's bytes")
    reader = LocalStore(tmp_path / "store")
    assert len(packs(tmp_path / "store")) == 2
    bodies = [("before", b"before the fork"), ("child", b"the child's bytes"), ("parent", b"the parent's bytes")]
    for name, body in bodies:
        reader.get_to(f"jobs/j/artifacts/{name}", tmp_path / name)
        assert (tmp_path / name).read_bytes() == body


@pytest.mark.parametrize("name", ["../../../secret.pack", "/etc/passwd", "..pack", "x.bin"])
def test_a_manifest_line_naming_a_pack_elsewhere_is_refused(tmp_path, name):
    """A pack's name comes from a manifest line: it never leads out of the namespace's pack folder."""
    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/a", b"bytes")
    manifest = tmp_path / "store" / "manifests" / "jobs" / "j.jsonl"
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "pack": name}) + "\n")
    with pytest.raises(StorageError, match="not a pack's name"):
        LocalStore(tmp_path / "store").get_to("jobs/j/artifacts/a", tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_downloads_on_two_threads_through_one_store_find_every_packed_blob(tmp_path, monkeypatch):
    """One store object serves the TUI's downloads on threads: two threads reading the same new
    manifest lines into the pack index both moved its read position, past lines never parsed, and
    records-based reads then looked for a blob file that does not exist (FileNotFoundError). The
    two are made to open the manifest at the same moment, which only the index's lock prevents."""
    import builtins
    import threading

    from emulator import blobs
    from emulator.blobs import StoredObject

    writer, reader = LocalStore(tmp_path / "store"), LocalStore(tmp_path / "store")
    records = []
    for number in range(50):
        body = f"checkpoint {number}".encode()
        put_small(writer, f"jobs/j/artifacts/f{number}", body)
        records.append(StoredObject(f"jobs/j/artifacts/f{number}", len(body), hashlib.sha256(body).hexdigest()))
    together = threading.Barrier(2, timeout=1)

    def opening(path, *args, **kwargs):
        if str(path).endswith(".jsonl"):
            try:
                together.wait()  # both threads inside the index's read at once: only without its lock
            except threading.BrokenBarrierError:
                pass
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(blobs, "open", opening, raising=False)
    threads = [threading.Thread(target=reader._packed_at, args=(records[0].key, records[0].sha256)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    for number in range(100):  # the job goes on: the manifest grows past twice its size
        body = f"later {number}".encode()
        put_small(writer, f"jobs/j/artifacts/later{number}", body)
        records.append(StoredObject(f"jobs/j/artifacts/later{number}", len(body), hashlib.sha256(body).hexdigest()))
    for record in records:
        assert reader.get_to(record.key, tmp_path / "out", known=record).sha256 == record.sha256


def test_an_object_whose_file_is_gone_is_one_paragraph_not_a_traceback(tmp_path):
    """A pack (or blob) removed outside cycle: pull and --mount-job met a raw FileNotFoundError."""
    import shutil

    from emulator.blobs import ObjectMissing

    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j-1/artifacts/ckpt.txt", b"weights")
    shutil.rmtree(tmp_path / "store" / "packs")
    with pytest.raises(ObjectMissing, match=r"no object jobs/j-1/artifacts/ckpt.txt in local folder .* is gone"):
        store.get_to("jobs/j-1/artifacts/ckpt.txt", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_manifest_line_cut_inside_a_character_is_skipped_like_any_cut_line(tmp_path):
    """A full disk cut a line inside a multi-byte character: every list, read and archive of the job
    then failed with UnicodeDecodeError instead of skipping that line."""
    store = LocalStore(tmp_path / "store")
    put_small(store, "jobs/j/artifacts/before", b"before")
    manifest = tmp_path / "store" / "manifests" / "jobs" / "j.jsonl"
    with open(manifest, "ab") as f:
        f.write('{"key": "artifacts/caf\u00e9'.encode()[:-1])  # cut inside the é
    put_small(LocalStore(tmp_path / "store"), "jobs/j/artifacts/after", b"after")
    assert [o.key for o in store.list("jobs/j/")] == ["jobs/j/artifacts/after", "jobs/j/artifacts/before"]
    store.get_to("jobs/j/artifacts/after", tmp_path / "after")
    assert (tmp_path / "after").read_bytes() == b"after"
    assert store.delete_prefix("jobs/j/artifacts/") == 2


def test_archive_removes_a_pack_no_line_names(tmp_path):
    """A writer killed between its first pack write and that blob's line left a pack that no sweep
    of lines found: archiving the job left it on disk for good."""
    store = LocalStore(tmp_path / "store")
    folder = tmp_path / "store" / "packs" / "jobs" / "j-1"
    folder.mkdir(parents=True)
    (folder / "0123456789abcdef.pack").write_bytes(b"a blob whose line never came")
    assert store.delete_prefix("jobs/j-1/artifacts/") == 0
    assert not folder.exists()
    put_small(store, "jobs/j-2/artifacts/kept", b"kept")
    assert store.delete_prefix("jobs/j-2/artifacts/other") == 0  # a pack still named stays
    store.get_to("jobs/j-2/artifacts/kept", tmp_path / "kept")
    assert (tmp_path / "kept").read_bytes() == b"kept"
