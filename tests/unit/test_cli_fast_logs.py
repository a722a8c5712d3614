"""The fast path of `cycle job logs JOB --tail N` (src/cycle/cli/fast.py, issue 14): it prints
exactly what the typer command prints, takes only the exact read-only form, and leaves every error
to the typer command. Jobs are made directly in a fresh home's state.db; no Docker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cycle.cli.fast import fast_job_logs, logs_request
from emulator.models import JobState, Stream

MAIN = [sys.executable, "-c", "from cycle.cli import main; main()"]
"""The entry point as users run it: the fast path first."""
TYPER = [sys.executable, "-c", "from cycle.cli.root import run; run()"]
"""The typer app alone, as every other command runs."""
TAKES_TYPER = ("import atexit, sys\n"
               "atexit.register(lambda: print('typer' in sys.modules, file=sys.__stderr__))\n"
               "from cycle.cli import main\n"
               "main()\n")
"""The entry point, printing at exit whether it imported typer (the fast path does not)."""


@pytest.fixture
def job(tmp_path: Path, monkeypatch) -> str:
    """An ended job whose log mixes stdout, stderr and system lines (non-ASCII and spaces kept)."""
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    platform = EmulatorPlatform()
    made = platform.store.create_job("demo", agent_pid=os.getpid())
    platform.store.set_state(made.id, JobState.RUNNING, machine="local-0")
    platform.store.set_state(made.id, JobState.FINISHED, exit_code=0)
    streams = [Stream.STDOUT, Stream.STDERR, Stream.SYSTEM]
    platform.store.append_logs(made.id, [(1_790_000_000_000_000_000 + i * 1_234, streams[i % 3],
                                          f"line {i} é ✓  trailing ") for i in range(250)])
    return made.name


@pytest.fixture
def running_job(job: str) -> str:
    """A RUNNING job (in the same home as `job`) whose agent died: only the platform's reaper,
    which every read through the platform runs, notices that and marks it LOST."""
    from emulator.platform import EmulatorPlatform

    agent = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = EmulatorPlatform().store
    made = store.create_job("live", agent_pid=int(agent.stdout))
    store.set_state(made.id, JobState.RUNNING, machine="local-1")
    store.append_logs(made.id, [(1_790_000_000_000_000_000 + i, Stream.STDOUT, f"live {i}") for i in range(20)])
    return made.name


CONTRACT_MODULE = "cycle.api.models"
"""What opening the platform imports and the direct read of an ended job does not (issue 14)."""
TAKES_THE_PLATFORM = ("import atexit, sys\n"
                      f"atexit.register(lambda: print({CONTRACT_MODULE!r} in sys.modules, file=sys.__stderr__))\n"
                      "from cycle.cli import main\n"
                      "main()\n")
"""The entry point, printing at exit whether it opened the platform (the contract's models)."""


def run(command: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *args], capture_output=True, timeout=60)


def same_as_typer(*args: str) -> subprocess.CompletedProcess:
    fast, typer = run(MAIN, *args), run(TYPER, *args)
    assert (fast.stdout, fast.stderr, fast.returncode) == (typer.stdout, typer.stderr, typer.returncode), args
    return fast


@pytest.mark.parametrize("tail", [["--tail", "1"], ["-n", "7"], ["--tail=100"], ["-n250"], ["--tail", "1000"], [],
                                  ["-n", "99999999999999999999"]],  # past sqlite's integers: all lines
                         ids=repr)
def test_the_fast_path_prints_byte_for_byte_what_typer_prints(job, tail):
    result = same_as_typer("job", "logs", job, *tail)
    wanted = int((tail[-1].removeprefix("--tail=").removeprefix("-n")) if tail else 250)
    lines = result.stdout.decode().splitlines()
    assert result.returncode == 0 and len(lines) == min(wanted, 250), result.stderr
    assert {"[stdout]", "[stderr]", "[system]"} <= {line.split()[1] for line in lines} or wanted < 3


def test_a_tail_past_sqlites_integers_is_the_whole_log_of_a_running_job_too(running_job):
    result = run(MAIN, "job", "logs", running_job, "--tail", str(2**70))
    assert result.returncode == 0 and b"live 0\n" in result.stdout and b"live 19\n" in result.stdout, result.stderr


def test_the_tail_option_may_come_before_the_job(job):
    assert run(MAIN, "job", "logs", "-n", "3", job).stdout == run(TYPER, "job", "logs", job, "-n", "3").stdout


