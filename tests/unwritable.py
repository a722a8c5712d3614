"""Helpers for the tests of saving into a folder that cannot be written (unit and integration)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from emulator.models import JobState


@contextmanager
def unwritable(folder: Path) -> Iterator[Path]:
    """`folder` made unwritable for this user: mode 0555, and immutable too when running as root
    (root writes through any mode; `chattr +i` stops it on ext4). Restored afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        folder.chmod(0o755)
        pytest.skip("chattr +i is not supported here, and root writes through a 0555 folder")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def finished_job_with_artifact(path: str = "checkpoints/step-1.pt", body: bytes = b"weights"):
    """A FINISHED job whose one artifact is really stored (so pull downloads it)."""
    from cycle.api.keys import artifact_key
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform
    from emulator.storage import open_blob_store

    platform = EmulatorPlatform()
    job = platform.store.create_job("demo", agent_pid=os.getpid())
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
    platform.store.set_state(job.id, JobState.FINISHED, exit_code=0)
    key, sha256 = artifact_key(job.name, path), hashlib.sha256(body).hexdigest()
    blobs = open_blob_store(platform.home)  # the local store, or S3 under the s3_storage fixture
    blobs.put_bytes(key, body, sha256)
    platform.store.add_artifact(job.id, Artifact(path, key, len(body), sha256, 1, 2, blobs.name))
    return platform.job(job.name)
