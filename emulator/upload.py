"""`cycle project upload` and `cycle job queue`: project versions, as the platform keeps them.

An upload snapshots the project's files (not .git, not .cycleswap/jobs, not what .cycleignore
lists) into the blob store under projects/<name>/<sha256> (unchanged files are stored once) and
records a version in state.db (an unchanged upload keeps the latest one); it builds the image
with the same cache as `project test`.
`cycle job queue` materializes the latest version and starts it detached; the job then waits for
the scheduler's next pass (every 60 s on the platform; $CYCLE_SCHEDULER_SECONDS here).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cycle.errors import BadInput
from emulator.blobs import BlobStore, StoredObject, store_once
from emulator.context import project_files
from emulator.settings import load
from emulator.volumes import materialize

SCHEDULER_SECONDS = 60.0


def scheduler_interval() -> float:
    return load().scheduler_seconds


def next_pass(now: float, interval: float) -> float:
    """Seconds until the scheduler's next pass (passes fall on multiples of the interval)."""
    return interval - (now % interval)


def upload_project(store, blobs: BlobStore, name: str, root: Path, progress: Callable[[int, int], None] | None = None):
    """Store the project's files as a new version; returns (version number, files, new bytes, whether a
    version was made): files that are the latest version's, path for path, keep it (no new version)."""
    files = {rel: path for rel, path in project_files(root).items() if path.is_file() and not path.is_symlink()}
    total = sum(p.stat().st_size for p in files.values())
    manifest, new_bytes, done = {}, 0, 0
    for rel, path in sorted(files.items()):
        sha256, size, stored = store_once(blobs, f"projects/{name}", path)
        new_bytes += stored
        manifest[rel] = [sha256, size, os.stat(path).st_mode & 0o777]
        done += size
        if progress:
            progress(done, total)
    version, created = store.add_project_version(name, manifest)
    return version, manifest, new_bytes, created


def changes_since_upload(store, name: str, root: Path) -> tuple[int, list[str]] | None:
    """(latest version, what differs in `root` from it: "a.py changed", "b.py added", "c.py
    removed", sorted by path) for `cycle job queue`, which runs the uploaded version, not the
    folder: a user who edited and forgot `project upload` is told before the job runs old code.
    None when nothing was uploaded. A file is compared by size and permission bits, as
    upload_project records them, and only when both match by sha256."""
    found = store.project_versions(name)
    if not found:
        return None
    version, uploaded = found[-1]
    local = {rel: path for rel, path in project_files(root).items() if path.is_file() and not path.is_symlink()}
    return version, describe_changes(uploaded, local, _file_record)


def _file_record(path: Path, uploaded: list) -> tuple[str, int, int] | None:
    """The file as upload_project would record it ([sha256, size, mode]), hashed only when its size
    and mode match the uploaded record's (any other difference already tells); None when it is
    gone or unreadable since it was listed."""
    from emulator.blobs import sha256_file

    try:
        info = os.stat(path)
        size, mode = info.st_size, info.st_mode & 0o777
        if (size, mode) != (uploaded[1], uploaded[2]):
            return "", size, mode
        return sha256_file(path), size, mode
    except OSError:
        return None


def describe_changes(uploaded: dict[str, list], local: dict[str, Path],
                     record: Callable[[Path, list], tuple[str, int, int] | None]) -> list[str]:
    """Pure comparison of an uploaded version's files ({rel: [sha256, size, mode]}) with the
    folder's (`record(path, uploaded record)` reads one: only for paths both hold; None: gone)."""
    changes = [f"{rel} added" for rel in local if rel not in uploaded]
    changes += [f"{rel} removed" for rel in uploaded if rel not in local]
    for rel, path in local.items():
        if rel in uploaded:
            found = record(path, uploaded[rel])
            if found is None:
                changes.append(f"{rel} removed")
            elif tuple(found) != tuple(uploaded[rel]):
                changes.append(f"{rel} changed")
    return sorted(changes)


VERSIONS_DIR = "project-versions"
"""Where the emulator checks uploaded versions out (<home>/project-versions/<name>/v<N>/) to run them."""


def is_version_checkout(home: Path, folder: Path) -> bool:
    """Whether `folder` is the emulator's own copy of an uploaded version: it is never a user's
    project folder, so it never owns a project name and pull never writes into it."""
    return Path(folder).resolve().is_relative_to((home / VERSIONS_DIR).resolve())


def no_upload(name: str) -> BadInput:
    return BadInput(f"project {name!r} has no uploaded version. Run `cycle project upload` in it first.")


def checkout(home: Path, store, blobs: Callable[[], BlobStore], name: str) -> tuple[Path, int]:
    """The latest uploaded version of the project as a folder on this host; `blobs` opens the
    store only when the folder must be made (an unknown project opens nothing)."""
    found = store.project_versions(name)
    if not found:
        raise no_upload(name)
    version, files = found[-1]
    folder = home / VERSIONS_DIR / name / f"v{version}"
    if not folder.is_dir():
        stored = {rel: StoredObject(f"projects/{name}/{sha}", size, sha) for rel, (sha, size, _mode) in files.items()}
        materialize(folder, stored, blobs())
        for rel, (_sha, _size, mode) in files.items():
            os.chmod(folder / rel, mode)
    return folder, version
