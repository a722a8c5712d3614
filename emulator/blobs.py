"""Where artifacts are stored: one small BlobStore interface, two implementations.

- LocalStore: a folder under the emulator home, content-addressed like the C3 page describes
  (blobs/sha256/<ab>/<hex>, one manifest per job), so `cycle project test` needs no set-up. A
  job's small artifacts are appended to pack files of their job instead (packs/jobs/<job>/, see
  LocalStore.put_bytes): a file each cost more than `cp` pays for the whole copy.
  It survives restarts (files on disk); it does not fsync, so a power cut may lose the last writes.
- S3Store: any S3 API reached through localstack-client (boto3 underneath, multipart through
  boto3's transfer manager): moto's server that `cycle emulator storage start` runs on 127.0.0.1,
  or a LocalStack the user already runs.

Both take a *snapshot* (a private copy the uploader made and hashed) so what is stored is never a
file caught half-written, and both record every object's sha256 and check it after the upload.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import functools
import hashlib
import itertools
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from cycle.errors import CycleError

CHUNK = 1024 * 1024
HASH_BUFFER = 256 * 1024
MULTIPART_THRESHOLD = 64 * 1024 * 1024
SMALL_OBJECT = 8 * 1024 * 1024  # up to this size one PUT, checked by its ETag
# An in-place upload's parts: boto3's own chunk size. moto's server spent ~10 % more CPU on a
# GiB in 16 MiB parts (this store's size until the thirteenth session) than in 8 MiB ones, and the
# uploads waited on it. S3 takes at most MAX_PARTS parts, so a file over 78 GiB goes in larger
# ones (part_size_for). OLD_PART_SIZE: the size every in-place upload used before, which _vouches
# still reads an untagged object back at (its parts are checked at the size they were sent).
PART_SIZE = 8 * 1024 * 1024
OLD_PART_SIZE = 16 * 1024 * 1024
MAX_PARTS = 10_000
MIB = 1024 * 1024

IN_PLACE_CONCURRENCY = 8
PARALLEL_COPY = 8 * 1024 * 1024  # from this size a snapshot hashes and copies on two threads at once
SMALL_SNAPSHOT = 1024 * 1024  # up to this size an artifact's snapshot is its bytes in memory, no file
EXPECT_CONTINUE_ABOVE = 1024 * 1024
"""A PUT of a body up to this size is sent at once, without `Expect: 100-continue` (botocore asks
for it on every PutObject): waiting for the server's go-ahead is one more round trip, which halved
the puts a second to cycle's moto server for 4 KiB files (7.7 ms a put, 3.9 without). The
go-ahead only saves sending a large body the server would refuse; curl sends it above 1 MiB too."""
# Each part of an in-place upload carries its CRC32, as boto3's upload_file sends it: the server
# checks every part, and combines the parts' CRC32s at completion. Without an algorithm named at
# creation, moto joins the whole object once more and checksums it again (CRC64NVME, falling back
# to CRC32 of all the bytes): ~1/4 more server CPU per large file on its GIL-bound server.
PART_CHECKSUM = "CRC32"
Progress = Callable[[int], None]
LOCAL_STORE_NAME = "local"
PACKS = "packs"  # the local store's folder of pack files, packs/<namespace>/ (LocalStore.put_bytes)
PACKED_REMEMBERED = 100_000  # packed blobs a store object remembers, not to append the same bytes twice


def part_size_for(size: int, least: int | None = None) -> int:
    """The part size of an in-place upload of `size` bytes: `least` (PART_SIZE), or for a file that
    would need more than MAX_PARTS of them, the least whole number of MiB that fits it in
    MAX_PARTS (a 100 GiB checkpoint: 11 MiB parts)."""
    least = PART_SIZE if least is None else least
    return max(least, -(-size // (MAX_PARTS * MIB)) * MIB)


def manifest_line(key: str, sha256: str, size: int, ts: int, pack: str | None = None, offset: int = 0) -> bytes:
    """One manifest line, byte for byte what json.dumps({"key", "sha256", "size", "ts"[, "pack",
    "offset"]}, ensure_ascii=False) + newline makes, without building an encoder per stored file:
    only the key needs escaping (the digest and a pack's name are hex, the rest are integers)."""
    quoted = json.encoder.encode_basestring(key)  # the escaping json.dumps uses with ensure_ascii=False
    where = "" if pack is None else f', "pack": "{pack}", "offset": {offset:d}'
    return f'{{"key": {quoted}, "sha256": "{sha256}", "size": {size:d}, "ts": {ts:d}{where}}}\n'.encode()


def crc32_b64(data: bytes) -> str:
    """The CRC32 of `data` as S3 shows a checksum: its 4 big-endian bytes in base64."""
    import zlib

    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def composite_crc32(part_crcs: list[str]) -> str:
    """S3's checksum of a multipart object from its parts' base64 CRC32s: the base64 CRC32 of the
    parts' 4-byte big-endian CRC32s joined (without the "-<parts>" S3 may append)."""
    return crc32_b64(b"".join(base64.b64decode(crc) for crc in part_crcs))


def part_crc32s(path: Path, part_size: int) -> list[str]:
    """The CRC32 of each `part_size` piece of the file, as S3 reports a part's."""
    with open(path, "rb") as handle:
        return [crc32_b64(body) for body in iter(lambda: handle.read(part_size), b"")]


def s3_store_name(localstack_host: str, bucket: str) -> str:
    return f"s3://{localstack_host}/{bucket}"


def s3_description(localstack_host: str, bucket: str) -> str:
    """How an S3 store is named to the user (S3Store.description, `storage status`)."""
    return f"S3 bucket {bucket} at {localstack_host}"


S3_UNREACHABLE_FIX = ("Start the S3 server with `cycle emulator storage start`, or switch to the local folder "
                      "store with `cycle emulator storage use local`.")


def s3_client_config(**overrides):
    """botocore's Config for every S3 client of the emulator: two attempts, a 3 s connect timeout."""
    from botocore.config import Config

    settings = {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 3, "read_timeout": 120,
                "max_pool_connections": 16}
    return Config(**{**settings, **overrides})


class StorageError(CycleError):
    """Storage did not take or give back an object (after the client's own retries)."""


class ObjectMissing(StorageError):
    """A store no longer has an object its record says it stored (a restarted in-memory S3 server,
    a deleted object): the same exit code as every storage error, never boto's raw text."""


MISSING_OBJECT_CAUSE = ("someone deleted it, or the server lost it: an S3 server that keeps objects in memory, as "
                        "moto does, forgets every object when it restarts")
"""Why an S3 object may be gone, when the store cannot say more (S3Store.explain_missing)."""


def missing_object(key: str, size: int | None, description: str, cause: str) -> ObjectMissing:
    """One paragraph: what is missing, where, why, and what to do (a job's artifact or an upload);
    `size` is the record's, None when no record named the object."""
    recorded = "" if size is None else f" ({size} bytes are recorded as stored there)"
    return ObjectMissing(f"no object {key} in {description}{recorded}: the server no longer has it: {cause}. "
                         f"Nothing was downloaded for it. {_remake(key)}; to keep artifacts across restarts, "
                         "use the local store (`cycle emulator storage stop`, or `cycle emulator storage use local`) "
                         "or an S3 server that keeps its objects (`cycle emulator storage use s3 --host H:P`).")


def _remake(key: str) -> str:
    """How to get a lost object back: run its job again, or upload it again."""
    if key.startswith("jobs/"):
        job = key.split("/")[1]
        return (f"Run the job again to make its artifacts again; `cycle job archive {job}` drops the lost record "
                "(its log stays)")
    return "Upload it again (`cycle volume upload`, `cycle project upload`)"


def local_missing_object(key: str, size: int, description: str, path: Path) -> ObjectMissing:
    """One paragraph for an object whose file in the local store is gone (removed outside cycle)."""
    return ObjectMissing(f"no object {key} in {description} ({size} bytes are recorded as stored there): its file "
                         f"{path} is gone (removed outside cycle?). Nothing was downloaded for it. {_remake(key)}.")


class FileChanged(Exception):
    """The file changed while it was uploaded in place: nothing was stored; upload it again later."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str | None
    stored_ns: int | None = None  # when it was stored, where the store says (a local manifest line's ts)
    pack: str | None = None  # the local store's pack file holding it (LocalStore.put_bytes), at `offset`
    offset: int = 0


class BlobStore(Protocol):
    description: str
    name: str  # what an artifact record keeps to find this store again: "local" or "s3://<host>/<bucket>"
    snapshot_dir: Path

    def put_snapshot(self, key: str, snapshot: Path, sha256: str, size: int) -> None:
        """Store `snapshot` under `key`. On success the store has taken the file (moved or deleted
        it); on failure it is left for a retry."""

    def put_bytes(self, key: str, body: bytes, sha256: str) -> None:
        """Store a small file's snapshot held in memory (`body`, whose sha256 is `sha256`)."""

    def get_to(self, key: str, dest: Path, progress: Progress | None = None,
               known: StoredObject | None = None) -> StoredObject:
        """Write the object to `dest` atomically (a short temporary name renamed), checking its sha256.
        `known` (size and sha256 recorded at upload) saves asking the store first."""

    def list(self, prefix: str) -> list[StoredObject]: ...

    def head(self, key: str) -> StoredObject | None: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete the objects under `prefix`, and the bytes no other key still references."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


SNAPSHOT_PREFIX = "snap-"


def snapshot_prefix(pid: int) -> str:
    """Snapshot names start with their process's pid: one killed mid-copy (a copy may be GBs) is
    found and removed when its death is noticed (recovery.remove_snapshots), never a live one's."""
    return f"{SNAPSHOT_PREFIX}{pid}-"


def snapshot_pid(name: str) -> int | None:
    """The pid in a snapshot's name (snapshot_prefix); None for any other name."""
    pid, dash, _ = name.removeprefix(SNAPSHOT_PREFIX).partition("-")
    return int(pid) if name.startswith(SNAPSHOT_PREFIX) and dash and pid.isdigit() else None


def snapshot_file(path: Path | str, into: Path, opener: Callable[[Path | str], int] | None = None
                  ) -> tuple[Path, str, int]:
    """A private copy of `path` in `into`, hashed: (copy, sha256, size).

    The source is opened once, without following a link (or by `opener`, which returns a
    descriptor for reading: an artifact's is checked to be a regular file in its job's
    /artifacts), and copied in the kernel (copy_file_range) into the private file; the sha256 is
    of that private file's bytes, read back as the copy writes them (_copy_and_hash). What is
    stored is then exactly what was hashed, however the job writes its file meanwhile: two reads
    of the source, one to hash and one to copy, could see different bytes (a write through a
    shared mmap moves neither time, so no signature check sees it), and storage would have kept
    bytes that do not match their sha256 under a blob others deduplicate onto. The caller's
    before/after signature check keeps a file that changed during the copy out, as before."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix=snapshot_prefix(os.getpid()), dir=into)
    try:
        with os.fdopen(fd, "r+b") as out:
            source_fd = opener(path) if opener else os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                size = os.fstat(source_fd).st_size
                sha256, copied = _copy_and_hash(source_fd, out.fileno(), size, parallel=size >= PARALLEL_COPY)
            finally:
                os.close(source_fd)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), sha256, copied


COPY_STEP = 4 * 1024 * 1024  # the copy hands the hash this much at a time
NO_KERNEL_COPY = {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}  # copy_file_range cannot: read and write


def _copy_and_hash(src: int, dst: int, size: int, parallel: bool) -> tuple[str, int]:
    """Copy up to `size` bytes of `src` into `dst` in the kernel, COPY_STEP at a time, and sha256
    what was written, read back from `dst` (from the page cache: it was just written there).
    `parallel` (a large file): the copy runs on another thread, ahead of the hash, which follows
    it step by step (both release the GIL), so the whole costs about max(hash, copy), not their
    sum. (sha256, bytes copied: fewer than `size` when the source ended sooner)."""
    import threading

    digest, hashed = hashlib.sha256(), 0
    buffer = bytearray(HASH_BUFFER)
    view = memoryview(buffer)

    def hash_up_to(end: int) -> None:
        nonlocal hashed
        while hashed < end:
            got = os.preadv(dst, [view[:min(HASH_BUFFER, end - hashed)]], hashed)
            if not got:
                raise OSError(errno.EIO, "the snapshot ended before the bytes copied into it", str(dst))
            digest.update(view[:got])
            hashed += got

    copied = 0

    def next_step() -> int:
        """The next step's bytes copied (0: all `size` bytes are, or the source ended)."""
        return _copy_step(src, dst, copied, min(COPY_STEP, size - copied)) if copied < size else 0

    if not parallel:
        while step := next_step():
            copied += step
            hash_up_to(copied)
        return digest.hexdigest(), hashed

    done, failed, cancelled = False, [], threading.Event()
    progress = threading.Condition()

    def copy() -> None:
        nonlocal copied, done
        try:
            while not cancelled.is_set() and (step := next_step()):
                with progress:
                    copied += step
                    progress.notify()
        except BaseException as error:  # noqa: BLE001 - raised on the hashing thread below
            failed.append(error)
        finally:
            with progress:
                done = True
                progress.notify()

    worker = threading.Thread(target=copy, name="snapshot-copy", daemon=True)
    worker.start()
    try:
        while True:
            with progress:
                while hashed >= copied and not done:
                    progress.wait()
                ready, finished = copied, done
            hash_up_to(ready)
            if finished and hashed >= copied:
                break
    except BaseException:
        cancelled.set()  # the hash failed: the copy stops at its next step
        raise
    finally:
        worker.join()
    if failed:
        raise failed[0]
    return digest.hexdigest(), hashed


def _copy_step(src: int, dst: int, offset: int, length: int) -> int:
    """Copy `length` bytes at `offset` (the same offset in both) in the kernel, or by plain reads
    when the kernel cannot (EXDEV on old kernels, a file system without it): the bytes copied,
    0 at the source's end."""
    try:
        if copied := os.copy_file_range(src, dst, length, offset, offset):
            return copied
        # 0: the end, or a kernel or file system that copies nothing for this file (procfs-like
        # files, some copies across file systems): a plain read tells which
    except OSError as error:
        if error.errno not in NO_KERNEL_COPY:
            raise  # a full disk, an I/O error: the copy fails as a plain one would
    chunk = os.pread(src, length, offset)
    written = 0
    while written < len(chunk):
        written += os.pwrite(dst, chunk[written:], offset + written)
    return len(chunk)


def store_once(blobs: BlobStore, prefix: str, path: Path) -> tuple[str, int, int]:
    """Store `path` under <prefix>/<sha256> unless that object exists: (sha256, size, bytes stored)."""
    snapshot, sha256, size = snapshot_file(path, blobs.snapshot_dir)
    stored = 0
    try:
        key = f"{prefix}/{sha256}"
        if blobs.head(key) is None:
            blobs.put_snapshot(key, snapshot, sha256, size)
            stored = size
    finally:
        snapshot.unlink(missing_ok=True)
    return sha256, size, stored


PART_PREFIX = ".cycle-part-"


def part_name(dest: Path) -> Path:
    """A fresh temporary name in `dest`'s folder for writing `dest`. Short and fixed in length, so a
    255-byte final name (the longest Linux allows) never makes it too long, as `<name>.part` would."""
    import secrets

    return dest.with_name(f"{PART_PREFIX}{secrets.token_hex(8)}")


def _download(found: StoredObject | None, key: str, dest: Path, description: str,
              fetch: Callable[[Path], None], vouches: Callable[[Path, str], bool] | None = None) -> StoredObject:
    """The shared part of every get_to: a missing object is an error; bytes land in a temporary
    file next to `dest`, which is removed when anything fails and renamed into place only once its
    sha256 matches the record's, or the object itself vouches for them (see _finish_download)."""
    if found is None:
        raise StorageError(f"no object {key} in {description}")
    part = part_name(dest)
    try:
        fetch(part)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return _finish_download(part, dest, key, found.sha256, vouches)


def _finish_download(part: Path, dest: Path, key: str, expected: str | None,
                     vouches: Callable[[Path, str], bool] | None = None) -> StoredObject:
    """`vouches(part, sha256)` (S3, downloads checked against a record): whether the object itself
    proves the downloaded bytes are one whole version of it (S3Store._vouches). An S3 key holds one
    version, so an agent killed between a put and its record leaves the object a version ahead of
    the record; such bytes are taken, the returned StoredObject saying which they are."""
    try:
        actual = sha256_file(part)
        if expected and actual != expected and vouches is not None and vouches(part, actual):
            expected = actual
    except BaseException:  # the check itself failed (a HEAD): no half-checked copy stays next to dest
        part.unlink(missing_ok=True)
        raise
    if expected and actual != expected:
        part.unlink(missing_ok=True)
        raise StorageError(f"object {key} does not match its recorded sha256 ({actual[:12]} != {expected[:12]}); "
                           f"nothing was written to {dest}.")
    size = part.stat().st_size
    os.chmod(part, 0o644)  # a plain file whatever the umask: modes are never restored from storage (no setuid)
    os.replace(part, dest)
    return StoredObject(key, size, actual)


@dataclass
class _Pack:
    """A pack file this store object appends small blobs to: its descriptor, name, and size (the
    offset of the next blob: only this object, in the process that made it, writes it)."""

    fd: int
    name: str
    size: int = 0
    pid: int = field(default_factory=os.getpid)  # a forked child appends to a pack of its own


class _KeptFiles:
    """The descriptors a LocalStore keeps open between stored files; closed with the store."""

    def __init__(self) -> None:
        self.lock: int | None = None
        self.manifests: dict[str, int] = {}
        self.packs: dict[str, _Pack] = {}  # namespace -> the pack its small blobs go to
        # namespace -> {sha256: (pack, offset)}: the blobs appended to the namespace's pack (`packs`)
        self.packed: dict[str, dict[str, tuple[str, int]]] = {}
        self.sweeps_seen = -1  # the lock file's size when the manifests were opened (see LocalStore._writing)

    def close_manifests(self) -> None:
        """Close the manifests and packs kept open: a sweep may have replaced or removed them."""
        manifests, self.manifests = self.manifests, {}
        for fd in manifests.values():
            os.close(fd)
        for namespace in list(self.packs):
            self.drop_pack(namespace)

    def drop_pack(self, namespace: str) -> None:
        """Stop appending to the namespace's pack (the next small blob starts a new one)."""
        pack = self.packs.pop(namespace, None)
        if pack is not None:
            os.close(pack.fd)
            self.packed.pop(namespace, None)  # they are all in that pack: a namespace appends to one at a time

    def close(self) -> None:
        self.close_manifests()
        if self.lock is not None:
            os.close(self.lock)
        self.lock = None


class _SharedLock:
    """LocalStore._writing's lock as one reusable context manager (see _writing). It holds the
    store's kept files, not the store: the store object stays free of reference cycles, so its
    files close as soon as it is dropped."""

    def __init__(self, lock_file: str, kept: _KeptFiles) -> None:
        self._lock_file = lock_file
        self._kept = kept
        self._writer = threading.Lock()

    def __enter__(self) -> None:
        self._writer.acquire()
        try:
            self._share()
        except BaseException:
            self._writer.release()
            raise

    def _share(self) -> None:
        kept = self._kept
        if kept.lock is None:
            kept.lock = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(kept.lock, fcntl.LOCK_SH)
        try:
            sweeps = os.fstat(kept.lock).st_size
            if sweeps != kept.sweeps_seen:
                kept.close_manifests()
                kept.sweeps_seen = sweeps
        except BaseException:
            fcntl.flock(kept.lock, fcntl.LOCK_UN)
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            fcntl.flock(self._kept.lock, fcntl.LOCK_UN)
        finally:
            self._writer.release()


def _ends_a_line(fd: int) -> bool:
    """Whether the file open at `fd` is empty or ends with a newline."""
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def _make_fanout(blob_root: str) -> None:
    """blobs/sha256 with its 256 folders (00 to ff), made once with the store, so a blob's folder
    is there before its first blob. put_snapshot still makes a folder that is missing (a store
    made before, or a make interrupted)."""
    os.makedirs(blob_root, exist_ok=True)
    for folder in range(256):
        try:
            os.mkdir(f"{blob_root}/{folder:02x}")
        except FileExistsError:
            pass


class StoredInPart(OSError):
    """A batch (LocalStore.put_many_bytes) whose first `stored` files are stored and the rest not:
    the disk refused the manifest line of the next (`error`, an OSError such as ENOSPC)."""

    def __init__(self, stored: int, error: OSError) -> None:
        super().__init__(error.errno, error.strerror, error.filename)
        self.stored = stored


_Blob = tuple[str, bytes, str]  # the rest of a key past its namespace, body, sha256


def _runs_of_one_manifest(lines: list[tuple[str, bytes]]) -> Iterator[tuple[str, list[bytes]]]:
    """(manifest, line) pairs in order as runs of one manifest each: a write per run keeps the order."""
    for manifest, run in itertools.groupby(lines, key=lambda pair: pair[0]):
        yield manifest, [line for _manifest, line in run]


def _parses(line: bytes) -> bool:
    """Whether a manifest's last bytes are a whole line but its newline (a line cut short by a full
    disk ends before its closing brace, so it never parses)."""
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


class _PackIndex:
    """The packed blobs one manifest names, sha256 -> (pack, offset), read up to `read` bytes of
    the manifest whose inode is `inode`, as it was after the store's `sweeps`-th sweep."""

    def __init__(self, inode: int, sweeps: int) -> None:
        self.inode = inode
        self.sweeps = sweeps
        self.read = 0
        self.blobs: dict[str, tuple[str, int]] = {}

    def read_on(self, manifest: Path) -> None:
        """Take in the lines appended since the last read (whole lines only: one being written
        now is read next time; a line a full disk cut short is skipped, as every reader does, and
        one it left without its newline is taken, as every reader does)."""
        with open(manifest, "rb") as f:
            f.seek(self.read)
            data = f.read()
        end = data.rfind(b"\n") + 1
        lines = data[:end].splitlines()
        if end < len(data) and _parses(data[end:]):  # a last line that lacks only its newline (a full disk)
            lines.append(data[end:])
            end = len(data)
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("pack"):
                self.blobs[record["sha256"]] = (record["pack"], record["offset"])
        self.read += end


class LocalStore:
    """Content-addressed folder store: blobs by sha256 (a job's small ones in its pack files), an
    append-only manifest per job."""

    quick_puts = True  # a small file is stored in ~0.1 ms, as long as recording it: records are batched

    def __init__(self, root: Path) -> None:
        self.root = root
        self.snapshot_dir = root / "tmp"
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        (root / "blobs").mkdir(exist_ok=True)
        (root / "manifests").mkdir(exist_ok=True)
        self.description = f"local folder {root}"
        self.name = LOCAL_STORE_NAME
        self._folders: set[Path | str] = set()
        self._blob_root = os.fspath(root / "blobs" / "sha256")
        if not os.path.isdir(self._blob_root):
            _make_fanout(self._blob_root)
        self._lock_file = os.fspath(root / "lock")
        self._manifest_files: dict[str, str] = {}  # namespace -> its manifest's path, made once
        # A writer's open files, kept between stored files (see _writing): the lock file, each
        # manifest appended to, the blobs/sha256 folder, and the lock file's size when those
        # manifests were opened.
        self._kept = _KeptFiles()
        weakref.finalize(self, self._kept.close)
        self._pack_indexes: dict[Path, _PackIndex] = {}  # manifest -> its packed blobs (_packed_at)
        self._index_lock = threading.Lock()
        self._shared = _SharedLock(self._lock_file, self._kept)

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """Writers (shared) and a sweep (exclusive) never interleave: a sweep could otherwise delete
        a blob that a writer has just found present and is about to reference. Writers take theirs
        through _writing directly (one context manager less per stored file)."""
        if not exclusive:
            with self._writing():
                yield
            return
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the file releases the lock

    def _writing(self) -> _SharedLock:
        """The shared (writer) lock, on a lock file kept open by this store object, with the
        manifests it appended to kept open too: storing a small file costs no open or close.

        A sweep (delete_prefix) replaces or removes a manifest, so a descriptor kept open could
        append to a file no longer in place. Each sweep therefore grows the lock file by one byte,
        under its exclusive lock and before it touches a manifest; a writer, holding the shared
        lock, compares the lock file's size with the size it saw when it opened its manifests and
        reopens them when a sweep ran since (a sweep that dies half-way has already grown it).
        Puts through one store object go one at a time (flock is per open file, which the
        object's threads share). One object, entered once per stored file (a generator-based
        context manager costs more than the lock's system calls)."""
        return self._shared

    def _append_line(self, manifest: str, line: bytes) -> None:
        """One line appended (_append_lines); OSError when the disk cut it short."""
        if not self._append_lines(manifest, [line]):
            raise OSError(errno.ENOSPC, "the disk took only part of the manifest's line", manifest)

    def _append_lines(self, manifest: str, lines: list[bytes]) -> int:
        """One write of `lines` on the manifest's O_APPEND descriptor, under _writing; how many of
        them are whole in it: all, or when the disk cut the write short (full), those before the
        cut, a line that lacks only its newline included (every reader takes it: it parses; they
        skip a part of one). Whether the manifest ends inside a line is read before every write
        (one fstat and a one-byte pread a batch): any writer, another process or store object
        included, then starts on a line of its own, so the lines never merge (merged, both would be
        lost, the one that lacked only its newline with them). One write for a batch's lines: a
        write each cost ~1.5 us a file."""
        fd = self._kept.manifests.get(manifest)
        if fd is None:
            fd = os.open(manifest, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._kept.manifests[manifest] = fd
        start = b"" if _ends_a_line(fd) else b"\n"
        data = start + b"".join(lines)
        written = os.write(fd, data)
        if written == len(data):
            return len(lines)
        end, whole = len(start), 0
        for line in lines:
            if end + len(line) - 1 > written:  # more than its newline is missing
                break
            end, whole = end + len(line), whole + 1
        return whole

    def _blob(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / sha256

    def _manifest(self, key: str) -> tuple[Path, str, str]:
        """The manifest of the key's namespace (its first two parts, e.g. jobs/<job>), the namespace,
        and the rest of the key."""
        parts = key.split("/", 2)
        if len(parts) < 3 or not all(parts):
            raise StorageError(f"storage key {key!r} has no namespace (expected e.g. jobs/<job>/...)")
        return self._namespace_manifest(parts[0], parts[1]), f"{parts[0]}/{parts[1]}", parts[2]

    def _namespace_manifest(self, kind: str, name: str) -> Path:
        """The manifest of namespace <kind>/<name> (jobs/<job>, volumes/<volume>, projects/<project>)."""
        return self.root / "manifests" / kind / f"{name}.jsonl"

    def put_snapshot(self, key: str, snapshot: Path, sha256: str, size: int) -> None:
        with self._writing():
            blob = self._blob(sha256)
            if blob.exists():
                snapshot.unlink(missing_ok=True)  # deduplicated: same bytes stored once
            else:
                self._folder(os.fspath(blob.parent))
                os.replace(snapshot, blob)
            self._check_blob(key, blob, sha256, size)
            self._record(key, sha256, size)

    def put_bytes(self, key: str, body: bytes, sha256: str) -> None:
        """Store a small file's in-memory snapshot (its bytes, already hashed): put_many_bytes of one."""
        self.put_many_bytes([(key, body, sha256)])

    def put_many_bytes(self, blobs: list[tuple[str, bytes, str]]) -> None:
        """Store small files' in-memory snapshots ((key, bytes, sha256), already hashed), in order,
        under one hold of the writer lock: their bytes appended to a pack file of each key's
        namespace (packs/<namespace>/<random>.pack, one per store object and namespace) in one
        write, then their manifest lines (one write per manifest), each naming pack and offset.

        A blob file each cost a new inode, a temporary name and a rename, about as much as `cp`
        spends on a whole small file (one flat loop of the same steps: 0.45 of `cp` with a file
        per blob, 0.77 with a pack, in benchmarks/run.sh); the lock and a pack write per file
        cost as much as reading and hashing it, hence the batch (the uploader's, while its queue
        stays busy). Every key is checked before anything is written, and what the pack holds
        (its size, the bytes remembered for deduplication) is taken in only once its write is
        whole: a batch that fails leaves the next one nothing wrong to build on. A manifest line
        names only bytes already in the pack: bytes a failed write left at a pack's end are named
        by no line, and the next blob goes to a new pack. When the disk cuts the lines' write short,
        the files whose lines are whole (_append_lines) are stored and the rest not, and
        StoredInPart says how many. The same bytes stored again by this object in the namespace
        are not appended again. Reads check every byte against the line's sha256
        (get_to), as for blob files."""
        if not blobs:
            return
        with self._writing():
            now = time.time_ns()
            one = self._one_namespace(blobs)  # the first key checked
            if one is not None:  # a job's batch: one pack, one manifest, lines in the batch's order
                manifest, namespace, cut = one
                runs: Iterable[tuple[str, list[bytes]]] = [(manifest, self._pack_namespace(
                    namespace, [(key[cut:], body, sha256) for key, body, sha256 in blobs], now))]
            else:
                runs = _runs_of_one_manifest(self._pack_namespaces(blobs, now))
            stored = 0
            for manifest, run in runs:
                try:
                    whole = self._append_lines(manifest, run)
                except OSError as error:
                    raise StoredInPart(stored, error) from error
                stored += whole
                if whole < len(run):
                    raise StoredInPart(stored, OSError(errno.ENOSPC, "the disk took only part of the manifest's "
                                                                     "lines", manifest))

    def _one_namespace(self, blobs: list[tuple[str, bytes, str]]) -> tuple[str, str, int] | None:
        """(manifest, namespace, where the rest of each key starts) when every key is in the first
        key's namespace (each starts with it and a slash, and has more after it: what
        _manifest_file finds for it), else None. The first key is checked (StorageError)."""
        manifest, namespace, _rest = self._manifest_file(blobs[0][0])
        prefix = namespace + "/"
        cut = len(prefix)
        return (manifest, namespace, cut) if all(
            len(key) > cut and key.startswith(prefix) for key, _body, _sha256 in blobs) else None

    def _pack_namespaces(self, blobs: list[tuple[str, bytes, str]], now: int) -> list[tuple[str, bytes]]:
        """A batch across namespaces: each namespace's blobs packed (_pack_namespace, every key
        checked first), and each blob's (manifest, line) in the batch's order."""
        placed = [(*self._manifest_file(key), body, sha256) for key, body, sha256 in blobs]  # keys checked
        groups: dict[tuple[str, str], list[tuple[int, _Blob]]] = {}
        for number, (manifest, namespace, rest, body, sha256) in enumerate(placed):
            groups.setdefault((namespace, manifest), []).append((number, (rest, body, sha256)))
        numbered: dict[int, tuple[str, bytes]] = {}
        for (namespace, manifest), items in groups.items():
            lines = self._pack_namespace(namespace, [blob for _number, blob in items], now)
            numbered.update((number, (manifest, line)) for (number, _blob), line in zip(items, lines))
        return [numbered[number] for number in range(len(placed))]

    def _pack_namespace(self, namespace: str, items: list[_Blob], now: int) -> list[bytes]:
        """Append the bodies of one namespace's `items` ((rest of key, body, sha256)) to its pack in
        one write (under _writing), the bytes it already holds, or a body earlier in the batch, not
        again: each one's manifest line in the items' order, to be written once the pack is."""
        pack = self._kept.packs.get(namespace)
        if pack is None or pack.pid != os.getpid():
            pack = self._new_pack(namespace)
        offset, bodies, here = pack.size, [], {}  # here: sha256 -> (pack, offset), the bytes this batch appends
        packed = self._kept.packed.setdefault(namespace, {})
        lines = []
        for rest, body, sha256 in items:
            where = packed.get(sha256) or here.get(sha256)
            if where is None:
                where = here[sha256] = (pack.name, offset)
                bodies.append(body)
                offset += len(body)
            lines.append(manifest_line(rest, sha256, len(body), now, *where))
        self._append_to_pack(namespace, pack, b"".join(bodies))
        pack.size = offset  # whole: taken in
        if sum(map(len, self._kept.packed.values())) + len(here) > PACKED_REMEMBERED:
            for known in self._kept.packed.values():
                known.clear()  # a job of millions of small files: a duplicate may be packed again
        packed.update(here)
        return lines

    def _append_to_pack(self, namespace: str, pack: _Pack, data: bytes) -> None:
        """`data` at the end of the namespace's pack (under _writing)."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(pack.fd, view):]
        except BaseException:
            self._kept.drop_pack(namespace)  # part of a blob at its end, which no line names: a new pack next
            raise

    def _new_pack(self, namespace: str) -> _Pack:
        """A new, empty pack file of the namespace, kept open for appending (under _writing), in
        place of the one kept before (a forked child's copy of its parent's)."""
        self._kept.drop_pack(namespace)
        folder = f"{self.root}/{PACKS}/{namespace}"
        os.makedirs(folder, exist_ok=True)  # a sweep removes a folder it empties
        name = f"{os.urandom(8).hex()}.pack"
        fd = os.open(f"{folder}/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
        pack = self._kept.packs[namespace] = _Pack(fd, name)
        return pack

    def _pack_path(self, key: str, pack: str) -> Path:
        """The pack a manifest line names, in the key's namespace's pack folder and nowhere else."""
        if not pack.endswith(".pack") or "/" in pack or pack.startswith("."):
            raise StorageError(f"the manifest line of {key} names the pack {pack!r}, which is not a pack's name")
        _, namespace, _ = self._manifest(key)
        return self.root / PACKS / namespace / pack

    def _packed_at(self, key: str, sha256: str) -> tuple[str, int] | None:
        """Where the key's namespace keeps a blob of `sha256` in a pack, when it does: for a
        download that knows the key, size and sha256 from its record, not the pack. The manifest is
        read once per store object and then only as it grows (it is appended to; a sweep that
        rewrites it makes it a new file, read again)."""
        manifest, _, _ = self._manifest(key)
        with self._index_lock:  # one store object may serve downloads on several threads (the TUI's)
            while True:
                sweeps = self._sweeps()
                try:
                    info = os.stat(manifest)
                except FileNotFoundError:
                    return None
                index = self._pack_indexes.get(manifest)
                if index is None or (index.inode, index.sweeps) != (info.st_ino, sweeps) or info.st_size < index.read:
                    # a sweep rewrote or removed the manifest since: a new one may even have the
                    # old one's inode number (freed, then reused), and as long a file
                    index = self._pack_indexes[manifest] = _PackIndex(info.st_ino, sweeps)
                if info.st_size > index.read:
                    index.read_on(manifest)
                if self._sweeps() == sweeps:  # no sweep began meanwhile: what was read is the manifest's
                    return index.blobs.get(sha256)
                del self._pack_indexes[manifest]

    def _folder(self, folder: Path | str) -> None:
        """Make `folder` once per store object (blob and manifest folders are never removed)."""
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    @staticmethod
    def _check_blob(key: str, blob: Path | str, sha256: str, size: int) -> None:
        """The blob a manifest line is about to name holds `size` bytes."""
        if (found := os.stat(blob).st_size) != size:
            raise StorageError(f"blob {sha256[:12]} for {key} has {found} bytes, expected {size}")

    def _manifest_file(self, key: str) -> tuple[str, str, str]:
        """The key's manifest (a plain string, its folder made once per namespace), its namespace and
        the rest of the key: what `_manifest` says, without building paths for every stored file."""
        slash = key.find("/", key.find("/") + 1)  # the end of the namespace: kind/name
        namespace, rest = key[:slash], key[slash + 1:]
        manifest = self._manifest_files.get(namespace) if slash > 0 and rest else None  # (known: checked)
        if manifest is None:
            path, namespace, rest = self._manifest(key)  # checks the key; raises when it has no namespace
            self._folder(os.fspath(path.parent))
            manifest = self._manifest_files[namespace] = os.fspath(path)
        return manifest, namespace, rest

    def _record(self, key: str, sha256: str, size: int) -> None:
        """Append the key's manifest line (one write on an O_APPEND descriptor: a line is whole or
        absent), once the blob it names is in place and checked."""
        manifest, _, rest = self._manifest_file(key)
        self._append_line(manifest, manifest_line(rest, sha256, size, time.time_ns()))

    def _entries(self, manifest: Path, namespace: str) -> dict[str, StoredObject]:
        entries: dict[str, StoredObject] = {}
        if not manifest.exists():
            return entries
        with open(manifest, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line being appended right now
                key = f"{namespace}/{record['key']}"
                entries[key] = StoredObject(key, record["size"], record["sha256"], record.get("ts"),
                                            record.get("pack"), record.get("offset", 0))
        return entries

    def list(self, prefix: str) -> list[StoredObject]:
        parts = prefix.split("/", 2)
        if len(parts) >= 2 and parts[1]:
            manifests = [(self._namespace_manifest(parts[0], parts[1]), f"{parts[0]}/{parts[1]}")]
        else:
            folder = self.root / "manifests" / parts[0]
            manifests = [(m, f"{parts[0]}/{m.stem}") for m in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []
        found = []
        for manifest, namespace in manifests:
            found += [o for k, o in sorted(self._entries(manifest, namespace).items()) if k.startswith(prefix)]
        return found

    def head(self, key: str) -> StoredObject | None:
        manifest, namespace, _ = self._manifest(key)
        return self._entries(manifest, namespace).get(key)

    def get_to(self, key: str, dest: Path, progress: Progress | None = None,
               known: StoredObject | None = None) -> StoredObject:
        found = known or self.head(key)

        def fetch(part: Path) -> None:
            packed = (found.pack, found.offset) if found.pack else self._packed_at(key, found.sha256)
            source, offset, left = (self._pack_path(key, packed[0]), packed[1], found.size) if packed else (
                self._blob(found.sha256), 0, None)  # a blob file is read to its end: every byte is checked
            try:
                src = open(source, "rb")
            except FileNotFoundError:
                raise local_missing_object(key, found.size, self.description, source) from None
            with src, open(part, "wb") as out:
                src.seek(offset)
                while chunk := src.read(CHUNK if left is None else min(CHUNK, left)):
                    out.write(chunk)
                    if left is not None:
                        left -= len(chunk)
                    if progress:
                        progress(len(chunk))

        return _download(found, key, dest, self.description, fetch)

    def delete_prefix(self, prefix: str) -> int:
        """Forget the objects under `prefix` (every stored version), then delete each of their blobs
        that no manifest references any more (another job, a volume or a project version may share
        the same bytes: those stay), and each pack of the namespace that no line names any more (a
        pack is its namespace's alone; one that still holds a kept object stays whole)."""
        with self._locked(exclusive=True):
            doomed = self.list(prefix)
            if not doomed:
                self._remove_unnamed_packs(prefix)
                return 0
            self._count_sweep()
            manifest, namespace, _ = self._manifest(doomed[0].key)
            kept, dropped, kept_packs = self._split_lines(manifest, namespace, prefix)
            if kept:
                tmp = manifest.with_suffix(".tmp")
                tmp.write_text("".join(kept), encoding="utf-8")
                os.replace(tmp, manifest)
            else:
                manifest.unlink()
            for sha256 in dropped - self._referenced():
                self._blob(sha256).unlink(missing_ok=True)
            self._remove_packs(namespace, keep=kept_packs)
        return len(doomed)

    def _remove_unnamed_packs(self, prefix: str) -> None:
        """The packs of `prefix`'s namespace that no manifest line names: a writer killed (or cut
        short by a full disk) between its first pack write and that blob's line left a pack no
        sweep of lines would find. Under the exclusive lock; writers reopen (_count_sweep)."""
        parts = prefix.split("/", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            return
        namespace = f"{parts[0]}/{parts[1]}"
        folder = self.root / PACKS / namespace
        if not folder.is_dir():
            return
        manifest = self._namespace_manifest(parts[0], parts[1])
        named = self._split_lines(manifest, namespace, "\0")[2] if manifest.exists() else set()  # every line kept
        if any(pack.name not in named for pack in folder.iterdir()):
            self._count_sweep()
            self._remove_packs(namespace, keep=named)

    def _remove_packs(self, namespace: str, keep: set[str]) -> None:
        """Delete the namespace's packs not in `keep` (under the exclusive lock: no writer is
        appending; one that kept a pack open starts a new one, as _count_sweep tells it), and
        the namespace's pack folder once empty."""
        folder = self.root / PACKS / namespace
        if not folder.is_dir():
            return
        for pack in folder.iterdir():
            if pack.name not in keep:
                pack.unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:  # packs stay
            pass

    def _sweeps(self) -> int:
        """How many sweeps this store has seen (_count_sweep): the lock file's size."""
        try:
            return os.stat(self._lock_file).st_size
        except FileNotFoundError:
            return 0

    def _count_sweep(self) -> None:
        """Grow the lock file by a byte (under the exclusive lock, before any manifest changes):
        writers that kept a manifest open see it and reopen (_writing)."""
        fd = os.open(self._lock_file, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            os.write(fd, b"\n")
        finally:
            os.close(fd)

    @staticmethod
    def _split_lines(manifest: Path, namespace: str, prefix: str) -> tuple[list[str], set[str], set[str]]:
        """The manifest's lines outside `prefix` (kept as they are), the sha256 of every line
        under it (each version, not only the newest), and the packs the kept lines name."""
        kept, dropped, packs = [], set(), set()
        with open(manifest, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if f"{namespace}/{record['key']}".startswith(prefix):
                    dropped.add(record["sha256"])
                else:
                    kept.append(line if line.endswith("\n") else line + "\n")
                    if record.get("pack"):
                        packs.add(record["pack"])
        return kept, dropped, packs

    def _referenced(self) -> set[str]:
        """The sha256 of every version every manifest (jobs, volumes, projects) still names."""
        found = set()
        for manifest in (self.root / "manifests").glob("*/*.jsonl"):
            with open(manifest, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        found.add(json.loads(line)["sha256"])
                    except (json.JSONDecodeError, KeyError):
                        continue
        return found


def _no_expect_for_a_small_body(request, **_) -> None:
    """botocore's before-send hook: see EXPECT_CONTINUE_ABOVE."""
    length = request.headers.get("Content-Length")
    if length is not None and int(length) <= EXPECT_CONTINUE_ABOVE and "Expect" in request.headers:
        del request.headers["Expect"]


def _expect_continue(params, **_) -> None:
    """botocore's before-call hook for an in-place part sent as bytes (S3Store._parts_client): it
    waits for the server's go-ahead before sending its body, as a part sent from a file object does."""
    params["headers"]["Expect"] = "100-continue"


class S3Store:
    """An S3 bucket through localstack-client; `localstack_host` is "host:port"."""

    # Files above this size are uploaded straight from the job's folder (no private copy): the
    # multipart upload is completed only if the file is still unchanged, else aborted.
    in_place_threshold = SMALL_OBJECT

    def __init__(self, localstack_host: str, bucket: str, snapshot_dir: Path) -> None:
        self.bucket = bucket
        self.snapshot_dir = snapshot_dir
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        self.description = s3_description(localstack_host, bucket)
        self.name = s3_store_name(localstack_host, bucket)
        self._host = localstack_host
        # who writes: the home whose snapshot folder this is (each home has its own), put on every object
        # so a version ahead of its record is taken only from this home (_vouches), never another's
        self.writer = hashlib.sha256(os.fsencode(snapshot_dir.resolve())).hexdigest()[:16]
        # why an object the records name may be gone, asked only once one is: storage.py says more
        # for cycle's moto server (asking whether it answers is a request, not paid on every open)
        self.explain_missing: Callable[[], str] = lambda: MISSING_OBJECT_CAUSE
        self.client = self._new_client()
        self.client.meta.events.register("before-send.s3.PutObject", _no_expect_for_a_small_body)
        self._ensure_bucket()

    def _new_client(self, extra=None):
        """An S3 client for this store's server (`extra`: more botocore Config merged in)."""
        config = s3_client_config()
        return self._session.client("s3", config=config.merge(extra) if extra else config)

    @functools.cached_property
    def _session(self):
        """One session for this store's clients: a second client reuses the service model it loaded."""
        from localstack_client.session import Session

        return Session(localstack_host=self._host)

    def _call(self, what: str, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"{what} failed on {self.description}: {error}") from None

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("checking the bucket", self.client.head_bucket, Bucket=self.bucket)
        except StorageError as error:
            if (not isinstance(error.__context__, ClientError) and "Not Found" not in str(error)
                    and "404" not in str(error)):
                raise StorageError(f"{error.message}. {S3_UNREACHABLE_FIX}") from None
            self._call("creating the bucket", self.client.create_bucket, Bucket=self.bucket)

    def _transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD // 4,
                              max_concurrency=8, use_threads=True)

    def put_snapshot(self, key: str, snapshot: Path, sha256: str, size: int) -> None:
        if size <= SMALL_OBJECT:
            self._put_small(key, snapshot, sha256)
        else:
            self._put_large(key, snapshot, sha256, size)
        snapshot.unlink(missing_ok=True)

    def _put_small(self, key: str, snapshot: Path, sha256: str) -> None:
        self.put_bytes(key, snapshot.read_bytes(), sha256)

    def put_bytes(self, key: str, body: bytes, sha256: str) -> None:
        """One PUT of an in-memory snapshot; its ETag (the MD5 of what the server stored) proves the
        bytes arrived whole."""
        answer = self._call(f"uploading {key}", self.client.put_object, Bucket=self.bucket, Key=key, Body=body,
                            Metadata={"sha256": sha256, "writer": self.writer})
        if answer.get("ETag", "").strip('"') != hashlib.md5(body).hexdigest():
            raise StorageError(f"after uploading {key}, the server's ETag {answer.get('ETag')} does not match the "
                               "bytes sent")

    def put_in_place(self, key: str, source: BinaryIO, size: int, still_same: Callable[[], bool]) -> str:
        """Multipart upload of the open file `source` (from its start) as it is, in ONE pass: each
        part is hashed as it is read and sent while the next parts are read (parts go in
        parallel; files still go one at a time), so a large file is read once, not hashed first
        and read again. The sha256 of exactly the bytes sent is returned and recorded on the object
        as its `sha256` tag (metadata must be given before the first part, when the hash is not
        known yet; a tag is set in one small request, where rewriting metadata copies the object).
        No path is opened again (a link swapped in cannot be followed). Completed only when `size`
        bytes were sent and `still_same()` holds at the end, so a file written to meanwhile never
        becomes a stored (torn) object. Each part carries its CRC32, and the object the server
        stored must report the CRC32 of those parts (_check_in_place)."""
        started = self._call(f"uploading {key}", self.client.create_multipart_upload, Bucket=self.bucket, Key=key,
                             ChecksumAlgorithm=PART_CHECKSUM, Metadata={"writer": self.writer})
        upload_id = started["UploadId"]
        try:
            sha256, sent_size, parts = self._send_parts(key, upload_id, source, part_size_for(size))
            if sent_size != size or not still_same():
                raise FileChanged(key)
            self._call(f"uploading {key}", self.client.complete_multipart_upload, Bucket=self.bucket, Key=key,
                       UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException as error:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:
                pass
            if isinstance(error, (FileChanged, StorageError, KeyboardInterrupt)):
                raise
            raise StorageError(f"uploading {key} failed on {self.description}: {error}") from None
        self._call(f"recording the sha256 of {key}", self.client.put_object_tagging, Bucket=self.bucket, Key=key,
                   Tagging={"TagSet": [{"Key": "sha256", "Value": sha256}]})
        self._check_in_place(key, size, sha256, parts)
        return sha256

    def _send_parts(self, key: str, upload_id: str, source: BinaryIO, part_size: int) -> tuple[str, int, list[dict]]:
        """Read `source` part by part on this thread, hashing each part while pool threads send it
        (at most IN_PLACE_CONCURRENCY parts read and not yet sent): (sha256, bytes read, parts)."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        slots = threading.Semaphore(IN_PLACE_CONCURRENCY)
        client = self._parts_client  # made here, once, not by the first sending threads at the same time

        def send(number: int, body: bytes) -> dict:
            try:
                answer = client.upload_part(Bucket=self.bucket, Key=key, PartNumber=number, UploadId=upload_id,
                                            Body=body, ChecksumAlgorithm=PART_CHECKSUM)
                return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}
            finally:
                slots.release()

        futures, sent, sent_size = [], hashlib.sha256(), 0
        source.seek(0)
        with ThreadPoolExecutor(IN_PLACE_CONCURRENCY) as pool:
            number = 1
            while True:
                slots.acquire()
                body = source.read(part_size)
                if not body and number > 1:
                    slots.release()
                    break
                futures.append(pool.submit(send, number, body))  # sent while it is hashed here
                sent.update(body)
                sent_size += len(body)
                number += 1
                if len(body) < part_size:
                    break
            parts = [f.result() for f in futures]
        return sent.hexdigest(), sent_size, parts

    @functools.cached_property
    def _parts_client(self):
        """The client that sends in-place parts: like `client`, but without SigV4's sha256 of each
        body (on plain http botocore hashes every part for the signature, a second sha256 of the
        whole file on the uploading machine's CPU). Each part's CRC32 goes in its header instead,
        which S3 checks on arrival and _check_in_place checks again end to end: what boto3 itself
        does over https. A part's bytes, already in memory, go as they are, in one write: botocore
        wraps an UploadPart body in a file object, which its HTTP connection then reads and sends
        16 KiB at a time (~5 % of the uploading machine's CPU on a GiB, measured side by side); the
        part still asks for the server's `100 Continue` first, as botocore does for a file body."""
        from botocore.config import Config
        from botocore.handlers import convert_body_to_file_like_object

        client = self._new_client(Config(s3={"payload_signing_enabled": False}))
        client.meta.events.unregister("before-parameter-build.s3.UploadPart", convert_body_to_file_like_object)
        client.meta.events.register("before-call.s3.UploadPart", _expect_continue)
        return client

    def _check_in_place(self, key: str, size: int, sha256: str, parts: list[dict]) -> None:
        """The stored object has `size` bytes, the `sha256` tag, and the CRC32 the server computed from
        the bytes it stored equals the composite of the parts' CRC32s as sent (S3's multipart
        checksum: the CRC32 of the parts' big-endian CRC32s, shown as "<base64>-<parts>")."""
        answer = self._call(f"reading {key}", self.client.head_object, Bucket=self.bucket, Key=key,
                            ChecksumMode="ENABLED")
        expected = composite_crc32([part["ChecksumCRC32"] for part in parts])
        stored_crc = (answer.get("ChecksumCRC32") or "").split("-")[0]
        tagged = self._tagged_sha256(key)
        if answer["ContentLength"] != size or stored_crc != expected or tagged != sha256:
            raise StorageError(f"after uploading {key}, storage holds {answer['ContentLength']} bytes with CRC32 "
                               f"{stored_crc or 'unknown'} and sha256 {(tagged or 'unknown')[:12]} instead of {size} "
                               f"bytes with CRC32 {expected} and sha256 {sha256[:12]}")

    def _put_large(self, key: str, snapshot: Path, sha256: str, size: int) -> None:
        """Multipart through boto3's transfer manager, then a HEAD to check size and recorded sha256."""
        self._call(f"uploading {key}", self.client.upload_file, str(snapshot), self.bucket, key,
                   ExtraArgs={"Metadata": {"sha256": sha256, "writer": self.writer}}, Config=self._transfer_config())
        stored = self.head(key)
        if stored is None or stored.size != size or stored.sha256 != sha256:
            raise StorageError(f"after uploading {key}, storage holds {stored} instead of {size} bytes with sha256 "
                               f"{sha256[:12]}")

    def head(self, key: str) -> StoredObject | None:
        answer = self._head_object(key)
        if answer is None:
            return None
        sha256 = answer.get("Metadata", {}).get("sha256") or self._tagged_sha256(key)
        return StoredObject(key, answer["ContentLength"], sha256)

    def _head_object(self, key: str, **extra) -> dict | None:
        """The server's HEAD answer for `key`; None when there is no such object."""
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key, **extra)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"reading {key} failed on {self.description}: {error}") from None
        except Exception as error:  # connection errors
            raise StorageError(f"reading {key} failed on {self.description}: {error}") from None

    def _tagged_sha256(self, key: str) -> str | None:
        """The sha256 an in-place upload recorded as a tag (its metadata could not hold it)."""
        answer = self._call(f"reading {key}", self.client.get_object_tagging, Bucket=self.bucket, Key=key)
        return next((t["Value"] for t in answer.get("TagSet", []) if t["Key"] == "sha256"), None)

    def get_to(self, key: str, dest: Path, progress: Progress | None = None,
               known: StoredObject | None = None) -> StoredObject:
        found = known or self.head(key)
        if found is None:
            raise missing_object(key, None, self.description, self.explain_missing())

        def fetch(part: Path) -> None:
            with self._missing_as(key, found.size):
                if found.size <= SMALL_OBJECT:  # one GET (download_file would ask for the size first)
                    answer = self._call(f"downloading {key}", self.client.get_object, Bucket=self.bucket, Key=key)
                    body = answer["Body"].read()
                    part.write_bytes(body)
                    if progress:
                        progress(len(body))
                else:
                    self._call(f"downloading {key}", self.client.download_file, self.bucket, key, str(part),
                               Callback=progress, Config=self._transfer_config())

        vouches = (lambda part, sha256: self._vouches(key, part, sha256)) if known is not None else None
        return _download(found, key, dest, self.description, fetch, vouches=vouches)

    def _vouches(self, key: str, part: Path, sha256: str) -> bool:
        """Whether the object proves `part` (downloaded from it, hashing to `sha256`) is one whole
        version this home stored. Only an object this home wrote answers (`writer`): another home
        sharing the bucket may have a job of the same name, whose bytes are never this job's. Its
        own sha256 (metadata, or an in-place upload's tag) must match. An in-place upload killed
        after completing but before its tag carries none; it was completed only once the file was
        whole (put_in_place), and the CRC32s of `part`'s parts must give the object's composite."""
        answer = self._head_object(key, ChecksumMode="ENABLED") or {}
        metadata = answer.get("Metadata", {})
        if metadata.get("writer") != self.writer:
            return False
        own = metadata.get("sha256") or self._tagged_sha256(key)
        if own is not None:
            return own == sha256
        stored = (answer.get("ChecksumCRC32") or "").split("-")[0]
        count = answer.get("ETag", "").strip('"').rpartition("-")[2]  # a multipart ETag ends "-<parts>"
        size = part.stat().st_size
        for part_size in {part_size_for(size), part_size_for(size, OLD_PART_SIZE)}:  # as it was sent, now or before
            if stored and count == str(max(1, -(-size // part_size))):
                if composite_crc32(part_crc32s(part, part_size)) == stored:
                    return True
        return False

    @contextmanager
    def _missing_as(self, key: str, size: int) -> Iterator[None]:
        """A download the server answers with NoSuchKey (GET) or 404 (download_file's HEAD) becomes
        ObjectMissing, saying why the object may be gone (explain_missing); other errors pass."""
        from botocore.exceptions import ClientError

        try:
            yield
        except StorageError as error:
            cause = error.__context__
            code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise missing_object(key, size, self.description, self.explain_missing()) from None
            raise

    def unfinished_uploads(self, prefix: str) -> list[tuple[str, str]]:
        """(key, upload id) of every multipart upload begun under `prefix` and neither completed nor
        aborted: an in-place upload whose agent was killed leaves one, its parts kept (and, on S3,
        billed) until someone aborts it."""
        found = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in self._call(f"listing unfinished uploads under {prefix}", list, pages):
            found += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        return found

    def abort_upload(self, key: str, upload_id: str) -> None:
        self._call(f"aborting the upload of {key}", self.client.abort_multipart_upload, Bucket=self.bucket, Key=key,
                   UploadId=upload_id)

    def list(self, prefix: str) -> list[StoredObject]:
        found = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in self._call(f"listing {prefix}", list, pages):
            found += [StoredObject(o["Key"], o["Size"], None) for o in page.get("Contents", [])]
        return found

    def delete_prefix(self, prefix: str) -> int:
        keys = [o.key for o in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            self._call(f"deleting {prefix}", self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch})
        return len(keys)
