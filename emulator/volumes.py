"""Volumes and job chaining: read-only data mounted into jobs.

A volume version is a list of files (path, sha256, size) kept in state.db; the bytes live in the
blob store under volumes/<name>/<sha256>, so a file that did not change between versions is
stored once, and an unchanged re-upload stores nothing and makes no new version. At job start the
version a manifest names is materialized once under <home>/volumes/<name>/v<N>/ and bound
read-only at /volumes/<name>. Chaining mounts an earlier job's stored artifacts the same way.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cycle.api.keys import artifact_relative
from cycle.api.manifest import VOLUME_RE
from cycle.api.wording import listed
from cycle.errors import BadInput
from emulator.blobs import BlobStore, StoredObject, store_once
from emulator.models import now_ns

RESERVED_MOUNTS = ("/app", "/artifacts", "/volumes")
NAME_MAX = 255  # bytes per file name on Linux
PATH_MAX = 4095  # bytes per path on Linux (4096 with the terminating NUL)
FOLDER_MODE = 0o755  # a materialized volume or mounted job's artifacts: readable by every user
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755  # a file uploaded with an execute bit (a tool, a script): still runnable in the job


@dataclass(frozen=True)
class VolumeVersion:
    name: str
    version: int
    files: dict[str, list]  # path -> [sha256, size], or [sha256, size, EXECUTABLE_MODE] (file_entry)
    new_bytes: int
    created_ns: int
    folders: tuple[str, ...] = ()  # empty folders, kept as `cp -r` keeps them (a split with no files yet)

    @property
    def size(self) -> int:
        return sum(entry[1] for entry in self.files.values())

    def executables(self) -> set[str]:
        """The paths uploaded with an execute bit (versions made before modes were kept have none)."""
        return {rel for rel, entry in self.files.items() if len(entry) > 2 and entry[2] == EXECUTABLE_MODE}


def file_entry(sha256: str, size: int, mode: int) -> list:
    """A version's record of one file. Only the execute bit is kept, as git keeps it: a file with any
    execute bit is materialized 0755, every other 0644 (readable by a job that drops root; the
    mount is read-only, so no write bit matters). A plain file's record is the two-item form
    versions had before, so re-uploading an unchanged folder still makes no new version."""
    return [sha256, size, EXECUTABLE_MODE] if mode & 0o111 else [sha256, size]


def check_volume_name(name: str) -> str:
    if name.startswith("builtin/"):
        raise BadInput(f"volume {name!r}: built-in volumes are provided by the platform and cannot be uploaded or "
                       "changed.")
    if not VOLUME_RE.match(name):
        raise BadInput(f"{name!r} is not a volume name. Use 1-63 letters, digits, '.', '_' or '-', starting with a "
                       "letter or digit.")
    return name


def check_volume_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder. `cycle volume upload NAME DIR` uploads the files under DIR.")
    return folder


def never_uploaded(name: str) -> BadInput:
    """The one answer for a volume name no version has, whether or not the home exists yet."""
    return BadInput(f"volume {name!r} was never uploaded. `cycle volume list` shows the volumes.")


@dataclass
class VolumeScan:
    """What `cycle volume upload` found under DIR. The upload runs on the user's machine with the
    user's rights, so links are followed as `cp -rL` and `aws s3 sync` do (shards often live on
    another disk): a link is stored as its target's bytes under the link's own name. What could
    not be followed (a dangling link, a link cycle, a socket or FIFO) is named in `skipped`, never
    dropped in silence."""

    folder: Path
    files: list[tuple[str, Path]] = field(default_factory=list)  # (path in the volume, file to read)
    folders: list[str] = field(default_factory=list)  # folders with no file below them, made again in the job
    links_followed: int = 0
    skipped: list[str] = field(default_factory=list)  # one line each


def scan_volume_folder(folder: Path) -> VolumeScan:
    """The files a new version of the volume would hold; an empty folder is refused, as a version
    with nothing in it is almost always a wrong path, not a wish."""
    check_volume_folder(folder)
    scan = VolumeScan(folder)
    _walk(scan, folder, "", {_identity(folder): "."})
    _check_readable(scan)
    if not scan.files:
        found = f" (skipped: {'; '.join(scan.skipped[:5])})" if scan.skipped else ""
        raise BadInput(f"{folder} holds no files to upload{found}. A volume version needs at least one file: "
                       "check the path, or put the data in it (links to files and folders are followed).")
    scan.files.sort()
    scan.folders.sort()
    return scan


def _walk(scan: VolumeScan, folder: Path, prefix: str, ancestors: dict[tuple[int, int], str]) -> None:
    """Add the files under `folder` (following links) to `scan`. `ancestors` maps the identity of
    each folder the walk is inside to its path in the volume: a way back to one is a cycle, skipped."""
    for entry in _entries(folder):
        rel, path = prefix + entry.name, Path(entry.path)
        link = entry.is_symlink()
        if link and (gone := _unreachable(path)):
            scan.skipped.append(f"{rel}: {gone} (-> {os.readlink(path)})")
            continue
        if entry.is_dir():
            identity = _identity(path)
            if identity in ancestors:
                scan.skipped.append(f"{rel}: a link cycle (it leads back to {ancestors[identity]!r}, a folder it is "
                                    "inside, whose files are uploaded once)")
                continue
            scan.links_followed += link
            found = len(scan.files) + len(scan.folders)
            _walk(scan, path, rel + "/", {**ancestors, identity: rel})
            if len(scan.files) + len(scan.folders) == found:
                scan.folders.append(rel)  # nothing below it would make it: it is kept by name
        elif entry.is_file():
            scan.links_followed += link
            scan.files.append((rel, Path(os.path.realpath(path)) if link else path))
        else:
            scan.skipped.append(f"{rel}: not a regular file or folder (a socket, FIFO or device)")


def _unreachable(link: Path) -> str | None:
    """Why the link leads nowhere (it does not exist, a loop of links), or None when it leads to
    something. A target that exists but is not ours to see is refused, not called dangling (is_dir
    and exists() answer False for both, so it was named a dangling link or a device)."""
    try:
        os.stat(link)
    except FileNotFoundError:
        return "a dangling link, to nothing that exists"
    except PermissionError:
        raise BadInput(f"{link} links to {os.readlink(link)}, which cannot be reached (permission denied). Give "
                       "yourself access to it (`chmod -R u+rX`) or move the link out of the volume's folder.") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a loop of links (each leads to the other)"
        return f"a link that cannot be followed ({error.strerror})"
    return None


def _check_readable(scan: VolumeScan) -> None:
    """Every file the upload would read opens for reading, checked before a byte is stored: a file
    found unreadable mid-upload left a traceback and part of the version stored."""
    unreadable = []
    for rel, path in scan.files:
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            unreadable.append(f"{rel} ({error.strerror})" if str(path) == str(scan.folder / rel)
                              else f"{rel} -> {path} ({error.strerror})")
    if unreadable:
        raise BadInput(f"{len(unreadable)} file(s) under {scan.folder} cannot be read: {listed(unreadable, 10)}"
                       ". Nothing was uploaded. Give yourself read access (`chmod -R u+rX {scan.folder}`) "
                       "or move them out of the volume's folder.")


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except PermissionError:
        raise BadInput(f"{folder} cannot be read (permission denied). Give yourself read access to it "
                       "(`chmod -R u+rX`) or move it out of the volume's folder.") from None


def _identity(folder: Path) -> tuple[int, int]:
    """The folder's (device, inode), the same through every link that leads to it."""
    found = folder.stat()
    return found.st_dev, found.st_ino


