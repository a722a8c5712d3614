"""`cycle emulator usage` tells what the home holds on disk, the moto server's in-memory objects are
lost loudly (stop warns, pull explains), and `emulator machines` names the job a machine runs.
Against the real engine and the real moto S3 server (session eight, s3usage items 1-4)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from emulator.platform import EmulatorPlatform
from emulator.storage import start_server, stop_server

from helpers import cli, wait_state

REWRITTEN = """\
    head -c 1500000 /dev/urandom > /artifacts/weights.bin
    head -c 30000 /dev/urandom > /artifacts/metrics.bin
    sleep 1
    head -c 1500000 /dev/urandom > /artifacts/weights.bin
    head -c 30000 /dev/urandom > /artifacts/metrics.bin
    """


@pytest.fixture
def own_s3(home: Path):
    """A moto server of this test's own (config.toml points at it), so the test can stop it."""
    host = start_server(home)
    yield host
    stop_server(home)


def du_bytes(folder: Path) -> int:
    done = subprocess.run(["du", "-sB1", str(folder)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def test_usage_adds_what_the_home_holds_on_disk_by_part(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_STABILITY_MS", "200")
    project.write(".cycleswap/run.sh", REWRITTEN)
    run = project.test()
    assert run.exit_code == 0, run.output
    assert len(EmulatorPlatform().artifact_versions(run.job.name)) == 4  # older versions are kept in the store

    report = json.loads(cli("emulator", "usage", "--json").output)
    parts = {part["part"]: part for part in report["on_disk"]}
    assert parts["ended_working_copies"]["jobs"] == 1 and parts["ended_working_copies"]["bytes"] >= 1530000
    # the big file's older version is a blob of its own; both versions of the small one are in the job's pack
    assert 1500000 <= parts["old_artifact_versions"]["bytes"] < 1530000
    assert parts["artifacts"]["bytes"] >= 1500000 + 2 * 30000
    assert report["on_disk_total"] == sum(part["bytes"] for part in report["on_disk"])
    assert abs(report["on_disk_total"] - du_bytes(home)) <= 64 * 1024  # the home as du sees it (state.db grows)
    assert report["quota_used"] == sum(r["artifacts"] + r["logs"] for r in report["projects"]) + report["volumes"]
    assert report["build_images"]["counted"] and report["build_images"]["images"] == 1

    text = cli("emulator", "usage").output
    assert "1 job(s): working copies of ended jobs" in text and "`cycle job archive JOB`" in text
    assert "1.4 MiB" in text and "1500000" not in text  # sizes as people read them; --json keeps bytes

    assert cli("job", "archive", run.job.name).exit_code == 0
    after = {part["part"]: part for part in json.loads(cli("emulator", "usage", "--json").output)["on_disk"]}
    assert after["ended_working_copies"]["jobs"] == 0 and after["old_artifact_versions"]["bytes"] == 0


def test_stopping_moto_warns_and_a_pull_after_its_restart_says_what_was_lost(project, home, own_s3):
    project.write(".cycleswap/run.sh", "echo kept-in-memory > /artifacts/a.txt\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    status = json.loads(cli("emulator", "storage", "status", "--json").output)
    assert status["moto_server"] == own_s3 and status["held"]["files"] == 1 and status["held"]["jobs"] == 1

    stopped = cli("emulator", "storage", "stop")
    assert stopped.exit_code == 0
    assert "1 artifact(s) of 1 job(s), 15 B, lived only in the S3 server" in stopped.output, stopped.output
    assert "are lost with it" in stopped.output

    assert start_server(home) == own_s3  # the same address the records name; moto forgot the object
    pulled = cli("job", "pull", run.job.name)
    assert pulled.exit_code == 1 and isinstance(pulled.exception, SystemExit), pulled.output
    assert "NoSuchKey" not in pulled.output and "An error occurred" not in pulled.output, pulled.output
    assert f"jobs/{run.job.name}/artifacts/a.txt" in pulled.output and "moto" in pulled.output
    assert "restarted" in pulled.output and "memory" in pulled.output
    lost = json.loads(cli("emulator", "storage", "status", "--json").output)["lost"]
    assert (lost["jobs"], lost["files"], lost["bytes"]) == (1, 1, 15)
    assert json.loads(cli("emulator", "usage", "--json").output)["s3_lost"]["files"] == 1


def test_stopping_moto_under_a_running_job_is_refused_unless_forced(project, home, own_s3):
    """A user test: `storage stop` while a detached job uploaded to the server stopped it, and the
    job ended UPLOAD_ERROR with thousands of files not stored."""
    project.write(".cycleswap/run.sh", "sleep 60\n")
    started = cli("project", "test", str(project.root), "--detach")
    assert started.exit_code == 0, started.output
    name = started.output.strip().splitlines()[-1]
    wait_state(name, ("RUNNING",))
    try:
        refused = cli("emulator", "storage", "stop")
        assert refused.exit_code == 2 and isinstance(refused.exception, SystemExit), refused.output
        assert name in refused.output and "--force" in refused.output and "Traceback" not in refused.output
        assert json.loads(cli("emulator", "storage", "status", "--json").output)["moto_server"] == own_s3
        forced = cli("emulator", "storage", "stop", "--force")
        assert forced.exit_code == 0 and "stopped the S3 server" in forced.output, forced.output
    finally:
        cli("job", "cancel", name)
        wait_state(name, ("CANCELLED", "FAILED", "FINISHED"))


def test_machines_name_the_job_they_run(project, home):
    project.write(".cycleswap/run.sh", "sleep 30\n")
    started = cli("project", "test", str(project.root), "--detach")
    assert started.exit_code == 0, started.output
    name = started.output.strip().splitlines()[-1]
    job = wait_state(name, ("RUNNING",))
    try:
        deadline = time.monotonic() + 30
        while f"running {name}" not in cli("emulator", "machines").output and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"{job.machine:10} running {name}" in cli("emulator", "machines").output
        [row] = [m for m in json.loads(cli("emulator", "machines", "--json").output) if m["job_id"]]
        assert row["job_name"] == name and row["job_id"] == job.id and row["activity"] == f"running {name}"
        assert row["state"] == "available"  # busy is the owner's own work (README, machine states)
    finally:
        cli("job", "cancel", name)
