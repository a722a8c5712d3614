"""Job commands against the real emulator (Docker engine + moto S3): detached jobs, the log
cadence, list/status/logs, cancel, tail, pull, the SDK, and path traversal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from cycle.sdk import Client, JobState
from emulator.engine import protocol
from emulator.models import Artifact
from emulator.platform import EmulatorPlatform

from helpers import FINAL, cli, wait_state


@pytest.fixture
def detached(project, s3_storage, monkeypatch):
    """Start `project` detached and return its job name."""
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")

    def start(*args: str) -> str:
        result = cli("project", "test", str(project.root), "--detach", *args)
        assert result.exit_code == 0, result.output
        return result.output.strip()
    return start


def test_detached_jobs_run_in_parallel_and_outlive_the_cli(project, detached):
    project.write(".cycleswap/run.sh", "sleep 2; echo done-$INSIDE_CYCLESWAP_CONTAINER\n")
    started = time.monotonic()
    first, second = detached(), detached()
    assert time.monotonic() - started < 5  # returned at once, before the 2 s jobs could end
    assert first != second
    running = EmulatorPlatform().job(first)
    assert running.state in (JobState.PENDING, JobState.RUNNING) and running.agent_pid
    for name in (first, second):
        job = wait_state(name, FINAL)
        assert job.state is JobState.FINISHED
        assert any(r.text == "done-1" for r in EmulatorPlatform().logs(name))


def test_logs_ship_on_the_cadence_not_before(project, s3_storage, monkeypatch):
    """A line reaches the log store at the next shipment, not when printed. The shipper's clock
    starts with the job's record (before the build), so the lag of a line printed at once is the
    cadence less the start-up: measured from the line's own timestamp, with room for a slow machine."""
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "6")
    project.write(".cycleswap/run.sh", "echo early-line; sleep 14; echo late-line\n")
    name = cli("project", "test", str(project.root), "--detach").output.strip()
    wait_state(name, (JobState.RUNNING,))
    platform = EmulatorPlatform()
    deadline = time.time() + 30
    while time.time() < deadline and not (early := [r for r in platform.logs(name) if r.text == "early-line"]):
        time.sleep(0.05)
    seen_at = time.time()
    job = platform.job(name)
    assert early and job.state is JobState.RUNNING, "the line must become visible while the job still runs"
    assert job.log_cadence_seconds == 6.0  # the agent recorded its cadence: readers elsewhere say it (D3)
    assert seen_at - early[0].ts_ns / 1e9 >= 1.5, "the line was visible before the shipment"
    assert not any(r.text == "late-line" for r in platform.logs(name))
    wait_state(name, FINAL)
    assert any(r.text == "late-line" for r in platform.logs(name))  # shipped at the end


