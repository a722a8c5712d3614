"""The CLI for daily use against the real engine (issue 13: 14, 17, 18): where an uploaded
version's job downloads to, `job logs --follow`, and the exit codes of commands that wait for a job."""

from __future__ import annotations

import time

from emulator.models import JobState

from helpers import FINAL, cli, wait_state


def _queue_uploaded_version(project, monkeypatch) -> str:
    monkeypatch.setenv("CYCLE_SCHEDULER_SECONDS", "1")
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    project.write(".cycleswap/run.sh", "mkdir -p /artifacts/ckpt; echo w > /artifacts/ckpt/step-1.pt; echo done\n")
    uploaded = cli("project", "upload", str(project.root))
    assert uploaded.exit_code == 0, uploaded.output
    monkeypatch.chdir(project.root)
    queued = cli("job", "queue")
    assert queued.exit_code == 0, queued.output
    return queued.output.strip()


def test_a_queued_upload_pulls_into_the_users_project_folder(project, home, monkeypatch, tmp_path):
    name = _queue_uploaded_version(project, monkeypatch)
    assert wait_state(name, FINAL).state is JobState.FINISHED
    monkeypatch.chdir(tmp_path)  # pull from anywhere: the job's project folder is the user's
    pulled = cli("job", "pull", name)
    assert pulled.exit_code == 0, pulled.output
    folder = project.root / ".cycleswap" / "jobs" / name
    assert (folder / "artifacts" / "ckpt" / "step-1.pt").read_text() == "w\n"
    assert "done" in (folder / "output.log").read_text()
    assert not list((home / "project-versions").rglob(".cycleswap/jobs")), "pulled into the emulator's checkout"


def _detached(project, run_sh: str) -> str:
    project.write(".cycleswap/run.sh", run_sh)
    started = cli("project", "test", "--detach", str(project.root))
    assert started.exit_code == 0, started.output
    return started.output.strip()


def test_logs_follow_prints_until_the_job_ends(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    name = _detached(project, "echo first; sleep 2; echo last; exit 3\n")
    began = time.monotonic()
    followed = cli("job", "logs", name, "--follow", "-n", "50", "--stream", "stdout", "--interval", "0.2")
    assert followed.exit_code == 0, followed.output  # like `docker logs -f`: reading the log went well
    assert [line.split("[stdout] ")[1] for line in followed.output.splitlines()] == ["first", "last"]
    assert time.monotonic() - began >= 1.5  # it waited for the job rather than printing what was there
    assert wait_state(name, FINAL, timeout=5).state is JobState.FAILED


def test_tail_of_a_failed_job_exits_with_its_code_as_project_test_does(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    name = _detached(project, "echo working; exit 3\n")
    tailed = cli("job", "tail", name, "--interval", "0.2")
    assert tailed.exit_code == 3, tailed.output
    assert "FAILED (EXIT_CODE_3)" in tailed.output and "working" in tailed.output
    assert project.test().exit_code == 3  # the same job run in the foreground exits the same way


def test_the_emulators_copy_of_a_version_never_owns_the_project(project, home, monkeypatch, tmp_path):
    """A home where a queued job recorded the emulator's checkout (~/.cycle/project-versions/…) as
    the project's folder, as older versions did: uploading from the user's folder takes the name
    back (the checkout is no owner), and both that job and new ones pull into the user's folder."""
    from emulator.platform import EmulatorPlatform

    old = _queue_uploaded_version(project, monkeypatch)
    wait_state(old, FINAL)
    checkout = next((home / "project-versions").iterdir()) / "v1"
    store = EmulatorPlatform().store
    with store._tx() as db:
        db.execute("UPDATE projects SET root = ? WHERE name = ?", (str(checkout), project.name))
        db.execute("UPDATE jobs SET project_root = ? WHERE name = ?", (str(checkout), old))
    new = _queue_uploaded_version(project, monkeypatch)
    assert wait_state(new, FINAL).state is JobState.FINISHED
    monkeypatch.chdir(tmp_path)
    for name in (old, new):
        pulled = cli("job", "pull", name)
        assert pulled.exit_code == 0, pulled.output
        assert (project.root / ".cycleswap" / "jobs" / name / "artifacts" / "ckpt" / "step-1.pt").exists()
    assert not list((home / "project-versions").rglob(".cycleswap/jobs")), "pulled into the emulator's checkout"
