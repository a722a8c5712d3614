"""`cycle volume upload` follows links, as `cp -rL` and `aws s3 sync` do (user test s7: a folder
of links to shards on another disk uploaded "0 file(s)" and the job saw an empty volume), names
what it cannot follow, and refuses a folder with nothing to upload. Real local store."""

from __future__ import annotations

import os

from emulator.platform import EmulatorPlatform
from emulator.volumes import volume_folder

from helpers import cli


def _shards_elsewhere(tmp_path):
    """A data folder that holds only links: one to a file, one to a folder, both on 'another disk'."""
    disk = tmp_path / "disk"
    (disk / "more").mkdir(parents=True)
    (disk / "f1.bin").write_bytes(b"shard-0")
    (disk / "more" / "f2.bin").write_bytes(b"shard-1")
    data = tmp_path / "linked"
    data.mkdir()
    (data / "shard0.bin").symlink_to(disk / "f1.bin")
    (data / "more").symlink_to(disk / "more")
    return data


def test_links_to_files_and_folders_are_stored_as_their_targets_bytes(home, tmp_path):
    data = _shards_elsewhere(tmp_path)
    uploaded = cli("volume", "upload", "linked", str(data))
    assert uploaded.exit_code == 0, uploaded.output
    assert "version 1: 2 file(s), 14 bytes" in uploaded.output and "2 link(s) followed" in uploaded.output
    platform = EmulatorPlatform()
    folder, _ = volume_folder(platform.home, platform.store, platform.blob_store(), "linked")
    assert (folder / "shard0.bin").read_bytes() == b"shard-0"
    assert (folder / "more" / "f2.bin").read_bytes() == b"shard-1"
    assert not (folder / "shard0.bin").is_symlink() and not (folder / "more").is_symlink()


def _job_output_with_volume(project, name: str, data, run_sh: str) -> str:
    """Upload `data` as volume `name`, list it in the project's manifest, run `run_sh`: its output."""
    assert cli("volume", "upload", name, str(data)).exit_code == 0
    manifest = project.root / ".cycleswap" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("build_files = []", f'build_files = []\nvolumes = ["{name}"]'))
    project.write(".cycleswap/run.sh", run_sh)
    run = project.test()
    assert run.exit_code == 0, run.output
    return run.output


def test_a_job_reads_a_volume_uploaded_through_links(project, home, tmp_path):
    output = _job_output_with_volume(project, "linked", _shards_elsewhere(tmp_path),
                                     "cat /volumes/linked/shard0.bin /volumes/linked/more/f2.bin; echo\n")
    assert "shard-0shard-1" in output


def test_a_job_runs_a_tool_uploaded_executable_in_a_volume(project, home, tmp_path):
    """A volume's script uploaded with its execute bit runs in the job as it ran on the user's machine."""
    data = tmp_path / "tools"
    (data / "bin").mkdir(parents=True)
    (data / "bin" / "prepare").write_text("#!/bin/sh\necho prepared by the volume\n")
    os.chmod(data / "bin" / "prepare", 0o755)
    assert "prepared by the volume" in _job_output_with_volume(project, "tools", data, "/volumes/tools/bin/prepare\n")


def test_a_dangling_link_is_named_in_a_warning(home, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "gone.bin").symlink_to(tmp_path / "nowhere.bin")
    uploaded = cli("volume", "upload", "mixed", str(data))
    assert uploaded.exit_code == 0, uploaded.output
    assert "warning: skipped gone.bin: a dangling link" in uploaded.output and "nowhere.bin" in uploaded.output
    assert "version 1: 1 file(s)" in uploaded.output


def test_a_link_cycle_is_skipped_with_one_line_and_the_files_uploaded_once(home, tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("a")
    (data / "sub" / "b.txt").write_text("b")
    (data / "sub" / "loop").symlink_to("..")
    uploaded = cli("volume", "upload", "cyclic", str(data))
    assert uploaded.exit_code == 0, uploaded.output
    warnings = [line for line in uploaded.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "sub/loop: a link cycle" in warnings[0], uploaded.output
    assert "version 1: 2 file(s)" in uploaded.output
    assert set(EmulatorPlatform().volume_versions("cyclic")[-1].files) == {"a.txt", "sub/b.txt"}


def test_an_empty_folder_is_refused_and_makes_no_version(home, tmp_path):
    data = tmp_path / "empty"
    (data / "nested").mkdir(parents=True)
    refused = cli("volume", "upload", "nothing", str(data))
    assert refused.exit_code == 2, refused.output
    assert f"{data} holds no files to upload" in refused.output and "Traceback" not in refused.output
    assert not (home / "state.db").exists(), "a refused upload created the emulator's state"


def test_a_loop_of_links_is_named_as_one(home, tmp_path):
    source = tmp_path / "looped"
    source.mkdir()
    (source / "data.bin").write_bytes(b"d")
    (source / "loop1").symlink_to("loop2")
    (source / "loop2").symlink_to("loop1")
    uploaded = cli("volume", "upload", "looped", str(source))
    assert uploaded.exit_code == 0, uploaded.output
    assert "skipped loop1: a loop of links (each leads to the other) (-> loop2)" in uploaded.output
    assert "dangling" not in uploaded.output


def test_a_folder_of_dangling_links_is_refused_naming_them(home, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "shard0.bin").symlink_to(tmp_path / "unmounted" / "f1.bin")
    refused = cli("volume", "upload", "nothing", str(data))
    assert refused.exit_code == 2, refused.output
    assert "holds no files to upload" in refused.output and "shard0.bin: a dangling link" in refused.output


def test_a_socket_is_named_not_dropped(home, tmp_path):
    import socket

    data = tmp_path / "d"
    data.mkdir()
    (data / "a.txt").write_text("a")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(os.fspath(data / "sock"))
        uploaded = cli("volume", "upload", "withsock", str(data))
    finally:
        server.close()
    assert uploaded.exit_code == 0, uploaded.output
    assert "warning: skipped sock: not a regular file" in uploaded.output
