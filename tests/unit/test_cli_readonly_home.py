"""Read-only commands write nothing: on a home where no job ran they answer from what is not there
(no job of that name, no volume, no mail, the machines as they start) instead of creating state.db.
Run as a user runs them (a subprocess, so `job logs` takes the fast path too); no Docker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CYCLE = [sys.executable, "-c", "from cycle.cli import main; main()"]

UNKNOWN_JOB = [["job", "logs", "x"], ["job", "logs", "x", "-n", "3"], ["job", "logs", "x", "--since", "10m"],
               ["job", "status", "x"], ["job", "status", "x", "--json"], ["job", "cancel", "x"],
               ["job", "archive", "x"], ["job", "pull", "x"], ["job", "tail", "x"], ["job", "reassign", "x"]]
READS = [["emulator", "usage"], ["emulator", "usage", "--json"], ["emulator", "machines"], ["emulator", "outbox"],
         ["volume", "list"], ["job", "list"]]


def cycle(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CYCLE_HOME": str(home)}
    return subprocess.run([*CYCLE, *args], env=env, capture_output=True, text=True, timeout=60)


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("args", UNKNOWN_JOB, ids=" ".join)
def test_unknown_job_on_an_empty_home_writes_nothing_and_says_so(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = cycle(home, *args)
    assert files_in(home) == []
    assert done.returncode == 2, done.stderr
    assert "No job named 'x'" in done.stderr and "`cycle job list` shows the jobs" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("args", [*READS, ["volume", "versions", "x"]], ids=" ".join)
def test_reads_on_a_home_that_does_not_exist_create_nothing(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    done = cycle(home, *args)
    assert not home.exists(), files_in(home)
    assert "Traceback" not in done.stderr


def test_empty_home_answers_as_a_fresh_one_would(tmp_path: Path) -> None:
    home = tmp_path / "home"
    machines = cycle(home, "emulator", "machines")
    assert machines.returncode == 0 and machines.stdout.splitlines()[0].startswith("local-0    available")
    assert cycle(home, "emulator", "outbox").stdout == "the outbox is empty\n"
    assert cycle(home, "emulator", "usage").stdout.split() == ["volumes", "0", "B"]
    volume = cycle(home, "volume", "versions", "x")
    assert volume.returncode == 2 and "volume 'x' was never uploaded" in volume.stderr
    assert not home.exists()


def test_unknown_job_on_a_home_with_jobs_adds_no_file(tmp_path: Path, monkeypatch) -> None:
    from emulator.platform import EmulatorPlatform

    home = tmp_path / "home"
    monkeypatch.setenv("CYCLE_HOME", str(home))
    EmulatorPlatform().store.create_job("demo", agent_pid=os.getpid())
    before = files_in(home)
    for args in UNKNOWN_JOB[:6]:
        done = cycle(home, *args)
        assert done.returncode == 2 and "No job named 'x'" in done.stderr, args
    assert files_in(home) == before


BAD_INPUT = [["project", "test", "/nonexistent"], ["project", "upload", "/nonexistent"], ["drill", "/nonexistent"],
             ["project", "test", "{project}", "--network", "bogus"], ["job", "queue", "nosuch"]]
STATUS_READS = [["emulator", "storage", "status"], ["emulator", "doctor"], ["emulator", "home"], ["emulator", "images"]]


@pytest.mark.parametrize("args", BAD_INPUT, ids=" ".join)
def test_bad_input_leaves_an_empty_home_absent(tmp_path: Path, args: list[str]) -> None:
    """mendhome D5: refused input is refused before the home is opened (the platform creates the
    home and state.db only when it first records something)."""
    project = tmp_path / "proj"
    assert cycle(tmp_path / "init-home", "project", "init", str(project)).returncode == 0
    home = tmp_path / "home"
    done = cycle(home, *(arg.format(project=project) for arg in args))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert not home.exists(), files_in(home)


@pytest.mark.parametrize("args", STATUS_READS, ids=" ".join)
def test_status_reads_leave_an_empty_home_absent(tmp_path: Path, args: list[str]) -> None:
    """mendhome D5: `emulator storage status|doctor|home|images` only read: no home, no storage/."""
    home = tmp_path / "home"
    done = cycle(home, *args)
    assert "Traceback" not in done.stderr
    assert not home.exists(), files_in(home)
    if args[-1] in ("home", "status"):
        assert str(home) in done.stdout and done.returncode == 0
