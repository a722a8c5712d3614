"""Nothing stuck: agent death, interrupts, start-up failures and storage down during a move all
end the job, remove its container and give its machine back. Real engine, real S3 server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from emulator.engine import protocol
from emulator.models import JobState, Stream
from emulator.pids import pid_alive
from emulator.store import StateStore

from helpers import FINAL, cli, wait_state


def start(project, *args: str) -> str:
    result = cli("project", "test", str(project.root), "--detach", *args)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def job_containers(docker_client, home, job_id: int) -> list:
    filters = {"label": [f"{protocol.LABEL_JOB}={job_id}", f"{protocol.LABEL_HOME}={protocol.home_label(home)}"]}
    return docker_client.containers.list(all=True, filters=filters)


def held_machines(home, job_id: int) -> list[str]:
    return [m.name for m in StateStore(home / "state.db").machines() if m.job_id == job_id]


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def kill_agent(job) -> None:
    os.kill(job.agent_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(job.agent_pid), 10, "the agent died")


def system_events(home, job_id: int) -> list[str]:
    return [r.text for r in StateStore(home / "state.db").logs(job_id) if r.stream is Stream.SYSTEM]


def test_a_killed_agent_is_noticed_by_the_next_read(project, home, docker_client):
    project.write(".cycleswap/run.sh", "echo started; sleep 120\n")
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    kill_agent(job)
    started = time.monotonic()
    result = cli("job", "status", name)
    assert result.exit_code == 0, result.output
    store = StateStore(home / "state.db")
    lost = store.job(job.id)
    assert (lost.state, lost.reason) == (JobState.FAILED, "LOST"), result.output
    assert time.monotonic() - started < 10
    assert job_containers(docker_client, home, job.id) == []
    assert held_machines(home, job.id) == []
    assert any("died" in text and "LOST" in text for text in system_events(home, job.id))


def test_a_machine_held_by_a_dead_agent_goes_to_the_next_job(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_MACHINES", "1")
    project.write(".cycleswap/run.sh", "echo started; sleep 120\n")
    first = start(project)
    job = wait_state(first, (JobState.RUNNING,))
    kill_agent(job)
    project.write(".cycleswap/run.sh", "echo second\n")
    second = start(project)
    store = StateStore(home / "state.db")  # no platform read: the claim itself must see the dead agent
    wait_for(lambda: store.job_by_name(second).state in FINAL, 90, f"{second} ended")
    assert store.job_by_name(second).state is JobState.FINISHED


def test_a_start_up_failure_ends_the_job_and_frees_its_machine(project, home, docker_client, monkeypatch):
    """A container the engine cannot create (no such network) used to escape as a traceback,
    leaving the job PENDING and its machine held. A missing network is refused before a job exists
    now (test_cli_daily_docker.py); the check is skipped here so that the engine itself refuses
    the container, as it would for a network removed between the check and the start."""
    import emulator.engine.dockerd

    monkeypatch.setattr(emulator.engine.dockerd, "check_network", lambda client, requested: None)
    run = project.test("--network", "cycle-no-such-network")
    assert run.exit_code != 0
    assert "Traceback" not in run.output
    job = StateStore(home / "state.db").job(run.job.id)
    assert (job.state, job.reason) == (JobState.FAILED, "AGENT_ERROR")
    assert any("job failed" in text for text in system_events(home, job.id))
    assert held_machines(home, job.id) == []
    assert job_containers(docker_client, home, job.id) == []


def test_two_interrupts_30_ms_apart_still_cancel_the_job(project, home, docker_client):
    project.write(".cycleswap/run.sh", "echo started; sleep 120\n")
    process = subprocess.Popen([sys.executable, "-m", "cycle", "project", "test", str(project.root)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    store = StateStore(home / "state.db")
    try:
        job = wait_for(lambda: next((j for j in store.jobs(limit=1) if j.state is JobState.RUNNING), None), 90,
                       "the job runs")
        wait_for(lambda: job_containers(docker_client, home, job.id), 10, "its container exists")
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        time.sleep(0.03)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    ended = store.job(job.id)
    assert ended.state is JobState.CANCELLED, output
    assert "Traceback" not in output
    assert output.count("cleaning up") <= 1
    assert job_containers(docker_client, home, job.id) == []
    assert held_machines(home, job.id) == []


@pytest.mark.parametrize(("signum", "code", "how"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 1, "a SIGTERM")])
def test_an_interrupted_drill_cancels_its_job(project, home, docker_client, signum, code, how):
    """A user test: `cycle drill … & kill -TERM $!` (or Ctrl-C) exited 143 (130) with no word and left
    its job RUNNING on a machine: the job's agent is detached and ran on."""
    project.write(".cycleswap/run.sh", "echo started; sleep 120\n")
    process = subprocess.Popen([sys.executable, "-m", "cycle", "drill", str(project.root), "--moves", "2", "--every",
                                "5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    store = StateStore(home / "state.db")
    try:
        job = wait_for(lambda: next((j for j in store.jobs(limit=1) if j.state is JobState.RUNNING), None), 90,
                       "the job runs")
        process.send_signal(signum)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, output
    assert f"drill interrupted ({how}): job {job.name} cancelled" in output and "Traceback" not in output
    assert store.job(job.id).state is JobState.CANCELLED
    assert job_containers(docker_client, home, job.id) == []
    assert held_machines(home, job.id) == []


def test_storage_down_during_a_move_fails_the_job_with_restore_failed(project, home, tmp_path, monkeypatch):
    from emulator.storage import answers, start_server, stop_server

    server_home = tmp_path / "s3-server"
    server_home.mkdir()
    host = start_server(server_home)
    try:
        monkeypatch.setenv("CYCLE_STORAGE", "s3")
        monkeypatch.setenv("LOCALSTACK_HOST", host)
        monkeypatch.setenv("CYCLE_STABILITY_MS", "200")
        monkeypatch.setenv("CYCLE_RESTORE_ATTEMPTS", "3")
        monkeypatch.setenv("CYCLE_RESTORE_BACKOFF_SECONDS", "0.2")
        project.write(".cycleswap/run.sh", "head -c 1000 /dev/urandom > /artifacts/a.bin; sleep 120\n")
        name = start(project)
        job = wait_state(name, (JobState.RUNNING,))
        store = StateStore(home / "state.db")
        wait_for(lambda: store.artifacts(job.id), 60, "a.bin is stored")
        stop_server(server_home)
        wait_for(lambda: not answers(host), 20, "the S3 server stopped")
        store.request_move(job.id, None, None)
        ended = wait_state(name, FINAL, timeout=90)
    finally:
        stop_server(server_home)
    assert (ended.state, ended.reason) == (JobState.FAILED, "RESTORE_FAILED")
    events = system_events(home, job.id)
    assert any("RESTORE_FAILED" in text and host in text and "a.bin" in text for text in events), events
    assert sum(text.startswith("restore: ") for text in events) == 2, events  # retried, then gave up
    assert held_machines(home, job.id) == []


def test_the_detached_agent_ends_its_job_on_any_error(home, docker_client):
    from emulator.job.agent_main import main

    store = StateStore(home / "state.db")
    store.ensure_machines(["local-0"], None)
    job = store.create_job("p", agent_pid=os.getpid())
    store.claim_machine(job.id, agent_pid=os.getpid())
    assert main([str(job.id), str(home), '{"no_such_option": 1}']) == 1
    ended = store.job(job.id)
    assert (ended.state, ended.reason) == (JobState.FAILED, "AGENT_ERROR")
    assert any("no_such_option" in text for text in system_events(home, job.id))
    assert held_machines(home, job.id) == []
