"""Volume details (user test s7): the folder a job sees at /volumes/<name> was 0700 (materialized
through a temporary folder), an unknown volume name said neither where nor which name was meant,
and an unreadable file was found only mid-upload. No Docker: a local blob store and state.db."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from test_move_wipe import as_nobody

from cycle.errors import BadInput
from emulator.blobs import LocalStore
from emulator.store import StateStore
from emulator.volumes import latest_version, scan_volume_folder, upload_volume, volume_folder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def uploaded(tmp_path: Path):
    """Volume `labels` (a file at the top and one in a subfolder) uploaded into a fresh home."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "labels.csv").write_text("a,b\n")
    (data / "sub" / "more.csv").write_text("c,d\n")
    home = tmp_path / "home"
    home.mkdir()
    store, blobs = StateStore(home / "state.db"), LocalStore(home / "storage")
    upload_volume(store, blobs, "labels", scan_volume_folder(data))
    return home, store, blobs


def test_a_materialized_volume_is_readable_by_every_user(uploaded):
    home, store, blobs = uploaded
    old = os.umask(0o077)  # an agent with a private umask still gives jobs a readable tree
    try:
        folder, _version = volume_folder(home, store, blobs, "labels")
    finally:
        os.umask(old)
    assert [mode(p) for p in (folder, folder / "sub")] == [0o755, 0o755]
    assert [mode(p) for p in (folder / "labels.csv", folder / "sub" / "more.csv")] == [0o644, 0o644]


def test_a_volume_materialized_before_the_fix_gets_readable_modes(uploaded):
    home, store, blobs = uploaded
    folder, _version = volume_folder(home, store, blobs, "labels")
    for path in (folder / "sub" / "more.csv", folder / "sub", folder):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    volume_folder(home, store, blobs, "labels")
    assert (mode(folder), mode(folder / "sub"), mode(folder / "sub" / "more.csv")) == (0o755, 0o755, 0o644)


def test_an_unknown_volume_names_the_manifest_line_and_the_close_name(uploaded):
    _home, store, _blobs = uploaded
    with pytest.raises(BadInput) as raised:
        latest_version(store, "lables", "/p/.cycleswap/manifest.toml:4")
    message = raised.value.message
    assert message.startswith("/p/.cycleswap/manifest.toml:4: volume 'lables'"), message
    assert "Did you mean `labels`?" in message and "cycle volume upload lables DIR" in message


def test_an_unknown_volume_with_nothing_close_suggests_nothing(uploaded):
    _home, store, _blobs = uploaded
    with pytest.raises(BadInput) as raised:
        latest_version(store, "imagenet")
    assert "Did you mean" not in raised.value.message and "was never uploaded" in raised.value.message


def test_the_volumes_line_of_a_manifest_is_found(tmp_path):
    from cycle.api.manifest import Manifest, volumes_place

    path = tmp_path / "manifest.toml"
    path.write_text('[main]\nname = "p"\nbuild_files = []\nvolumes = ["x"]\n')
    manifest = Manifest(path, tmp_path, "p", "22.04", False, False, volumes=("x",))
    assert volumes_place(manifest) == f"{path}:4"


@pytest.fixture
def shared() -> Path:
    """A folder `nobody` can reach (pytest's tmp_path sits under a root-only one)."""
    folder = Path(tempfile.mkdtemp(prefix="cycle-volume-scan-"))
    os.chmod(folder, 0o777)
    yield folder
    shutil.rmtree(folder)


def scanned_as_nobody(data: Path) -> str:
    """scan_volume_folder(data) as `nobody` (root reads anything): "<exit code> <paragraph>" when
    it is refused, else "scanned"."""
    def scan() -> str:
        try:
            scan_volume_folder(data)
        except BadInput as refused:
            return f"{refused.exit_code} {refused.message}"
        return "scanned"

    return as_nobody(scan)


def test_an_unreadable_file_is_refused_by_the_scan_before_any_upload(shared):
    data = shared / "data"
    data.mkdir(mode=0o777)
    os.chmod(data, 0o777)
    (data / "a.csv").write_text("a\n")
    (data / "secret.bin").write_text("s\n")
    os.chmod(data / "a.csv", 0o644)
    os.chmod(data / "secret.bin", 0)  # root reads it anyway: the scan runs as `nobody`

    answer = scanned_as_nobody(data)
    assert answer.startswith("2 1 file(s) under"), answer
    assert "secret.bin (Permission denied)" in answer and "Nothing was uploaded" in answer, answer
    assert "a.csv" not in answer, answer


def test_a_link_to_a_place_we_cannot_reach_is_refused_not_called_dangling(shared):
    """A link whose target exists behind a folder we may not search was named "a dangling link"
    (exists() is False for both); it is a folder to open up, so it is refused with that fix."""
    data, private = shared / "data", shared / "private"
    data.mkdir(mode=0o777)
    private.mkdir(mode=0o700)  # root's: `nobody` cannot search it
    os.chmod(data, 0o777)
    (private / "shard.bin").write_text("s\n")
    (data / "a.csv").write_text("a\n")
    os.chmod(data / "a.csv", 0o644)
    (data / "shard.bin").symlink_to(private / "shard.bin")

    answer = scanned_as_nobody(data)
    expected = f"2 {data / 'shard.bin'} links to {private / 'shard.bin'}, which cannot be reached"
    assert answer.startswith(expected), answer
    assert "dangling" not in answer, answer