def test_list_status_logs_commands(project, detached):
    project.write(".cycleswap/run.sh", "echo to-out; echo to-err >&2; exit 4\n")
    name = detached()
    wait_state(name, FINAL)
    listed = json.loads(cli("job", "list", "--json").output)
    assert listed[0]["name"] == name and listed[0]["state"] == "FAILED" and listed[0]["reason"] == "EXIT_CODE_4"
    assert json.loads(cli("job", "list", "--json", "--state", "finished").output) == []
    status = json.loads(cli("job", "status", name, "--json").output)
    assert status["exit_code"] == 4 and status["started"] and status["finished"]
    only_err = cli("job", "logs", name, "--stream", "stderr").output.splitlines()
    assert len(only_err) == 1 and only_err[0].endswith("[stderr] to-err")
    last = cli("job", "logs", name, "--tail", "2").output.splitlines()
    assert len(last) == 2 and "job failed" in last[-1]
    assert "to-out" in cli("job", "logs", name, "--since", "1h").output
    assert cli("job", "logs", name, "--since", "2999-01-01T00:00:00Z").output == ""
    bad = cli("job", "logs", name, "--since", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_list_paginates(project, detached):
    project.write(".cycleswap/run.sh", "true\n")
    names = [detached() for _ in range(3)]
    for name in names:
        wait_state(name, FINAL)
    page1 = [j["name"] for j in json.loads(cli("job", "list", "--json", "--limit", "2").output)]
    page2 = [j["name"] for j in json.loads(cli("job", "list", "--json", "--limit", "2", "--offset", "2").output)]
    assert page1 + page2 == names[::-1]


def test_unknown_job_suggests_close_names(project, detached):
    project.write(".cycleswap/run.sh", "true\n")
    name = detached()
    result = cli("job", "status", name + "9")
    assert result.exit_code == 2 and f"Did you mean {name}" in result.output


def test_cancel_a_running_detached_job(project, detached, home, docker_client):
    project.write(".cycleswap/run.sh", "echo started; sleep 60\n")
    name = detached()
    job = wait_state(name, (JobState.RUNNING,))
    result = cli("job", "cancel", name)
    assert result.exit_code == 0 and "CANCELLED" in result.output
    assert EmulatorPlatform().job(name).state is JobState.CANCELLED
    filters = {"label": [f"{protocol.LABEL_JOB}={job.id}", f"{protocol.LABEL_HOME}={protocol.home_label(home)}"]}
    assert docker_client.containers.list(all=True, filters=filters) == []
    again = cli("job", "cancel", name)
    assert again.exit_code == 0 and f"job {name} was already CANCELLED; nothing to do" in again.output


def test_tail_streams_logs_and_downloads_artifacts_as_they_appear(project, detached):
    project.write(".cycleswap/run.sh", """\
        echo first > /artifacts/a.txt
        echo wrote-a
        sleep 5
        echo second > /artifacts/b.txt
        echo wrote-b
        """)
    name = detached()
    tail = subprocess.Popen([sys.executable, "-m", "cycle", "job", "tail", name, "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    folder = project.root / ".cycleswap" / "jobs" / name
    deadline = time.time() + 30
    while time.time() < deadline and not (folder / "artifacts" / "a.txt").exists():
        time.sleep(0.05)
    assert (folder / "artifacts" / "a.txt").read_text() == "first\n"
    assert EmulatorPlatform().job(name).state is JobState.RUNNING  # downloaded while the job runs
    assert not (folder / "artifacts" / "b.txt").exists()
    out, err = tail.communicate(timeout=60)
    assert tail.returncode == 0, err
    assert "wrote-a" in out and "wrote-b" in out and "FINISHED" in err
    assert (folder / "artifacts" / "b.txt").read_text() == "second\n"
    assert "[stdout] wrote-b" in (folder / "output.log").read_text()


def test_pull_is_idempotent_and_repairs_changed_files(project, detached):
    project.write(".cycleswap/run.sh", "mkdir -p /artifacts/ck; head -c 100000 /dev/urandom > /artifacts/ck/w.bin; "
                                       "echo m > /artifacts/m.txt\n")
    name = detached()
    wait_state(name, FINAL)
    first = cli("job", "pull", name)
    assert first.exit_code == 0 and "2 artifact(s) downloaded" in first.output
    folder = project.root / ".cycleswap" / "jobs" / name
    weights = (folder / "artifacts" / "ck" / "w.bin").read_bytes()
    assert len(weights) == 100000 and (folder / "output.log").read_text().count("[system]") >= 3
    recorded = (folder / "artifacts" / "ck" / "w.bin").stat().st_mtime_ns  # the job's file's time, as `cp -p`
    os.utime(folder / "artifacts" / "ck" / "w.bin", (1_577_836_800, 1_577_836_800))  # touch -d 2020-01-01
    second = cli("job", "pull", name)
    assert "0 artifact(s) downloaded" in second.output and "2 unchanged" in second.output
    assert (folder / "artifacts" / "ck" / "w.bin").stat().st_mtime_ns == recorded  # given back, not left at 2020
    (folder / "artifacts" / "ck" / "w.bin").write_bytes(b"tampered")
    third = cli("job", "pull", name)
    assert "1 artifact(s) downloaded" in third.output
    assert (folder / "artifacts" / "ck" / "w.bin").read_bytes() == weights


def test_traversal_is_refused_and_nothing_lands_outside(project, detached, home, tmp_path):
    project.write(".cycleswap/run.sh", "echo ok > /artifacts/ok.txt\n")
    name = detached()
    job = wait_state(name, FINAL)
    for bad in ("../x", "/abs", ".."):
        result = cli("job", "pull", bad)
        assert result.exit_code == 2 and "not a job name" in result.output
    store = EmulatorPlatform().store
    for key in (f"jobs/{name}/artifacts/../../../../evil.txt", f"jobs/{name}/artifacts//etc/evil",
                f"jobs/{name}/artifacts/%2E%2E/evil", "jobs/other-job/artifacts/x"):
        store.add_artifact(job.id, Artifact(path=key, key=key, size=1, sha256="0" * 64, mtime_ns=0,
                                            uploaded_ns=time.time_ns()))
    before = {p for p in tmp_path.rglob("*")}
    result = cli("job", "pull", name)
    assert result.exit_code == 0 and result.output.count("refused storage key") == 4
    created = {p for p in tmp_path.rglob("*")} - before
    folder = project.root / ".cycleswap" / "jobs" / name
    assert all(p == folder or folder in p.parents or p in folder.parents for p in created), created
    assert not any("evil" in p.name for p in created)


def test_interrupted_download_leaves_no_file_under_its_final_name(project, detached):
    from cycle.pull import sync_artifacts

    project.write(".cycleswap/run.sh", "head -c 5000000 /dev/urandom > /artifacts/big.bin\n")
    name = detached()
    wait_state(name, FINAL)
    platform = EmulatorPlatform()
    folder = project.root / ".cycleswap" / "jobs" / name

    def boom(_n):
        raise KeyboardInterrupt

    with pytest.raises(BaseException):  # boto3's transfer threads may wrap the interrupt
        sync_artifacts(platform, platform.job(name), folder, progress=boom)
    assert not (folder / "artifacts" / "big.bin").exists()
    assert [p.name for p in (folder / "artifacts").iterdir()] == []  # no .part left either


def test_sdk_get_list_cancel_archive(project, detached, s3_storage):
    project.write(".cycleswap/run.sh", "echo w > /artifacts/w.txt\n")
    name = detached()
    client = Client()
    assert client.jobs.get(name).state in (JobState.PENDING, JobState.RUNNING, JobState.FINISHED)
    while (job := client.jobs.get(name)).state in (JobState.PENDING, JobState.RUNNING):
        time.sleep(0.1)
    assert job.state is JobState.FINISHED and job.finished_at >= job.started_at >= job.created_at
    assert [j.id for j in client.jobs.list(limit=1)] == [name]
    platform = EmulatorPlatform()
    assert platform.blob_store().list(f"jobs/{name}/")
    archived = client.jobs.archive(name)
    assert archived.archived and archived.state is JobState.FINISHED
    assert platform.blob_store().list(f"jobs/{name}/") == []
    assert client.jobs.get(name).name == name  # the record stays
    project.write(".cycleswap/run.sh", "sleep 60\n")
    running = detached()
    wait_state(running, (JobState.RUNNING,))
    assert client.jobs.cancel(running).state is JobState.CANCELLED
    assert set(JobState.__members__) == {"PENDING", "RUNNING", "FINISHED", "FAILED", "CANCELLED"}
