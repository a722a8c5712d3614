"""A job's stored files as one folder tree. Pure.

Storage keeps a file the job deleted (the spec), so a job that replaced the file `ckpt` by a folder
`ckpt/` (or a folder by a file) has records for both, and no folder can hold both: a restore onto a
new machine or a pull must write one. The newer wins, as on the job's own disk, where the newer
replaced the older.
"""

from __future__ import annotations

from collections.abc import Iterable

from cycle.api.models import Artifact


def newest_tree(artifacts: Iterable[Artifact]) -> tuple[list[Artifact], list[Artifact]]:
    """(kept, superseded): the artifacts that fit in one tree, newest first by the time each was
    stored, each kept unless a newer one sits at a folder above it or in a folder at its path;
    both lists in path order."""
    files: set[str] = set()
    folders: set[str] = set()
    kept: list[Artifact] = []
    superseded: list[Artifact] = []
    for artifact in sorted(artifacts, key=lambda a: a.uploaded_ns, reverse=True):
        parents = _folders_above(artifact.path)
        if artifact.path in folders or any(parent in files for parent in parents):
            superseded.append(artifact)
            continue
        kept.append(artifact)
        files.add(artifact.path)
        folders.update(parents)
    return sorted(kept, key=lambda a: a.path), sorted(superseded, key=lambda a: a.path)


def _folders_above(path: str) -> list[str]:
    """"a/b/c" -> ["a", "a/b"]."""
    parts = path.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts))]
