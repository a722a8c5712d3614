"""What a job leaves on the host's disk must be harmless to other users.

A job's container cannot make device nodes (no CAP_MKNOD) and its folders are private (0700),
but a job can still `chmod 4755` a file under /artifacts. Once its container is gone, nothing it
wrote may keep a setuid/setgid bit or be a special file: `disarm` clears those bits and removes
device nodes, FIFOs and sockets. Links are never followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID


def disarm(folder: Path) -> list[str]:
    """Clear setuid/setgid bits and remove special files under `folder`; the relative paths touched."""
    touched = []
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(base, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            mode = info.st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                os.unlink(path)
            elif (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and mode & SPECIAL_BITS:
                os.chmod(path, stat.S_IMODE(mode) & ~SPECIAL_BITS, follow_symlinks=False)
            else:
                continue
            touched.append(os.path.relpath(path, folder))
    return touched


def disarm_job(home: Path, job_name: str) -> list[str]:
    """`disarm` the job's folder on every simulated machine (it may have run on several)."""
    from emulator.job.context import job_folders

    touched = []
    for folder in job_folders(home, job_name):
        touched += disarm(folder)
    return touched
