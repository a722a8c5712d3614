"""Symlinks inside /artifacts and the files they resolve to, as pure logic.

A link that resolves inside /artifacts is stored as its target's bytes, so it changes whenever its
target does, though the watcher only ever sees events on the target's path (a link's own lstat
never changes when its target is rewritten). Two rules keep such a link current:
- its signature includes its target's (size, mtime_ns) (`link_signature`), so the stability
  window, the before/after checks of a snapshot and the end-of-job rescan all see the change;
- `LinkTargets` remembers which links resolve to which file (learnt when a link is uploaded), so
  an event on the target touches each of its links too. Empty (and so free) when a job has no links.
"""

from __future__ import annotations

from emulator.rules.stability import Signature


def link_signature(own: Signature, target: Signature | None) -> Signature:
    """A link's signature: its target's (size, mtime_ns, ctime_ns) and its own mtime_ns (so
    pointing it at another file is a change too), or its own signature when it resolves to no
    regular file (dangling, a folder: nothing is stored for those, as before)."""
    if target is None:
        return own
    return *target, own[1]


class LinkTargets:
    """link -> the file it resolves to, both relative to /artifacts, and the reverse."""

    def __init__(self) -> None:
        self._target_of: dict[str, str] = {}
        self._links_to: dict[str, set[str]] = {}

    def point(self, link: str, target: str) -> None:
        """`link` resolves to `target` now (it may have pointed elsewhere before)."""
        if self._target_of.get(link) == target:
            return
        self.forget(link)
        self._target_of[link] = target
        self._links_to.setdefault(target, set()).add(link)

    def forget(self, link: str) -> None:
        """`link` resolves to no file inside /artifacts any more (or is no link)."""
        target = self._target_of.pop(link, None)
        if target is None:
            return
        links = self._links_to[target]
        links.discard(link)
        if not links:
            del self._links_to[target]

    def links_to(self, target: str) -> list[str]:
        """The links known to resolve to `target`, in name order (a stable touch order)."""
        return sorted(self._links_to.get(target, ()))

    def __bool__(self) -> bool:
        return bool(self._target_of)