def test_volume_upload_of_a_folder_with_an_unreadable_file_stores_nothing(shared, monkeypatch):
    """The whole `cycle volume upload` as `nobody`: one paragraph, exit 2, no version, no bytes."""
    from typer.testing import CliRunner

    from cycle.cli import app
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(shared / "home"))
    (shared / "home").mkdir()
    data = shared / "data"
    data.mkdir()
    (data / "a.csv").write_text("a\n")
    (data / "secret.bin").write_text("s\n")
    warm_up = CliRunner().invoke(app, ["volume", "upload", "warm-up", str(data)])  # loads every module, as root
    assert warm_up.exit_code == 0, warm_up.output
    for base, folders, files in os.walk(shared):
        os.chmod(base, 0o777)
        for name in files:
            os.chmod(os.path.join(base, name), 0o666)
    os.chmod(data / "secret.bin", 0)

    def upload() -> dict:
        result = CliRunner().invoke(app, ["volume", "upload", "bad", str(data)])
        return {"exit_code": result.exit_code, "output": result.output}

    answer = as_nobody(upload)
    assert answer["exit_code"] == 2 and "secret.bin (Permission denied)" in answer["output"], answer
    assert "Traceback" not in answer["output"], answer
    platform = EmulatorPlatform()
    assert platform.store.volume_names() == ["warm-up"]
    assert platform.blob_store().list("volumes/bad/") == []


def test_a_file_uploaded_executable_stays_runnable_and_the_rest_stays_0644(tmp_path):
    """A tool or script in a volume (`bin/prepare`) was materialized 0644: the job could not run it."""
    data = tmp_path / "data"
    (data / "bin").mkdir(parents=True)
    (data / "bin" / "prepare").write_text("#!/bin/sh\necho ok\n")
    os.chmod(data / "bin" / "prepare", 0o750)  # any execute bit counts, as git counts it
    (data / "labels.csv").write_text("a,b\n")
    os.chmod(data / "labels.csv", 0o600)
    home = tmp_path / "home"
    home.mkdir()
    store, blobs = StateStore(home / "state.db"), LocalStore(home / "storage")
    upload_volume(store, blobs, "tools", scan_volume_folder(data))
    folder, _version = volume_folder(home, store, blobs, "tools")
    assert (mode(folder / "bin" / "prepare"), mode(folder / "labels.csv")) == (0o755, 0o644)
    assert latest_version(store, "tools").executables() == {"bin/prepare"}

    # an earlier materialization with closed modes is reopened with the execute bit kept
    os.chmod(folder / "bin" / "prepare", 0o600)
    os.chmod(folder, 0o700)
    volume_folder(home, store, blobs, "tools")
    assert mode(folder / "bin" / "prepare") == 0o755


def test_only_a_changed_execute_bit_makes_a_new_version_and_an_unchanged_folder_none(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "run.sh").write_text("echo hi\n")
    home = tmp_path / "home"
    home.mkdir()
    store, blobs = StateStore(home / "state.db"), LocalStore(home / "storage")
    first, created = upload_volume(store, blobs, "scripts", scan_volume_folder(data))
    assert created and first.files["run.sh"] == [first.files["run.sh"][0], 8]  # the plain two-item record
    assert upload_volume(store, blobs, "scripts", scan_volume_folder(data)) == (first, False)
    os.chmod(data / "run.sh", 0o755)
    second, created = upload_volume(store, blobs, "scripts", scan_volume_folder(data))
    assert created and second.version == 2 and second.executables() == {"run.sh"}
    assert second.new_bytes == 0 and second.size == first.size == 8  # same bytes: nothing stored again


def test_empty_folders_are_kept_as_cp_keeps_them_and_only_a_change_makes_a_version(tmp_path):
    """A dataset's empty split (`val/`, `cache/shards/`) was dropped: a job listing it crashed."""
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "train" / "0.bin").write_bytes(b"x")
    (data / "val").mkdir()
    (data / "cache" / "shards").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    store, blobs = StateStore(home / "state.db"), LocalStore(home / "storage")
    first, _ = upload_volume(store, blobs, "splits", scan_volume_folder(data))
    assert first.folders == ("cache/shards", "val") and list(first.files) == ["train/0.bin"]
    folder, _ = volume_folder(home, store, blobs, "splits")
    assert (folder / "val").is_dir() and (folder / "cache" / "shards").is_dir()
    assert (mode(folder / "val"), mode(folder / "cache" / "shards")) == (0o755, 0o755)
    assert upload_volume(store, blobs, "splits", scan_volume_folder(data)) == (first, False)
    (data / "val").rmdir()
    second, created = upload_volume(store, blobs, "splits", scan_volume_folder(data))
    assert created and second.folders == ("cache/shards",) and second.new_bytes == 0
    assert latest_version(StateStore(home / "state.db"), "splits").folders == ("cache/shards",)  # as stored


def test_a_folder_with_only_empty_folders_is_still_refused(tmp_path):
    (tmp_path / "data" / "empty").mkdir(parents=True)
    with pytest.raises(BadInput, match="holds no files to upload"):
        scan_volume_folder(tmp_path / "data")