def upload_volume(store, blobs: BlobStore, name: str, scan: VolumeScan,
                  progress: Callable[[int, int], None] | None = None) -> tuple[VolumeVersion, bool]:
    """Store the scanned folder as the newest version of volume `name`. Returns (version, created)."""
    check_volume_name(name)
    files = scan.files
    total = sum(path.stat().st_size for _, path in files)
    manifest: dict[str, list] = {}
    new_bytes = done = 0
    for rel, path in files:
        sha256, size, stored = store_once(blobs, f"volumes/{name}", path)
        new_bytes += stored
        manifest[rel] = file_entry(sha256, size, path.stat().st_mode)
        done += size
        if progress:
            progress(done, total)
    folders = tuple(scan.folders)
    latest = store.volume_versions(name)
    if latest and latest[-1].files == manifest and latest[-1].folders == folders:
        return latest[-1], False
    version = VolumeVersion(name, (latest[-1].version + 1) if latest else 1, manifest, new_bytes, now_ns(), folders)
    store.add_volume_version(version)
    return version, True


def latest_version(store, name: str, place: str | None = None) -> VolumeVersion:
    """The newest version of a volume the manifest names; `place` (`manifest.toml:line`, from
    cycle.api.manifest.volumes_place) leads the error when it was never uploaded, with the closest
    uploaded name when one is close (a typo is the usual cause)."""
    versions = store.volume_versions(name)
    if not versions:
        from cycle.api.manifest import did_you_mean

        where = f"{place}: " if place else ""
        hint = did_you_mean(name, store.volume_names())
        raise BadInput(f"{where}volume {name!r} (in [main] volumes) was never uploaded.{hint} "
                       f"Upload it with `cycle volume upload {name} DIR`, or remove it from the manifest "
                       "(`cycle volume list` shows the uploaded volumes).")
    return versions[-1]


def volume_folder(home: Path, store, blobs: BlobStore, name: str) -> tuple[Path, int]:
    """The latest version of the volume as a folder on this host (made once per version). One
    made before the modes were set (its top folder 0700) gets them now."""
    version = latest_version(store, name)
    folder = home / "volumes" / name / f"v{version.version}"
    if not folder.is_dir():
        stored = {rel: StoredObject(f"volumes/{name}/{entry[0]}", entry[1], entry[0])
                  for rel, entry in version.files.items()}
        materialize(folder, stored, blobs, version.executables(), version.folders)
    elif stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
        open_to_read(folder, version.executables())
    return folder, version.version


