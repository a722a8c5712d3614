"""The files under /artifacts: names shown and stored, opening without following links, signatures, disk full."""

from __future__ import annotations

import errno
import functools
import os
import stat as statmod
from pathlib import Path
from typing import BinaryIO

from cycle.api.keys import is_inside, local_relative, relative_key
from emulator.rules.links import DIR, FILE, LINK, OTHER, Resolved, link_signature, resolve
from emulator.rules.stability import Signature

OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)
CONTAINER_ARTIFACTS = "/artifacts"  # where the job's container sees its artifacts folder (the machine's is bound there)

class DiskFull(Exception):
    """No space left (ENOSPC or EDQUOT) in `folder` for `needed` bytes."""

    def __init__(self, folder: Path, needed: int, rel: str) -> None:
        super().__init__(folder, needed, rel)
        self.folder, self.needed, self.rel = folder, needed, rel

    def paragraph(self) -> str:
        try:
            disk = os.statvfs(self.folder)
            free = f"{disk.f_bavail * disk.f_frsize} bytes free"
        except OSError:
            free = "free space unknown"
        return (f"out of disk space: the artifact {self.rel!r} needs {self.needed} bytes in {self.folder} "
                f"({free}), so it was not stored. Free space on that disk, or set CYCLE_HOME to an emulator "
                "home on a larger disk, and run the job again.")

def shown(rel: str) -> str:
    """A relative path as records and events show it: the storage key's form, valid UTF-8 (a name
    with invalid UTF-8 or control bytes is percent-encoded), which `cycle.api.keys.local_relative` maps back."""
    try:
        return relative_key(rel)
    except ValueError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")

def file_path(display: str) -> str:
    """The path (str, surrogate-escaped like os.walk gives it) a display form stands for."""
    try:
        return os.fsdecode(local_relative(display))
    except ValueError:  # BadInput: not a form `shown` makes
        return display

def open_inside(path: str | Path, inside: str) -> tuple[int, os.stat_result]:
    """A descriptor for reading the regular file at `path` and its fstat, checked on the descriptor
    itself: a regular file (opened without blocking, so a FIFO or a device swapped in for the file
    cannot hang the reader, and without following a link at its end) under `inside` (the real
    /artifacts folder, ending in "/"). O_NOFOLLOW guards only the last part of a path: a folder on
    the way swapped for a link to a host folder is caught here, by where the kernel opened. The
    caller's signature checks around the read cannot see that swap if it is undone in between.
    OSError otherwise (the caller watches the file again, as for a file that changed)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not statmod.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file any more", os.fspath(path))
        if _below_a_folder(path, inside) and not os.readlink(f"/proc/self/fd/{fd}").startswith(inside):
            raise OSError(errno.EXDEV, "reached through a link out of /artifacts", os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _below_a_folder(path: str | Path, inside: str) -> bool:
    """Whether `path` reaches its file through a folder inside `inside`, one a job could swap for a
    link; a file right in `inside` has none (the job cannot replace /artifacts itself, a mount
    point), and O_NOFOLLOW guards its last part, so its opened path needs no check."""
    text = os.fspath(path)
    return not text.startswith(inside) or "/" in text[len(inside):]


def open_unfollowed(path: Path, root: Path) -> BinaryIO | None:
    """`path` opened for reading without following a link, or None when it is not (any more) the
    regular file that was judged: a link at open time (O_NOFOLLOW refuses it), not a regular
    file, another inode than a moment ago, or a file that lives outside `root` (checked on the
    open descriptor itself, so a folder swapped for a link on the way is caught too)."""
    try:
        judged = os.lstat(path)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block
    except OSError:  # ELOOP: a link now; ENOENT: gone
        return None
    handle = os.fdopen(fd, "rb")
    try:
        opened = os.fstat(fd)
        where = os.readlink(f"/proc/self/fd/{fd}")
        if (statmod.S_ISREG(opened.st_mode) and (opened.st_dev, opened.st_ino) == (judged.st_dev, judged.st_ino)
                and is_inside(root, where)):
            return handle
    except OSError:
        pass
    handle.close()
    return None

def stat_signature(info: os.stat_result) -> Signature:
    """A regular file's signature: (size, mtime_ns, ctime_ns). The ctime, which no call can set,
    catches a rewrite that keeps size and mtime (`cp -p`, `rsync -t`, `tar x`, `touch -r`): with
    size and mtime alone it was taken for the version already stored and never uploaded."""
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns


def signature_of(path: str | Path, inside: str) -> Signature | None:
    """stat_signature of a regular file at `path`; for a symlink that resolves to a file under
    `inside` (the real /artifacts folder, ending in "/"), its target's too (rules/links.py: such a
    link is stored as its target's bytes, so it changes when they do; a link out is never
    followed, not even for its target's metadata); None for anything else or nothing. One lstat
    for a regular file: the common case pays nothing for links."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return signature_from(path, info, inside)


