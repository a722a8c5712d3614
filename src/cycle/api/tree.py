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
    both lists in the order given (the store's: by path). A job with no such clash (nearly every
    one) costs one pass and no sort: the TUI asks on every poll."""
    artifacts = list(artifacts)
    paths = {artifact.path for artifact in artifacts}
    if not any(parent in paths for artifact in artifacts for parent in _folders_above(artifact.path)):
        return artifacts, []
    files: set[str] = set()
    folders: set[str] = set()
    superseded: set[int] = set()
    for index in sorted(range(len(artifacts)), key=lambda i: artifacts[i].uploaded_ns, reverse=True):
        path = artifacts[index].path
        parents = _folders_above(path)
        if path in folders or any(parent in files for parent in parents):
            superseded.add(index)
            continue
        files.add(path)
        folders.update(parents)
    return ([a for i, a in enumerate(artifacts) if i not in superseded],
            [a for i, a in enumerate(artifacts) if i in superseded])


def _folders_above(path: str) -> list[str]:
    """"a/b/c" -> ["a", "a/b"]."""
    folders = []
    end = path.find("/")
    while end > 0:
        folders.append(path[:end])
        end = path.find("/", end + 1)
    return folders
