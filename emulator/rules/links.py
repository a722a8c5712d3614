"""Symlinks inside /artifacts and the files they resolve to, as pure logic.

A link that resolves inside /artifacts is stored as its target's bytes, so it changes whenever its
target does, though the watcher only ever sees events on the target's path (a link's own lstat
never changes when its target is rewritten). Two rules keep such a link current:
- its signature is its target's (size, mtime_ns, ctime_ns, inode) (`link_signature`), so the stability
  window, the before/after checks of a snapshot and the end-of-job rescan all see the change;
- `LinkTargets` remembers which links resolve to which file, and through which links on the way
  (learnt when a link is uploaded), so an event on the target, or on a link passed on the way
  (`best.pt -> ckpt-7.pt` pointed at ckpt-8.pt), touches each of its links too. Empty (and so
  free) when a job has no links.
`resolve` follows a link as the job's container does, inside the job's folder alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from emulator.rules.stability import Signature

FILE, DIR, OTHER = "file", "dir", "other"  # what a link leads to inside the folder (OTHER: a FIFO, a device)
LINK = "link"  # what a Lookup says of a link on the way
OUT, LOOP, MISSING = "out", "loop", "missing"  # or why it leads to nothing there
MAX_HOPS = 40  # links followed for one path before it counts as a loop: the kernel's own limit (ELOOP)


@dataclass(frozen=True)
class Resolved:
    """Where a link leads: `kind` (FILE, DIR, OTHER; or OUT, LOOP, MISSING), `path` relative to the
    folder ("" for the folder itself; for MISSING the part that is not there, whose arrival
    changes the link; "" for OUT and LOOP), `passed` the links followed on the way (relative
    paths, the link itself first) and `text` the last one's text (what a skip event names)."""

    path: str
    kind: str
    passed: tuple[str, ...]
    text: str


Lookup = Callable[[str], "tuple[str, str] | None"]
"""What is at a path relative to the folder, not following it: (LINK, its text), (FILE, ""),
(DIR, "") or (OTHER, ""); None when nothing is."""


def resolve(rel: str, mount: tuple[str, ...], lookup: Lookup) -> Resolved:
    """`rel` (relative to the job's folder) resolved as the job's container resolves it, the folder
    mounted at /`mount` (("artifacts",)): component by component, each link's text read and
    followed, relative from the link's folder, absolute from the container's root, so
    `/artifacts/ckpt.pt` names the folder's ckpt.pt and `..` above the folder climbs the
    container's own path (`/artifacts/../artifacts/x` is x; `/job-2/x` is not in the folder).
    Nothing outside the folder is looked up: above it only the mount's own path exists. A file
    followed by anything, even a trailing `/` or `/.`, is MISSING (the kernel's ENOTDIR)."""
    todo = list(reversed(rel.split("/")))
    at, hops, kind, text = list(mount), 0, DIR, ""
    passed: list[str] = []
    while todo:
        part = todo.pop()
        if kind != DIR:
            return Resolved("/".join(at[len(mount):]), MISSING, tuple(passed), text)  # a file used as a folder
        if part in ("", "."):
            continue
        if part == "..":
            del at[-1:]  # the root's `..` is the root
            continue
        at.append(part)
        if len(at) <= len(mount):  # above the folder: only the mount's own path is there
            if at != list(mount[:len(at)]):
                return Resolved("", OUT, tuple(passed), text)
            continue
        here = "/".join(at[len(mount):])
        found = lookup(here)
        if found is None:
            return Resolved(here, MISSING, tuple(passed), text)
        kind, read = found
        if kind == LINK:
            hops += 1
            if hops > MAX_HOPS:
                return Resolved("", LOOP, tuple(passed), text)
            passed.append(here)
            text = read
            at.pop()
            if read.startswith("/"):
                at = []
            todo.extend(reversed(read.split("/")))
            kind = DIR
    if len(at) < len(mount):
        return Resolved("", OUT, tuple(passed), text)
    return Resolved("/".join(at[len(mount):]), kind, tuple(passed), text)


def link_signature(own: Signature, target: Signature | None) -> Signature:
    """A link's signature: its target's (size, mtime_ns, ctime_ns, inode), so pointing it at
    another file is a change (even one of the same size and times) and making it again at the
    same file (`ln -sfn ckpt-1.pt best.pt` every epoch) is not: stored again each time, the same
    bytes read to a drill as a restored checkpoint rewritten. Its own signature when it resolves
    to no regular file (dangling, a folder: nothing is stored for those)."""
    return own if target is None else target


class LinkTargets:
    """link -> the paths its resolution depends on (the file it resolves to and the links passed on
    the way), all relative to /artifacts, and the reverse."""

    def __init__(self) -> None:
        self._targets_of: dict[str, frozenset[str]] = {}
        self._links_to: dict[str, set[str]] = {}

    def point(self, link: str, targets: Iterable[str]) -> None:
        """`link` resolves through `targets` now (it may have pointed elsewhere before)."""
        wanted = frozenset(targets) - {link}
        if self._targets_of.get(link) == wanted:
            return
        self.forget(link)
        self._targets_of[link] = wanted
        for target in wanted:
            self._links_to.setdefault(target, set()).add(link)

    def forget(self, link: str) -> None:
        """`link` resolves to no file inside /artifacts any more (or is no link)."""
        for target in self._targets_of.pop(link, ()):
            links = self._links_to[target]
            links.discard(link)
            if not links:
                del self._links_to[target]

    def links_to(self, target: str) -> list[str]:
        """The links known to resolve to or through `target`, in name order (a stable touch order)."""
        return sorted(self._links_to.get(target, ()))

    def __bool__(self) -> bool:
        return bool(self._targets_of)
