"""`cycle job pull` compares a file already in the job's folder with the stored one (its sha256) to
skip unchanged files; a file it cannot read, or a folder it cannot search, was a PermissionError
traceback. Now one paragraph naming the path and the fix (exit 2). Root reads through any mode, so
the pull runs in a forked child that became `nobody` (as_nobody, as the wipe tests do). No Docker."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_move_wipe import as_nobody
from typer.testing import CliRunner
from unwritable import finished_job_with_artifact

from cycle.cli import app


@pytest.fixture
def shared(monkeypatch) -> Path:
    """A folder `nobody` can reach, holding the emulator's home (pytest's tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="cycle-pull-unreadable-"))
    os.chmod(folder, 0o777)
    monkeypatch.setenv("CYCLE_HOME", str(folder / "home"))
    (folder / "home").mkdir()
    yield folder
    for base, dirs, files in os.walk(folder):  # what the test locked
        for name in dirs + files:
            os.chmod(os.path.join(base, name), 0o700)
    shutil.rmtree(folder)


def open_to_all(folder: Path) -> None:
    for base, dirs, files in os.walk(folder):
        os.chmod(base, 0o777)
        for name in files:
            os.chmod(os.path.join(base, name), 0o666)


def pull_as_nobody(job_name: str, project: Path) -> dict:
    def pull() -> dict:
        result = CliRunner().invoke(app, ["job", "pull", job_name, "--project-dir", str(project)])
        return {"exit_code": result.exit_code, "output": result.output, "exception": repr(result.exception)}
    return as_nobody(pull)


def a_job_already_pulled(shared: Path) -> tuple[str, Path]:
    """A finished job with one stored artifact, and a project folder holding a file of that size
    under its path (so pull hashes it to compare). One pull as root into another folder first loads
    every module a pull needs: the child as `nobody` cannot read the Python install under /root."""
    job = finished_job_with_artifact()
    (shared / "warm-up").mkdir()
    warm_up = CliRunner().invoke(app, ["job", "pull", job.name, "--project-dir", str(shared / "warm-up")])
    assert warm_up.exit_code == 0, warm_up.output
    artifact = shared / "project" / ".cycleswap" / "jobs" / job.name / "artifacts" / "checkpoints" / "step-1.pt"
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(b"weights")
    open_to_all(shared)
    return job.name, artifact


def test_a_file_already_there_that_cannot_be_read_is_one_paragraph(shared):
    name, artifact = a_job_already_pulled(shared)
    os.chmod(artifact, 0)
    pulled = pull_as_nobody(name, shared / "project")
    assert pulled["exit_code"] == 2, pulled
    assert "Traceback" not in pulled["output"] and "PermissionError" not in pulled["output"], pulled
    assert f"cannot read {artifact}" in pulled["output"] and "chmod u+r FILE" in pulled["output"], pulled


def test_a_folder_already_there_that_cannot_be_searched_is_one_paragraph(shared):
    name, artifact = a_job_already_pulled(shared)
    os.chmod(artifact.parent, 0o666)  # readable, not searchable: the file under it cannot be checked
    pulled = pull_as_nobody(name, shared / "project")
    assert pulled["exit_code"] == 2, pulled
    assert "Traceback" not in pulled["output"], pulled
    assert f"cannot read {artifact}" in pulled["output"] and "chmod u+rx FOLDER" in pulled["output"], pulled


def test_a_file_already_there_whose_time_cannot_be_set_is_one_paragraph(shared):
    """Unchanged files get their recorded mtime back (test_pull_mtime); one of another user's
    (root's here, pulled by `nobody`) cannot be given it: a paragraph, not a PermissionError."""
    name, artifact = a_job_already_pulled(shared)
    pulled = pull_as_nobody(name, shared / "project")
    assert pulled["exit_code"] == 2, pulled
    assert "Traceback" not in pulled["output"] and "PermissionError" not in pulled["output"], pulled
    assert f"cannot give {artifact} its recorded modified time" in pulled["output"], pulled
    assert "chown" in pulled["output"], pulled
