"""Cancelling a detached job while its build.sh runs (user test s7: the agent did not look at cancel
requests during the build, so `cycle job cancel` waited 5 s, sent SIGTERM, and the log blamed the
signal). The building agent takes the request itself: build container removed, nothing committed."""

from __future__ import annotations

import os
import signal

from emulator.engine.protocol import LABEL_HOME, LABEL_KIND, home_label
from emulator.models import JobState
from emulator.platform import EmulatorPlatform

from helpers import cli, system_lines, wait_for_system_line


def test_a_job_cancelled_while_build_sh_runs_is_ended_by_its_agent(project, home, docker_client, monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    project.write(".cycleswap/build.sh", "echo build-began; sleep 30; echo build-ended\n")
    started = cli("project", "test", "--detach", str(project.root))
    assert started.exit_code == 0, started.output
    name = started.output.strip()
    platform = EmulatorPlatform()
    wait_for_system_line(name, "[build] build-began")

    signals: list[tuple[int, int]] = []
    real_kill = os.kill

    def spying_kill(pid: int, sig: int) -> None:
        signals.append((pid, sig))
        real_kill(pid, sig)

    monkeypatch.setattr(os, "kill", spying_kill)
    cancelled = cli("job", "cancel", name)
    assert cancelled.exit_code == 0, cancelled.output
    assert not [s for s in signals if s[1] == signal.SIGTERM], "cancel fell back to SIGTERM: the agent did not answer"

    job = platform.job(name)
    assert (job.state, job.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
    lines = system_lines(name)
    assert any("job cancelled while PENDING (requested by `cycle job cancel`)" in line for line in lines), lines
    assert any("build stopped by the cancel" in line for line in lines), lines
    assert not any("SIGTERM" in line or ("build image" in line and "committed (" in line) for line in lines), lines
    left = docker_client.containers.list(all=True, filters={"label": [f"{LABEL_KIND}=build",
                                                                       f"{LABEL_HOME}={home_label(home)}"]})
    assert left == [], f"build containers left: {[c.name for c in left]}"
    assert not docker_client.images.list(filters={"label": f"cycleswap.project={project.name}"}), "half build committed"
    assert all(machine.job_id is None for machine in platform.machines()), "a machine is still held"
