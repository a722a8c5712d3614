"""The tar a container receives (the project in /app): built on the host, engine-neutral."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path


def tar_of(files: dict[str, Path], prefix: str) -> io.BufferedRandom:
    """A tar (in a temporary file) of {archive name: source path} under `prefix`.

    Symlinks are stored as links, never followed, so a link cannot pull host files in.
    """
    buffer = tempfile.TemporaryFile()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo(prefix)
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
        for name, source in files.items():
            tar.add(str(source), arcname=f"{prefix}/{name}", recursive=False)
    buffer.seek(0)
    return buffer
