"""The CLI for daily use against the real engine (issue 13: 14, 17, 18): where an uploaded
version's job downloads to, `job logs --follow`, and the exit codes of commands that wait for a job."""

from __future__ import annotations

import json
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
    assert [line.split("[stdout] ")[1] for line in followed.stdout.splitlines()] == ["first", "last"]
    assert time.monotonic() - began >= 1.5  # it waited for the job rather than printing what was there
    if followed.stderr:  # read while the job had not started: one line says so (on stderr, as the lag hint)
        assert followed.stderr.startswith(f"job {name} is PENDING: it has not started yet"), followed.stderr
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


def test_a_foreground_job_cancelled_from_another_terminal_exits_1_and_says_by_whom(project, home):
    """README "Exit codes": CANCELLED elsewhere is 1; 130 is only this terminal's own Ctrl-C."""
    import os
    import subprocess
    import sys

    from emulator.store import StateStore

    project.write(".cycleswap/run.sh", "echo started; sleep 60\n")
    process = subprocess.Popen([sys.executable, "-m", "cycle", "project", "test", str(project.root)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        store = StateStore(home / "state.db")
        deadline = time.monotonic() + 90
        job = None
        while time.monotonic() < deadline and job is None:
            job = next((j for j in store.jobs(limit=1) if j.state is JobState.RUNNING), None)
            time.sleep(0.1)
        assert job is not None, "the job never ran"
        cancelled = cli("job", "cancel", job.name)
        assert cancelled.exit_code == 0, cancelled.output
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, out
    assert "CANCELLED by `cycle job cancel`" in out and "Ctrl-C" not in out


def test_a_network_the_engine_lacks_is_bad_input_before_any_job_exists(project, home):
    from emulator.platform import EmulatorPlatform

    for detach in ([], ["--detach"]):
        started = cli("project", "test", *detach, "--network", "no-such-net-xyz", str(project.root))
        assert started.exit_code == 2, started.output
        assert "'no-such-net-xyz'" in started.output and "auto, none, host" in started.output
    assert EmulatorPlatform().store.jobs(limit=10) == []


def test_queue_notes_edits_not_uploaded_and_still_runs_the_uploaded_version(project, home, monkeypatch):
    """`job queue` runs the latest upload, not the folder: an edit not uploaded yet ran as the old
    code without a word. A note on stderr names the changes; stdout stays the job's name alone."""
    monkeypatch.setenv("CYCLE_SCHEDULER_SECONDS", "1")
    project.write(".cycleswap/run.sh", "echo uploaded version\n")
    assert cli("project", "upload", str(project.root)).exit_code == 0
    project.write(".cycleswap/run.sh", "echo edited, not uploaded\n")
    project.write("extra.py", "print(1)\n")
    monkeypatch.chdir(project.root)
    queued = cli("job", "queue")
    assert queued.exit_code == 0, queued.output
    assert queued.stdout.strip().startswith(project.name)
    assert (f"note: {project.root} has changed since version 1 was uploaded (.cycleswap/run.sh changed, extra.py "
            "added); this job runs version 1.") in queued.stderr
    name = queued.stdout.strip()
    status = json.loads(cli("job", "status", name, "--json").stdout)  # at once: why it waits, never null
    assert status["state"] != "PENDING" or status["reason"] == "WAITING_FOR_SCHEDULER", status  # (a pass may come)
    assert wait_state(name, FINAL).state is JobState.FINISHED
    assert "uploaded version" in cli("job", "logs", name).stdout
