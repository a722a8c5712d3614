"""Waiting for a machine, with the real engine and detached agents: a waiting job says why
(WAITING_FOR_MACHINE in `job status` and `job list`, text and --json), and a freed machine goes
to the job that has waited longest, whichever agent asks first."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from contextlib import contextmanager

from emulator.models import JobState
from emulator.store import StateStore

from helpers import FINAL, cli, wait_state


def start(project, run_sh: str) -> str:
    project.write(".cycleswap/run.sh", run_sh)
    result = cli("project", "test", str(project.root), "--detach")
    assert result.exit_code == 0, result.output
    return result.output.strip()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def status_json(name: str) -> dict:
    result = cli("job", "status", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def waiting_for_a_machine(name: str) -> bool:
    return status_json(name)["reason"] == "WAITING_FOR_MACHINE"


@contextmanager
def paused(pid: int, database):
    """The agent `pid` stopped (SIGSTOP: alive, but it polls no more) while the block runs; never
    stopped inside a write transaction, which would hold every other agent's claim."""
    while True:
        os.kill(pid, signal.SIGSTOP)
        try:
            sqlite3.connect(database, timeout=0.5, isolation_level=None).execute("BEGIN IMMEDIATE").execute(
                "ROLLBACK")
            break
        except sqlite3.OperationalError:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.05)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def cancel_unfinished(home, names) -> None:
    """A failed test leaves no job running or waiting (A sleeps 300 s)."""
    store = StateStore(home / "state.db")
    for name in names:
        job = store.job_by_name(name)
        if job is not None and job.state not in FINAL:
            cli("job", "cancel", name)


def test_a_freed_machine_goes_to_the_job_that_waited_longest_and_waiting_jobs_say_why(project, home, monkeypatch):
    """A holds the only machine; B, then C wait. A ends while B's agent is paused, so C's agent asks
    first (before: C took the machine, B stayed PENDING with no reason). B runs first, then C."""
    monkeypatch.setenv("CYCLE_MACHINES", "1")
    started = []
    try:
        first_come_first_served(project, home, started)
    finally:
        cancel_unfinished(home, started)


def first_come_first_served(project, home, started: list[str]) -> None:
    database = home / "state.db"
    a = start(project, "echo holding; sleep 300\n")
    started.append(a)
    wait_state(a, (JobState.RUNNING,), timeout=120)
    b = start(project, "echo b\n")
    started.append(b)
    wait_for(lambda: waiting_for_a_machine(b), 60, f"{b} says it waits for a machine")
    c = start(project, "echo c\n")
    started.append(c)
    wait_for(lambda: waiting_for_a_machine(c), 60, f"{c} says it waits for a machine")

    listed = cli("job", "list")
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line.split()[1:3] for line in listed.output.splitlines()[1:]}
    assert rows[b] == rows[c] == ["PENDING", "WAITING_FOR_MACHINE"], listed.output
    as_json = {job["name"]: job for job in json.loads(cli("job", "list", "--json").output)}
    assert as_json[b]["reason"] == as_json[c]["reason"] == "WAITING_FOR_MACHINE"

    store = StateStore(database)
    b_agent = store.job_by_name(b).agent_pid
    with paused(b_agent, database):
        assert cli("job", "cancel", a).exit_code == 0
        wait_for(lambda: store.machine("local-0").job_id != store.job_by_name(a).id, 30, "A's machine freed")
        time.sleep(1.5)  # C's agent polls every 0.2 s: several chances to take the machine before B
        assert store.job_by_name(c).state is JobState.PENDING and store.machine("local-0").job_id is None
        assert status_json(c)["reason"] == "WAITING_FOR_MACHINE"
    wait_for(lambda: store.job_by_name(c).state in FINAL, 120, f"{c} ended")
    first, second = store.job_by_name(b), store.job_by_name(c)
    assert (first.state, second.state) == (JobState.FINISHED, JobState.FINISHED)
    assert first.started_ns < second.started_ns and first.finished_ns <= second.started_ns
    assert first.reason is None and second.reason is None
