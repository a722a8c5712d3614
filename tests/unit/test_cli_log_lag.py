"""`cycle job logs` of a running job whose printed lines have not shipped yet (the 600 s cadence)
says so on stderr, through the fast path and the typer command alike; stdout keeps only the log.
The job's agent is simulated by this process (a store row and a LogShipper); no Docker."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.logship import LogShipper
from emulator.models import JobState, Stream

CYCLE = [sys.executable, "-c", "from cycle.cli import main; main()"]


@pytest.fixture
def platform(tmp_path: Path, monkeypatch):
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    return EmulatorPlatform()


def running_job(platform):
    job = platform.store.create_job("lag", agent_pid=os.getpid())  # this process is its live agent
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
    platform.store.append_logs(job.id, [(time.time_ns(), Stream.STDOUT, "shipped line")])
    return job


def cycle(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CYCLE, *args], capture_output=True, text=True, timeout=60, env=os.environ)


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("args", [[], ["-n", "5"], ["--since", "1h"], ["--stream", "stdout"]],
                         ids=["fast path", "fast path tail", "typer since", "typer stream"])
def test_a_running_jobs_unshipped_lines_get_one_hint_on_stderr(platform, args) -> None:
    job = running_job(platform)
    platform.store.record_log_backlog(job.id, 7)
    done = cycle("job", "logs", job.name, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("shipped line\n") and "upload" not in done.stdout  # pipes stay clean
    hint = done.stderr.strip().splitlines()
    both = " (stdout and stderr together)" if "--stream" in args else ""  # a user test: the count read as stdout's
    assert len(hint) == 1 and hint[0].startswith(f"job {job.name} is running: 7 line(s) it printed{both} are not in "
                                                 "its log")
    assert "next log upload (every 600 s) or when the job ends" in hint[0]
    assert f"`cycle job logs {job.name} -f` waits for them and prints each upload as it lands" in hint[0]
    assert "as they arrive" not in hint[0]  # -f polls the stored log: it cannot print lines as the job prints them


def follow_until_it_ends(platform, job, *args: str) -> tuple[str, str]:
    """Run a following command (`job logs -f`, `job tail`) on the running job: its first line on
    stderr, read once it printed the shipped line (the hint reads the job before it ends), and the
    rest of its stderr once the job FINISHED and it exited 0."""
    follower = subprocess.Popen([*CYCLE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=os.environ)
    try:
        assert follower.stdout.readline().endswith("shipped line\n")
        first = follower.stderr.readline()
        platform.store.set_state(job.id, JobState.FINISHED, exit_code=0)
        _out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    return first, err


def test_with_follow_the_hint_says_it_waits_for_the_next_upload(platform) -> None:
    """D2: `job logs JOB -f` printed the hint telling to run `job logs JOB -f`; it says, once, what it waits for."""
    job = running_job(platform)
    platform.store.record_log_backlog(job.id, 7)
    first, err = follow_until_it_ends(platform, job, "job", "logs", job.name, "-f", "--interval", "0.1")
    hint = (first + err).strip().splitlines()
    assert len(hint) == 1 and hint[0].startswith(f"job {job.name} is running: 7 line(s) it printed are not in its log")
    assert "waiting for its next log upload (every 600 s) or its end" in hint[0]
    assert "-f" not in hint[0]


@pytest.mark.parametrize("args", [[], ["-n", "5"]], ids=["fast path", "typer"])
def test_the_hint_says_the_cadence_the_jobs_agent_recorded(platform, args) -> None:
    """D3: under $CYCLE_LOG_CADENCE_SECONDS=1 (the agent's) the hint still said 600 s."""
    job = running_job(platform)
    platform.store.record_log_cadence(job.id, 1.0)
    platform.store.record_log_backlog(job.id, 2)
    hint = cycle("job", "logs", job.name, *args, *(["--stream", "stdout"] if args else [])).stderr
    assert "(every 1 s)" in hint and "600" not in hint


def test_no_hint_once_everything_shipped_or_the_job_ended(platform) -> None:
    job = running_job(platform)
    assert cycle("job", "logs", job.name).stderr == ""
    platform.store.record_log_backlog(job.id, 3)
    platform.store.set_state(job.id, JobState.FINISHED, exit_code=0)
    assert cycle("job", "logs", job.name).stderr == ""


def test_the_shipper_records_what_waits_for_the_next_shipment(platform) -> None:
    job = running_job(platform)
    shipper = LogShipper(platform.store, job.id, lambda *record: None, cadence=3600)
    try:
        shipper.add([(time.time_ns(), Stream.STDOUT, "a"), (time.time_ns() + 1, Stream.STDERR, "b")])
        wait_for(lambda: platform.job(job.name).log_backlog == 2)
    finally:
        shipper.close()
    assert platform.job(job.name).log_backlog == 0
    assert [r.text for r in platform.logs(job.name)] == ["shipped line", "a", "b"]


def test_the_backlog_counts_only_what_the_job_printed(platform) -> None:
    """System events (the agent's) are not lines the job printed, which the hint says it counts."""
    job = running_job(platform)
    shipper = LogShipper(platform.store, job.id, lambda *record: None, cadence=3600)
    try:
        shipper.add([(time.time_ns(), Stream.SYSTEM, "job started"), (time.time_ns() + 1, Stream.STDOUT, "a"),
                     (time.time_ns() + 2, Stream.SYSTEM, "artifact stored")])
        wait_for(lambda: platform.job(job.name).log_backlog != 0)
        assert platform.job(job.name).log_backlog == 1
    finally:
        shipper.close()



def test_the_backlog_is_counted_as_lines_come_not_by_rescanning_the_buffer(platform) -> None:
    """The count is read every second under the lock the job's reader needs; a rescan of a buffer
    holding up to 600 s of output (millions of lines at 100k lines/s) stalled the reader."""
    job = running_job(platform)
    shipper = LogShipper(platform.store, job.id, lambda *record: None, cadence=3600)

    class Unscannable(list):
        def __iter__(self):
            raise AssertionError("the backlog rescanned the buffer")

    try:
        shipper._buffer = Unscannable()
        shipper.keep([(time.time_ns(), Stream.STDOUT, "a"), (time.time_ns() + 1, Stream.STDERR, "b")])
        shipper.add([(time.time_ns() + 2, Stream.SYSTEM, "artifact stored")])
        shipper._record_backlog()
        assert platform.job(job.name).log_backlog == 2
    finally:
        shipper._buffer = list(shipper._buffer[:])
        shipper.close()

def test_a_backlog_record_that_fails_does_not_stop_the_shipper(platform) -> None:
    """The backlog count is best effort: a failing write of it (the database busy past its timeout)
    must not end the shipper's thread, which ships the job's log every cadence."""
    job = running_job(platform)

    class FlakyStore:
        def __init__(self, store) -> None:
            self.store, self.failures = store, 0

        def record_log_backlog(self, job_id: int, lines: int) -> None:
            self.failures += 1
            raise sqlite3.OperationalError("database is locked")

        def __getattr__(self, name: str):
            return getattr(self.store, name)

    store = FlakyStore(platform.store)
    shipper = LogShipper(store, job.id, lambda *record: None, cadence=1.5)
    try:
        shipper.add([(time.time_ns(), Stream.STDOUT, "after the failure")])
        wait_for(lambda: store.failures >= 1)
        wait_for(lambda: "after the failure" in [r.text for r in platform.logs(job.name)])  # shipped on cadence
        assert shipper._thread.is_alive()
    finally:
        shipper.close()


class CountingPlatform:
    """The real platform, counting the log records each read hands back."""

    def __init__(self, platform) -> None:
        self.platform, self.records_read = platform, 0

    def __getattr__(self, name: str):
        call = getattr(self.platform, name)
        if name not in ("logs", "logs_before"):
            return call

        def counted(*args, **kwargs):
            records = call(*args, **kwargs)
            self.records_read += len(records)
            return records
        return counted


def test_since_with_a_tail_reads_only_the_last_lines(platform, capsys) -> None:
    """`cycle job logs JOB --since T -n N` (the typer command's print_log) reads N lines, not every
    line since T; it prints what it printed before: the last N lines at or after T."""
    from cycle.cli.fast import print_log

    job = platform.store.create_job("since", agent_pid=os.getpid())
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
    platform.store.append_logs(job.id, [(ts, Stream.STDOUT, f"line {ts}") for ts in range(1, 501)])
    platform.store.set_state(job.id, JobState.FINISHED, exit_code=0)
    counting = CountingPlatform(platform)
    records = print_log(counting, job.name, tail=3, since_ns=100)
    assert [r.text for r in records] == ["line 498", "line 499", "line 500"]
    assert counting.records_read == 3
    assert capsys.readouterr().out.splitlines()[-1].endswith("line 500")
    assert [r.text for r in print_log(platform, job.name, tail=5, since_ns=499)] == ["line 499", "line 500"]


def test_follow_exits_quietly_once_the_reader_of_its_pipe_left(platform) -> None:
    """D4: `cycle job logs RUNNING_JOB -f | head -1` went on until its next write (the next upload, up
    to 600 s after head left); it notices the closed pipe while it waits and exits 0, as `tail -f | head`."""
    job = running_job(platform)
    follower = subprocess.Popen([*CYCLE, "job", "logs", job.name, "-f"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert follower.stdout.readline().endswith("shipped line\n")
        follower.stdout.close()  # as head does once it has its lines
        assert follower.wait(timeout=20) == 0  # the job still runs: only the closed pipe ends it
        err = follower.stderr.read()
    finally:
        follower.kill()
    assert err == "", err  # no traceback, no "Broken pipe"
    assert platform.job(job.name).state == JobState.RUNNING


def test_job_tail_and_job_pull_of_a_running_job_say_why_its_log_lags(platform, tmp_path) -> None:
    """A user test: `job tail` printed downloads and no word of the lines to come, and `job pull`
    wrote an output.log without them, silently; `job logs` says why (the 600 s cadence)."""
    job = running_job(platform)
    platform.store.record_log_backlog(job.id, 7)
    (tmp_path / "proj" / ".cycleswap").mkdir(parents=True)
    pulled = cycle("job", "pull", job.name, "--project-dir", str(tmp_path / "proj"))
    assert pulled.returncode == 0, pulled.stderr
    saved = tmp_path / "proj" / ".cycleswap" / "jobs" / job.name / "output.log"
    assert saved.read_text().endswith("shipped line\n")
    assert (f"job {job.name} is running: 7 line(s) it printed are not in its log yet, so {saved} holds what the log "
            "held: they reach it at its next log upload (every 600 s)") in pulled.stderr, pulled.stderr
    first, err = follow_until_it_ends(platform, job, "job", "tail", job.name, "--project-dir", str(tmp_path / "proj"),
                                      "--interval", "0.1")
    assert first.startswith(f"job {job.name} is running: 7 line(s) it printed are not in its log yet; waiting for its "
                            "next log upload (every 600 s) or its end"), first + err
    assert "is running:" not in err  # once


@pytest.mark.parametrize("args", [[], ["-n", "5"], ["--stream", "stdout"]], ids=["fast path", "tail", "typer"])
def test_an_empty_log_of_a_job_not_started_says_so(platform, args) -> None:
    """A user test: `cycle job logs` of a PENDING job printed nothing at all, not a word."""
    job = platform.store.create_job("waiting", agent_pid=os.getpid())
    done = cycle("job", "logs", job.name, *args)
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert done.stderr == (f"job {job.name} is PENDING: it has not started yet (its build, or a machine, is still to "
                           f"come); `cycle job status {job.name}` says why.\n")
    platform.store.append_logs(job.id, [(time.time_ns(), Stream.SYSTEM, "waiting for a machine")])
    shown = cycle("job", "logs", job.name, *args)
    assert (shown.stderr == "") == ("--stream" not in args), shown.stderr  # a line to read: no note
