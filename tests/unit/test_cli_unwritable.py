"""A folder that cannot be written ends pull, tail, the TUI's download and `project init` in one
paragraph naming it and the fix (exit 2), and a full disk in one paragraph (exit 1): never a
traceback (badinput 1 and 2). No Docker: jobs and stored artifacts are recorded directly."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner
from unwritable import finished_job_with_artifact, unwritable

from cycle.cli import app
from cycle.errors import BadInput, CycleError


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def one_paragraph(result, exit_code: int, *words: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, (word, result.output)


@pytest.mark.parametrize("command", ["pull", "tail"])
def test_pull_and_tail_into_an_unwritable_project_folder_say_which_folder(home, tmp_path, command):
    job = finished_job_with_artifact()
    with unwritable(tmp_path / "ro") as folder:
        result = run("job", command, job.name, "--project-dir", str(folder))
    one_paragraph(result, 2, f"the folder {folder} is not writable", "chmod u+w FOLDER", "--project-dir")


@pytest.mark.parametrize("command", ["pull", "tail"])
def test_an_unwritable_artifacts_subfolder_names_that_subfolder(home, tmp_path, command):
    job = finished_job_with_artifact()
    checkpoints = tmp_path / "p" / ".cycleswap" / "jobs" / job.name / "artifacts" / "checkpoints"
    with unwritable(checkpoints):
        result = run("job", command, job.name, "--project-dir", str(tmp_path / "p"))
        assert list(checkpoints.iterdir()) == []
    one_paragraph(result, 2, f"the folder {checkpoints} is not writable", "cannot write step-1.pt", "chattr -i")


def test_a_file_where_the_artifacts_subfolder_should_be_is_named(home, tmp_path):
    job = finished_job_with_artifact()
    artifacts = tmp_path / ".cycleswap" / "jobs" / job.name / "artifacts"
    artifacts.mkdir(parents=True)
    (artifacts / "checkpoints").write_text("in the way\n")
    result = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    one_paragraph(result, 2, f"cannot write {artifacts / 'checkpoints'}", "move it aside")


def test_pull_onto_a_full_disk_is_one_paragraph_and_leaves_no_partial_file(home, tmp_path):
    """A real ENOSPC: the project lives on a 64 KiB tmpfs and the artifact is 256 KiB."""
    import subprocess

    job = finished_job_with_artifact("big.bin", b"x" * 256 * 1024)
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        result = run("job", "pull", job.name, "--project-dir", str(small))
        artifacts = small / ".cycleswap" / "jobs" / job.name / "artifacts"
        left = sorted(p.name for p in artifacts.iterdir())
    finally:
        subprocess.run(["umount", str(small)], check=True)
    one_paragraph(result, 1, f"out of disk space writing {artifacts / 'big.bin'}", "bytes free there", "Free space")
    assert left == []  # neither the file nor its temporary .cycle-part- name


def test_pull_still_downloads_into_a_writable_folder(home, tmp_path):
    job = finished_job_with_artifact()
    result = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".cycleswap" / "jobs" / job.name / "artifacts" / "checkpoints" / "step-1.pt").read_bytes() \
        == b"weights"


# --- saving_into as pure logic: which OSError becomes which paragraph ---

def raised_by(folder: Path, error: OSError, writing: Path | None = None) -> BaseException:
    from cycle.pull import saving_into

    with pytest.raises(BaseException) as caught:
        with saving_into(folder, writing=writing):
            raise error
    return caught.value


def test_a_full_disk_is_one_paragraph_with_exit_1(tmp_path):
    folder = tmp_path / ".cycleswap" / "jobs" / "demo-1"
    target = folder / "artifacts" / "big.bin"
    for error in (OSError(errno.ENOSPC, "No space left on device", str(target)),
                  OSError(errno.EDQUOT, "Disk quota exceeded")):  # a write on an open file names no path
        raised = raised_by(folder, error, writing=target)
        assert type(raised) is CycleError and raised.exit_code == 1
        assert f"out of disk space writing {target}" in raised.message and "Free space" in raised.message


def test_a_refused_write_under_the_project_is_bad_input_naming_its_folder(tmp_path):
    folder = tmp_path / ".cycleswap" / "jobs" / "demo-1"
    raised = raised_by(folder, PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".cycleswap")))
    assert isinstance(raised, BadInput) and raised.exit_code == 2
    assert f"the folder {tmp_path} is not writable" in raised.message


def test_errors_that_are_not_about_saving_pass_unchanged(tmp_path):
    folder = tmp_path / "project" / ".cycleswap" / "jobs" / "demo-1"
    elsewhere = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "cycle-home" / "jobs.db"))
    reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")  # no path: not a write of ours
    assert raised_by(folder, elsewhere) is elsewhere
    assert raised_by(folder, reset, writing=folder / "output.log") is reset


# --- `cycle project init` on a file or an unwritable folder (badinput 2) ---

def test_init_of_a_file_names_the_folder_to_init_instead(home, tmp_path):
    manifest = tmp_path / "a-file.toml"
    manifest.write_text("x = 1\n")
    result = run("project", "init", str(manifest))
    one_paragraph(result, 2, f"{manifest} is a file, not a folder", f"`cycle project init {tmp_path}`")
    assert manifest.read_text() == "x = 1\n"


def test_project_test_of_a_file_tells_to_init_its_folder_which_then_works(home, tmp_path):
    """`project test <file>` told the user to run `project init <file>`, which then crashed."""
    a_file = tmp_path / "main.py"
    a_file.write_text("print(1)\n")
    told = run("project", "test", str(a_file))
    one_paragraph(told, 2, f"Run `cycle project init {tmp_path}`")
    result = run("project", "init", str(tmp_path))
    assert result.exit_code == 0 and (tmp_path / ".cycleswap" / "run.sh").is_file(), result.output


def test_init_of_an_unwritable_folder_names_it_and_writes_nothing(home, tmp_path):
    with unwritable(tmp_path / "ro") as folder:
        result = run("project", "init", str(folder))
        assert list(folder.iterdir()) == []
    one_paragraph(result, 2, f"cannot write {folder / '.cycleswap'}", f"chmod u+w {folder}")


def test_init_where_cycleswap_is_a_file_says_so(home, tmp_path):
    (tmp_path / ".cycleswap").write_text("")
    result = run("project", "init", str(tmp_path))
    one_paragraph(result, 2, f"cannot write {tmp_path / '.cycleswap'}", "move aside what is in the way")


def test_a_log_that_cannot_be_written_whole_names_output_log_and_leaves_no_part(tmp_path):
    from cycle.pull import write_output_log

    folder = tmp_path / "project" / ".cycleswap" / "jobs" / "demo-1"

    def records():
        yield from []
        raise OSError(errno.ENOSPC, "No space left on device")  # a write on the open file: no path

    with pytest.raises(CycleError) as failed:
        write_output_log(folder, records())
    assert f"writing {folder / 'output.log'} " in str(failed.value) and failed.value.exit_code == 1
    assert sorted(p.name for p in folder.iterdir()) == []  # neither output.log nor output.log.part


def test_pull_of_a_job_whose_file_became_a_folder_downloads_the_newer_tree_and_says_what_it_left(home, tmp_path):
    """Storage keeps the file `ckpt` after the job replaced it by a folder `ckpt/`: a pull wrote
    both in path order, and the folder's first file then needed a folder where the file was."""
    import hashlib

    from cycle.api.keys import artifact_key
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform
    from emulator.storage import open_blob_store

    job = finished_job_with_artifact("ckpt", b"the old single file")
    platform = EmulatorPlatform()
    key, body = artifact_key(job.name, "ckpt/step-1"), b"step one"
    blobs = open_blob_store(platform.home)
    blobs.put_bytes(key, body, hashlib.sha256(body).hexdigest())
    platform.store.add_artifact(job.id, Artifact("ckpt/step-1", key, len(body), hashlib.sha256(body).hexdigest(), 1,
                                                 10**18, blobs.name))
    result = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    folder = tmp_path / ".cycleswap" / "jobs" / job.name / "artifacts"
    assert (folder / "ckpt" / "step-1").read_bytes() == body
    assert "1 older stored file(s) not downloaded" in result.output and "(ckpt)" in result.output
