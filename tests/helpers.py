"""Helpers shared by the Docker tests."""

from __future__ import annotations

import time
import uuid

from typer.testing import CliRunner

from cycle.cli import app
from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform

# Build images live in the engine, shared by every test session on it: a prefix per session lets the
# teardown remove this session's images only, never those of another session still running.
TEST_PROJECT_PREFIX = f"test-{uuid.uuid4().hex[:6]}-"
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


def folder_mode(folder) -> int:
    """A folder's permission bits (0o700 for a private one)."""
    import stat

    return stat.S_IMODE(folder.stat().st_mode)


def system_lines(name: str) -> list[str]:
    """The job's system events, as its log holds them now."""
    return [r.text for r in EmulatorPlatform().logs(name) if r.stream is Stream.SYSTEM]


def wait_for_system_line(name: str, text: str, timeout: float = 120.0) -> None:
    """Until a system event of the job holds `text` (AssertionError with the events after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in system_lines(name)):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name}'s log never said {text!r}: {system_lines(name)}")