@pytest.mark.parametrize("args", [["no-such-job-1", "--tail", "5"], ["Bad_Name!", "-n", "5"], ["{job}", "--tail", "-0"],
                                  ["{job}", "-n", "abc"], ["{job}", "--tail"], ["{job}", "-n", "-3"],
                                  ["{job}", "-n", "1_0"], ["{job}", "-n", "+5"], ["{job}", "-n", " 5"],
                                  ["{job}", "-n", "\u0665"]], ids=repr)
def test_errors_are_typers_own_message_and_exit_code(job, args):
    result = same_as_typer("job", "logs", *[arg.replace("{job}", job) for arg in args])
    assert result.returncode == 2 and result.stdout == b"", result
    assert b"Traceback" not in result.stderr


def test_an_unknown_job_in_a_home_not_made_yet_is_typers_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "no-home-yet"))
    result = run(MAIN, "job", "logs", "demo-1", "--tail", "5")
    assert result.returncode == 2 and b"No job named 'demo-1'" in result.stderr, result


def test_the_fast_forms_do_not_import_typer(job):
    for args in (["--tail", "100"], ["-n", "5"], ["--tail=5"], ["-n5"], []):
        result = subprocess.run([sys.executable, "-c", TAKES_TYPER, "job", "logs", job, *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and result.stderr.split()[-1] == "False", (args, result.stderr)


NOT_FAST_AFTER_THE_JOB = [["-f"], ["--follow"], ["--stream", "stderr"], ["--since", "10m"], ["demo-2"], ["--"],
                          ["-n", "5", "-n", "6"], ["-n", "0"], ["-n"], ["--tail"], ["-n", "abc"], ["--tail", "+5"],
                          ["-n", "1_0"], ["-n", " 5"], ["-n", "\uff15"], ["-n=5"], ["--tai", "5"], ["--help"]]


@pytest.mark.parametrize("argv", [
    [], ["job"], ["job", "logs"], ["job", "list"], ["job", "status", "demo-1"], ["job", "logs", "--help"],
    ["--help", "job", "logs", "demo-1"], ["logs", "job", "demo-1"],
    *(["job", "logs", "demo-1", *after] for after in NOT_FAST_AFTER_THE_JOB),
], ids=repr)
def test_every_other_command_line_goes_to_typer(argv):
    assert logs_request(argv) is None


@pytest.mark.parametrize("argv, wanted", [
    (["job", "logs", "demo-1"], ("demo-1", None)), (["job", "logs", "demo-1", "--tail", "100"], ("demo-1", 100)),
    (["job", "logs", "demo-1", "-n", "5"], ("demo-1", 5)), (["job", "logs", "demo-1", "--tail=12"], ("demo-1", 12)),
    (["job", "logs", "demo-1", "-n7"], ("demo-1", 7)), (["job", "logs", "-n", "7", "demo-1"], ("demo-1", 7)),
], ids=repr)
def test_the_fast_forms(argv, wanted):
    assert logs_request(argv) == wanted


def test_shell_completion_goes_to_typer(job, monkeypatch, capsys):
    monkeypatch.setenv("_CYCLE_COMPLETE", "complete_bash")
    assert fast_job_logs(["job", "logs", job, "--tail", "5"]) is False
    assert capsys.readouterr().out == ""


def test_an_unknown_job_goes_to_typer_without_printing(job, capsys):
    assert fast_job_logs(["job", "logs", "no-such-job-1", "--tail", "5"]) is False
    assert capsys.readouterr() == ("", "")


def test_a_closed_stdout_pipe_exits_quietly(job):
    process = subprocess.Popen([*MAIN, "job", "logs", job, "--tail", "200"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader left before the first line (`| head -0`)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and err == "", err


def opened_the_platform(*args: str) -> bool:
    result = subprocess.run([sys.executable, "-c", TAKES_THE_PLATFORM, *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stderr.split()[-1] == "True"


def test_an_ended_jobs_log_is_read_without_opening_the_platform(job):
    for tail in (["--tail", "100"], ["-n5"], []):
        assert not opened_the_platform("job", "logs", job, *tail), tail


def test_a_running_job_goes_through_the_platform_which_marks_it_lost_when_its_agent_died(running_job):
    from emulator.platform import EmulatorPlatform

    assert opened_the_platform("job", "logs", running_job, "--tail", "5")
    job = EmulatorPlatform().store.job_by_name(running_job)
    assert (job.state, job.reason) == (JobState.FAILED, "LOST")
    result = same_as_typer("job", "logs", running_job, "--tail", "100")
    assert result.returncode == 0 and b"[stdout] live 19" in result.stdout and b"LOST" in result.stdout


def test_a_home_of_another_schema_version_goes_through_the_platform(job):
    """A state.db another version of cycle wrote (user_version differs): the direct read does not
    guess at its tables; the platform (which migrates it) answers, byte for byte the same."""
    import sqlite3

    from emulator.store.db import SCHEMA_VERSION

    path = Path(os.environ["CYCLE_HOME"]) / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 1")
    assert opened_the_platform("job", "logs", job, "--tail", "3")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # the platform migrated it
    same_as_typer("job", "logs", job, "--tail", "3")
    assert not opened_the_platform("job", "logs", job, "--tail", "3")


def test_since_a_time_copied_from_the_output_includes_that_line(tmp_path, monkeypatch):
    """A printed time was rounded to the nearest microsecond through a float, and --since turned
    it back into ns through another float: for ~half of all lines the time printed for a line was
    later than the line, and `--since <that time>` left the line out."""
    import random

    from typer.testing import CliRunner

    from cycle.cli.job import parse_since
    from cycle.cli.root import app
    from cycle.logline import iso
    from emulator.platform import EmulatorPlatform

    rng = random.Random(14)
    stamps = [1_795_496_887_087_079_296] + [rng.randrange(1_700_000_000 * 10**9, 1_900_000_000 * 10**9)
                                            for _ in range(2000)]
    for ns in stamps:
        assert ns - 1000 < parse_since(iso(ns)) <= ns, ns
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    store = EmulatorPlatform().store
    made = store.create_job("since", agent_pid=os.getpid())
    store.set_state(made.id, JobState.RUNNING, machine="local-0")
    store.set_state(made.id, JobState.FINISHED, exit_code=0)
    base = 1_795_496_887_087_079_296  # .087079296 s: printed as .087079, not rounded up to .087080
    store.append_logs(made.id, [(base + i * 1_000_700, Stream.STDOUT, f"line {i}") for i in range(10)])
    for i in range(10):
        printed = iso(base + i * 1_000_700)
        result = CliRunner().invoke(app, ["job", "logs", made.name, "--since", printed])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == f"{printed} [stdout] line {i}"


@pytest.mark.parametrize(("since", "printed"), [
    ("0001-01-01T00:00:00Z", 250), ("1969-12-31T23:59:59Z", 250), ("1000000d", 250), ("99999999999999999999s", 250),
    ("9999-12-31T23:59:59Z", 0), ("2262-04-12T00:00:00Z", 0),
])
def test_since_at_either_end_of_time_means_every_line_or_none(job, since, printed):
    """A time before 1970 or after 2262 (sqlite's 64-bit integers) was a traceback (OverflowError)."""
    result = subprocess.run([*TYPER, "job", "logs", job, "--since", since], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert len(result.stdout.splitlines()) == printed


@pytest.mark.parametrize("since", ["", "  ", "yesterday", "2026-13-01"])
def test_a_bad_since_is_one_paragraph_and_exit_2(job, since):
    result = subprocess.run([*TYPER, "job", "logs", job, "--since", since], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == ""
    assert "--since" in result.stderr and "ISO 8601" in result.stderr


def test_a_since_time_without_a_zone_is_local_time(job, monkeypatch):
    """As the TUI shows times and `docker logs --since` reads them: 06:42:20 in Berlin (UTC+1 in
    November) is 05:42:20Z."""
    import time

    from cycle.cli.job import parse_since

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert parse_since("2026-11-24T06:42:20") == parse_since("2026-11-24T05:42:20Z")
        assert parse_since("2026-07-24T07:42:20") == parse_since("2026-07-24T05:42:20Z")  # summer time: UTC+2
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_tail_0_prints_nothing_and_with_follow_only_the_lines_that_come_after(tmp_path, monkeypatch):
    """`-n 0 -f`: only new lines, as `tail -n 0 -f` and `docker logs -n 0 -f` (a user test: refused)."""
    import time

    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    store = EmulatorPlatform().store
    made = store.create_job("follow", agent_pid=os.getpid())  # its agent (this test) is alive
    store.set_state(made.id, JobState.RUNNING, machine="local-0")
    store.append_logs(made.id, [(1_790_000_000_000_000_000 + i, Stream.STDOUT, f"old {i}") for i in range(5)])
    assert run(TYPER, "job", "logs", made.name, "-n", "0").stdout == b""
    follower = subprocess.Popen([*TYPER, "job", "logs", made.name, "-n", "0", "-f", "--interval", "0.1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # it has read the log at least once before the new lines land
    store.append_logs(made.id, [(1_790_000_001_000_000_000 + i, Stream.STDOUT, f"new {i}") for i in range(2)])
    store.set_state(made.id, JobState.FINISHED, exit_code=0)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert [line.split("] ", 1)[1] for line in out.decode().splitlines()] == ["new 0", "new 1"]
