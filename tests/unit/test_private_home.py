"""The home is made private (0700) whichever path makes it first (the S3 store and status:
tests/integration/test_private_home_s3.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from emulator.config import write_config
from emulator.storage import open_blob_store


def mode(folder: Path) -> int:
    return stat.S_IMODE(folder.stat().st_mode)


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("CYCLE_HOME", str(home))
    monkeypatch.delenv("CYCLE_STORAGE", raising=False)
    return home


def test_opening_the_local_store_makes_the_home_private(fresh_home: Path) -> None:
    open_blob_store(fresh_home)
    assert mode(fresh_home) == 0o700 and (fresh_home / "storage" / "blobs").is_dir()


def test_writing_the_config_makes_the_home_private(fresh_home: Path) -> None:
    import tomlkit

    write_config(tomlkit.document(), fresh_home)
    assert mode(fresh_home) == 0o700
