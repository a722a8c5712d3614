"""Helpers shared by the Docker tests."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from cycle.cli import app
from emulator.models import JobState
from emulator.platform import EmulatorPlatform

FINAL = (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED)


def cli(*args: str):
    """`cycle ARGS` in-process."""
    return CliRunner().invoke(app, list(args))


def wait_state(name: str, states, timeout: float = 60.0):
    """The job once it is in one of `states`; fails the test after `timeout` seconds."""
    platform = EmulatorPlatform()
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = platform.job(name)
        if job.state in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{name} stayed {platform.job(name).state}")
