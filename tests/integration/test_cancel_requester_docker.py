"""A cancel names who asked for it in the job's log, as a reassignment does (tui2: `cycle tui`
cancelled a job and the log blamed "Ctrl-C or `cycle job cancel`")."""

from __future__ import annotations

import pytest

from cycle.tui.screens.job import REQUESTER
from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform

from helpers import cli, wait_state


@pytest.fixture
def detached(project, s3_storage, monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")

    def start() -> str:
        result = cli("project", "test", str(project.root), "--detach")
        assert result.exit_code == 0, result.output
        return result.output.strip()
    return start


def test_a_cancel_from_the_tui_names_the_tui_in_the_log(project, detached, home, docker_client):
    project.write(".cycleswap/run.sh", "echo started; sleep 60\n")
    name = detached()
    wait_state(name, (JobState.RUNNING,))
    platform = EmulatorPlatform()
    ended = platform.cancel(name, requester=REQUESTER)
    assert ended.state is JobState.CANCELLED
    events = [r.text for r in platform.logs(name) if r.stream is Stream.SYSTEM]
    assert any("job cancelled (requested by `cycle tui`)" in text for text in events), events
    assert not any("Ctrl-C" in text for text in events), events