def materialize(folder: Path, keys: dict[str, StoredObject], blobs: BlobStore,
                executables: Collection[str] = (), folders: Collection[str] = ()) -> None:
    """Download {relative path: object} into a temporary folder (with the empty `folders`), then
    rename it into place."""
    materialize_from(folder, {rel: (found, blobs) for rel, found in keys.items()}, executables, folders)


def materialize_from(folder: Path, objects: dict[str, tuple[StoredObject, BlobStore]],
                     executables: Collection[str] = (), folders: Collection[str] = ()) -> None:
    """Like materialize, each object read from its own store; `executables` (relative paths) 0755."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    try:
        for rel, (found, blobs) in objects.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            blobs.get_to(found.key, target, known=found)
        for rel in folders:
            (staging / rel).mkdir(parents=True, exist_ok=True)
        open_to_read(staging, executables)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def open_to_read(tree: Path, executables: Collection[str] = ()) -> None:
    """Folders 0755 and files 0644 under `tree` (itself included), `executables` (paths relative to
    it) 0755: what a job reads at /volumes/<name> or a --mount-job path must be readable by any
    user, as a job may drop root (the staging folder is made 0700 and downloads private), and a
    tool uploaded executable stays runnable; the mount is read-only anyway."""
    os.chmod(tree, FOLDER_MODE)
    for base, folders, files in os.walk(tree):
        for name in folders:
            os.chmod(os.path.join(base, name), FOLDER_MODE)
        for name in files:
            path = os.path.join(base, name)
            runnable = bool(executables) and os.path.relpath(path, tree) in executables
            os.chmod(path, EXECUTABLE_MODE if runnable else FILE_MODE)


def check_mount_path(path: str) -> str:
    """A container path for `--mount-job`: absolute, written plainly, within Linux's limits, and
    clear of /app, /artifacts, /volumes. Refused here, before the job exists, because the engine
    would refuse it only when the container is created."""
    problem = _mount_path_problem(path)
    if problem:
        raise BadInput(f"--mount-job: mount path {_shorten(path)!r} {problem}")
    pure = PurePosixPath(path)
    for reserved in RESERVED_MOUNTS:
        if str(pure) == reserved or pure.is_relative_to(reserved) or PurePosixPath(reserved).is_relative_to(pure):
            raise BadInput(f"mount path {path!r} collides with {reserved}, which the platform uses. Pick another, e.g. "
                           "/data/prev.")
    return str(pure)


def _mount_path_problem(path: str) -> str | None:
    """Why `path` cannot be a mount point in the container, or None."""
    example = "e.g. /data/prev"
    if not path.startswith("/"):
        return f"must be an absolute folder in the container, {example}."
    if any(ord(c) < 32 or ord(c) == 127 for c in path) or ":" in path:
        return f"holds a control character or ':', which a mount point cannot carry. Use a plain path, {example}."
    parts = [part for part in path.split("/") if part]
    if ".." in parts:
        return f"must not contain '..'. Name the folder directly, {example}."
    plain = "/" + "/".join(part for part in parts if part != ".")
    if plain == "/":
        return f"is the container's root; it must be an absolute folder below /, {example}."
    if plain != path.rstrip("/"):
        return f"is not written plainly (repeated '/' or '.'); write it as {plain!r}."
    longest = max(len(part.encode()) for part in parts)
    if longest > NAME_MAX:
        return (f"has a {longest}-byte folder name; Linux allows at most {NAME_MAX} bytes per name. "
                f"Shorten it, {example}.")
    if len(path.encode()) > PATH_MAX:
        return (f"is {len(path.encode())} bytes long; Linux allows at most {PATH_MAX} bytes per path. "
                f"Shorten it, {example}.")
    return None


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def job_artifacts_folder(home: Path, store, blobs: BlobStore, job_name: str) -> Path:
    """An earlier job's stored artifacts as a folder on this host, for a read-only mount."""
    job = store.job_by_name(job_name)
    if job is None:
        raise BadInput(f"--mount-job: no job named {job_name!r}. `cycle job list` shows the jobs.")
    if job.archived:
        raise BadInput(f"--mount-job: job {job_name} is archived: its artifacts were deleted from storage "
                       "(`cycle job archive`), so there is nothing to mount.")
    artifacts = store.artifacts(job.id)
    if not artifacts:
        raise BadInput(f"--mount-job: job {job_name} has no stored artifacts to mount.")
    digest = hashlib.sha256(json.dumps([(a.path, a.sha256) for a in artifacts]).encode()).hexdigest()[:12]
    folder = home / "mounts" / f"{job_name}-{digest}"
    if not folder.is_dir():
        from emulator.storage import StoreCache

        stores = StoreCache(home, blobs)  # each record names the store that holds it
        objects = {os.fsdecode(artifact_relative(job_name, a.key)):
                   (StoredObject(a.key, a.size, a.sha256), stores.get(a.store))
                   for a in artifacts}
        materialize_from(folder, objects)
    return folder
