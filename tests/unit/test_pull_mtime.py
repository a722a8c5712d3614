"""A file `job pull` skips as unchanged gets its recorded mtime back, as a downloaded one does: a
pull after `touch -d 2020-01-01` said "0 downloaded, 1 unchanged" and left 2020, and a job that
resumes from the newest checkpoint by mtime took the wrong one. pull, tail and the TUI's download
share cycle.pull.changed_artifacts. No Docker: the job and its stored artifact are recorded directly."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from typer.testing import CliRunner

from cycle.api import Artifact
from cycle.cli import app
from cycle.pull import SyncResult, changed_artifacts

RECORDED_NS = 1_700_000_000_123_456_789
JAN_2020 = 1_577_836_800


def _finished_job(body: bytes = b"weights") -> str:
    from cycle.api.keys import artifact_key
    from emulator.models import Artifact as Record
    from emulator.models import JobState
    from emulator.platform import EmulatorPlatform
    from emulator.storage import open_blob_store

    platform = EmulatorPlatform()
    job = platform.store.create_job("demo", agent_pid=os.getpid())
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
    platform.store.set_state(job.id, JobState.FINISHED, exit_code=0)
    key, sha256 = artifact_key(job.name, "ckpt/step-1.pt"), hashlib.sha256(body).hexdigest()
    blobs = open_blob_store(platform.home)
    blobs.put_bytes(key, body, sha256)
    platform.store.add_artifact(job.id, Record("ckpt/step-1.pt", key, len(body), sha256, RECORDED_NS, 2, blobs.name))
    return job.name


def test_pull_gives_a_skipped_unchanged_file_its_recorded_mtime_back(home, tmp_path):
    name = _finished_job()
    project = tmp_path / "project"
    project.mkdir()
    pull = ["job", "pull", name, "--project-dir", str(project)]
    first = CliRunner().invoke(app, pull)
    assert first.exit_code == 0, first.output
    pulled = project / ".cycleswap" / "jobs" / name / "artifacts" / "ckpt" / "step-1.pt"
    assert pulled.stat().st_mtime_ns == RECORDED_NS
    os.utime(pulled, (JAN_2020, JAN_2020))  # touch -d 2020-01-01
    again = CliRunner().invoke(app, pull)
    assert again.exit_code == 0 and "0 artifact(s) downloaded (0 bytes), 1 unchanged" in again.output, again.output
    assert pulled.stat().st_mtime_ns == RECORDED_NS


def _artifact(key: str, body: bytes, mtime_ns: int) -> Artifact:
    return Artifact("f.bin", key, len(body), hashlib.sha256(body).hexdigest(), mtime_ns, 1)


def test_tails_known_files_and_records_without_mtime(tmp_path):
    """tail skips a file it fetched already (`known`) without reading it: its bytes may have been
    edited here since, so its time is left as it is (winding an edited file's time back to the job's
    would hide the edit); a record that kept no mtime (0) leaves the file's own time."""
    folder = tmp_path / "project" / ".cycleswap" / "jobs" / "demo-1"
    target: Path = folder / "artifacts" / "f.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"edited here")
    artifact = _artifact("jobs/demo-1/artifacts/f.bin", b"x", RECORDED_NS)
    os.utime(target, (JAN_2020, JAN_2020))
    known = {artifact.key: artifact.sha256}
    assert changed_artifacts([artifact], folder, "demo-1", SyncResult(), known) == []
    assert target.stat().st_mtime == JAN_2020 and target.read_bytes() == b"edited here"
    target.write_bytes(b"x")
    os.utime(target, (JAN_2020, JAN_2020))
    result = SyncResult()
    assert changed_artifacts([_artifact(artifact.key, b"x", 0)], folder, "demo-1", result) == []
    assert result.skipped == ["f.bin"] and target.stat().st_mtime == JAN_2020


def test_a_folder_whose_manifest_main_is_not_a_table_is_not_the_project(tmp_path, monkeypatch):
    """pull from a moved folder reads the folder's [main] name: `main = "x"` raised AttributeError."""
    from cycle.cli.job import _this_project

    (tmp_path / ".cycleswap").mkdir()
    (tmp_path / ".cycleswap" / "manifest.toml").write_text('main = "x"\n')
    monkeypatch.chdir(tmp_path)
    assert _this_project("x") is None
    (tmp_path / ".cycleswap" / "manifest.toml").write_text('[main]\nname = "x"\n')
    assert _this_project("x") == tmp_path.resolve()


def test_pull_into_another_projects_folder_says_so(home, tmp_path):
    """`--project-dir` of another project's folder saved there without a word."""
    name = _finished_job()
    other = tmp_path / "other"
    (other / ".cycleswap").mkdir(parents=True)
    (other / ".cycleswap" / "manifest.toml").write_text('[main]\nname = "elsewhere"\n')
    pulled = CliRunner().invoke(app, ["job", "pull", name, "--project-dir", str(other)])
    assert pulled.exit_code == 0, pulled.output
    note = f"note: {other} holds the project elsewhere, not demo (job {name}'s); saving there as asked."
    assert note in pulled.output
    assert (other / ".cycleswap" / "jobs" / name / "artifacts" / "ckpt" / "step-1.pt").exists()
