"""Cancelling a queued job while it waits PENDING for the scheduler (user test s7: it took 5.3 s and
the log blamed "a SIGTERM (`cycle job cancel` when the agent did not answer …); container removed"
though no container ever existed). The waiting agent takes the cancel request itself."""

from __future__ import annotations

from emulator.models import JobState
from emulator.platform import EmulatorPlatform

from helpers import cli, system_lines, wait_for_system_line


def test_a_job_cancelled_while_it_waits_for_the_scheduler_is_ended_by_its_agent(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_SCHEDULER_SECONDS", "3600")  # the next pass never comes during the test
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    project.write(".cycleswap/run.sh", "echo ran\n")
    assert cli("project", "upload", str(project.root)).exit_code == 0
    queued = cli("job", "queue", project.name)
    assert queued.exit_code == 0, queued.output
    name = queued.output.strip()
    platform = EmulatorPlatform()
    wait_for_system_line(name, "queued: the scheduler looks for pending jobs")
    assert (platform.job(name).state, platform.job(name).reason) == (JobState.PENDING, "WAITING_FOR_SCHEDULER")

    cancelled = cli("job", "cancel", name)
    assert cancelled.exit_code == 0, cancelled.output
    job = platform.job(name)
    assert (job.state, job.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
    lines = system_lines(name)
    assert any("job cancelled while PENDING (requested by `cycle job cancel`)" in line for line in lines), lines
    assert not any("SIGTERM" in line or "container" in line for line in lines), lines
    assert all(machine.job_id is None for machine in platform.machines()), "a machine is still held"