def signature_from(path: str | Path, info: os.stat_result, inside: str) -> Signature | None:
    """signature_of the entry at `path` whose lstat is `info` (a scan that lstats each file itself)."""
    if statmod.S_ISREG(info.st_mode):
        return stat_signature(info)
    if statmod.S_ISLNK(info.st_mode):
        return link_signature(stat_signature(info), _target_signature(path, inside))
    return None


def resolve_link(rel: str, inside: str) -> Resolved:
    """Where the link at `rel` (relative to the job's real folder `inside`, ending in "/") leads, as
    the job's container sees it (rules/links.resolve): `ln -s /artifacts/ckpt-100.pt latest.pt`,
    the usual way a job points at its newest checkpoint, names the folder's ckpt-100.pt, never
    the machine's own /artifacts. Every look is made from the folder down without following a
    link (_look_at), so no path outside is looked up even while the job swaps a folder for a
    link; what the caller then opens is checked again on its descriptor."""
    return resolve(rel, tuple(CONTAINER_ARTIFACTS.strip("/").split("/")), functools.partial(_look_at, inside))


def _look_at(inside: str, rel: str) -> tuple[str, str] | None:
    """rules/links.Lookup on the real folder: what is at `rel`, not following it, reached folder
    by folder from `inside` with O_NOFOLLOW (a folder on the way that is a link now: nothing)."""
    parent, _, name = rel.rpartition("/")
    try:
        fd = os.open(inside, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for part in parent.split("/") if parent else ():
            step = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = step
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if statmod.S_ISLNK(info.st_mode):
            return LINK, os.readlink(name, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    return (FILE if statmod.S_ISREG(info.st_mode) else DIR if statmod.S_ISDIR(info.st_mode) else OTHER), ""


def stored_as_a_file(path: str | Path, inside: str) -> bool:
    """Whether the uploader stores what is at `path` now: a regular file, or a link that resolves to
    one under `inside` (signature_of's check of a link's target); a link to a folder or out of
    /artifacts is skipped, never stored."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if statmod.S_ISREG(info.st_mode):
        return True
    return statmod.S_ISLNK(info.st_mode) and _target_signature(path, inside) is not None


def _target_signature(link: str | Path, inside: str) -> Signature | None:
    """(size, mtime_ns, ctime_ns, inode) of the regular file `link` resolves to when that is under
    `inside`, else None. Metadata only: its bytes are read by the uploader alone, after its own inside check.
    Resolved as the uploader resolves it (resolve_link), so only paths inside are looked up, then
    opened without following anything further (O_PATH | O_NOFOLLOW) and checked to be under
    `inside` by what the kernel opened, before its fstat: a folder swapped for a link meanwhile
    cannot show a host file."""
    link = os.fspath(link)
    if not link.startswith(inside):  # reached by another path to the folder (the watcher's root is the real one)
        link = os.path.join(os.path.realpath(os.path.dirname(link)), os.path.basename(link))
        if not link.startswith(inside):
            return None
    resolved = resolve_link(link[len(inside):], inside)
    if resolved.kind != FILE:
        return None
    real = inside + resolved.path
    try:
        fd = os.open(real, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # dangling, a loop, gone
        return None
    try:
        if not os.readlink(f"/proc/self/fd/{fd}").startswith(inside):
            return None
        info = os.fstat(fd)
    finally:
        os.close(fd)
    # with the target's inode: `ln -sfn` of a link on the way to a file of the same size and times is a change
    return (*stat_signature(info), info.st_ino) if statmod.S_ISREG(info.st_mode) else None


def keep_mtime(path: Path | str, mtime_ns: int) -> None:
    """Give a file downloaded from storage the modified time the job's file had when it was stored,
    as `cp -p` would: resuming "from the newest checkpoint by mtime" must find the newest, not the
    one downloaded last (a restore writes in path order, so step-9.pt came out newer than
    step-30.pt). 0 (a record that kept no mtime) leaves the download's own time."""
    if mtime_ns > 0:
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
