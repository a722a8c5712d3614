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
READS = {  # each read: its exit code and a line of what it prints on a home where nothing ran
    "emulator usage": (0, ": nothing yet (no job has run)"),
    "emulator usage --json": (0, '"volumes": 0,'),
    "emulator storage status --json": (0, '"kind": "local"'),
    "emulator machines": (0, "local-0    available"),
    "emulator outbox": (0, "the outbox is empty"),
    "volume list": (0, "no volumes yet: `cycle volume upload NAME DIR`"),
    "job list": (0, "no jobs yet: run `cycle project test` in a project"),
    "volume versions x": (2, "error: volume 'x' was never uploaded. `cycle volume list` shows the volumes."),
    "volume versions ../bad": (2, "error: '../bad' is not a volume name. Use 1-63 letters"),
}
UNREACHABLE_S3 = {"CYCLE_STORAGE": "s3", "LOCALSTACK_HOST": "127.0.0.1:9"}  # nothing listens on port 9


def cycle(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {}), "CYCLE_HOME": str(home)}
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


@pytest.mark.parametrize("command", READS)
def test_reads_on_a_home_that_does_not_exist_create_nothing(tmp_path: Path, command: str) -> None:
    home = tmp_path / "home"
    done = cycle(home, *command.split())
    assert not home.exists(), files_in(home)
    assert "Traceback" not in done.stderr
    code, line = READS[command]
    assert done.returncode == code, done.stderr
    assert line in (done.stdout if code == 0 else done.stderr), done.stdout + done.stderr


def test_empty_home_answers_as_a_fresh_one_would(tmp_path: Path) -> None:
    home = tmp_path / "home"
    machines = cycle(home, "emulator", "machines")
    assert machines.returncode == 0 and machines.stdout.splitlines()[0].startswith("local-0    available")
    assert cycle(home, "emulator", "outbox").stdout == "the outbox is empty\n"
    usage = cycle(home, "emulator", "usage").stdout.splitlines()
    assert [line.split() for line in usage[1:3]] == [["volumes", "0", "B"], ["total", "0", "B"]]
    assert usage[3] == f"on disk in {home}: nothing yet (no job has run)"
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
             ["project", "test", "{project}", "--network", "bogus"], ["job", "queue", "nosuch"],
             ["volume", "upload", "x", "/nonexistent"], ["volume", "upload", "../bad", "{project}"],
             ["emulator", "machine", "local-0", "sideways"], ["emulator", "machine", "nosuch", "offline"],
             ["emulator", "storage", "use", "s3", "--host", "bad:99999"],
             ["emulator", "storage", "use", "s3", "--bucket", "Bad_Bucket"]]
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
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr  # one paragraph
    assert not home.exists(), files_in(home)


@pytest.mark.parametrize("s3", [False, True], ids=["local", "s3-unreachable"])
@pytest.mark.parametrize("args", STATUS_READS, ids=" ".join)
def test_status_reads_leave_an_empty_home_absent(tmp_path: Path, args: list[str], s3: bool) -> None:
    """mendhome D5: `emulator storage status|doctor|home|images` only read: no home, no storage/,
    and with S3 configured no snapshot folder (<home>/tmp) either, even when the server is down."""
    home = tmp_path / "home"
    done = cycle(home, *args, env=UNREACHABLE_S3 if s3 else None)
    assert "Traceback" not in done.stderr
    assert not home.exists(), files_in(home)
    if args[-1] == "home" or args[-1] == "status" and not s3:
        assert str(home) in done.stdout and done.returncode == 0
    if args[-1] == "status" and s3:
        assert done.returncode == 1 and done.stdout == ""
        assert "S3 bucket cycleswap at 127.0.0.1:9" in done.stderr and "cycle emulator storage start" in done.stderr
    if args[-1] == "doctor" and s3:
        assert "FAIL  artifact store   the artifact store does not answer" in done.stdout
