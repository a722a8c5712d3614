"""The home is made private (0700) whichever path makes it first (the S3 store and status:
tests/integration/test_private_home_s3.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.config import write_config
from emulator.storage import open_blob_store

from helpers import folder_mode


@pytest.fixture(autouse=True)
def local_storage(monkeypatch) -> None:
    monkeypatch.delenv("CYCLE_STORAGE", raising=False)


def test_opening_the_local_store_makes_the_home_private(fresh_home: Path) -> None:
    open_blob_store(fresh_home)
    assert folder_mode(fresh_home) == 0o700 and (fresh_home / "storage" / "blobs").is_dir()


def test_writing_the_config_makes_the_home_private(fresh_home: Path) -> None:
    import tomlkit

    write_config(tomlkit.document(), fresh_home)
    assert folder_mode(fresh_home) == 0o700
