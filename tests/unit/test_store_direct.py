"""emulator/store/direct.py: the stdlib-only reads behind `cycle job logs JOB --tail N` of an ended
job (issue 14). A real sqlite file in tmp_path; no Docker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulator.home import home_folder
from emulator.models import FINAL_STATES, JobState, Stream
from emulator.store import StateStore
from emulator.store.direct import ended_job_id, ended_job_log_tail

PATHS = {JobState.PENDING: [], JobState.RUNNING: [JobState.RUNNING],
         JobState.FINISHED: [JobState.RUNNING, JobState.FINISHED], JobState.FAILED: [JobState.RUNNING, JobState.FAILED],
         JobState.CANCELLED: [JobState.CANCELLED]}
"""How a new job reaches each state."""


def store_in(folder: Path) -> StateStore:
    folder.mkdir(parents=True, exist_ok=True)
    return StateStore(folder / "state.db")


def test_every_state_has_a_way_there():
    assert set(PATHS) == set(JobState)


@pytest.mark.parametrize("state", list(JobState), ids=lambda state: state.value)
def test_ended_is_exactly_the_contracts_final_states(tmp_path, state):
    """The direct read's "ended" (the finish stamp) agrees with cycle.api's FINAL_STATES."""
    store = store_in(tmp_path)
    job = store.create_job("demo", agent_pid=os.getpid())
    for step in PATHS[state]:
        store.set_state(job.id, step, machine="local-0")
    assert (ended_job_id(store._connection(), job.name) is not None) == (state in FINAL_STATES)


def test_a_job_the_reaper_ended_is_ended(tmp_path):
    store = store_in(tmp_path)
    job = store.create_job("demo", agent_pid=os.getpid())
    store.set_state(job.id, JobState.RUNNING, machine="local-0")
    assert ended_job_id(store._connection(), job.name) is None
    store.end_abandoned(job.id, JobState.FAILED, "LOST", "its agent died")
    assert ended_job_id(store._connection(), job.name) == job.id


@pytest.mark.parametrize("folder", ["plain", "odd ?#% name"])
def test_the_tail_is_the_stores_own_and_creates_nothing(tmp_path, folder):
    home = tmp_path / folder
    store = store_in(home)
    job = store.create_job("demo", agent_pid=os.getpid())
    store.set_state(job.id, JobState.CANCELLED)
    store.append_logs(job.id, [(i, [Stream.STDOUT, Stream.STDERR][i % 2], f"line {i}") for i in range(50)])
    wanted = [(r.ts_ns, r.stream.value, r.text) for r in store.logs_before(job.id, None, 7)]
    assert ended_job_log_tail(str(home), job.name, 7) == wanted and len(wanted) == 7
    assert ended_job_log_tail(str(home), job.name, None) == [(r.ts_ns, r.stream.value, r.text)
                                                              for r in store.logs(job.id)]
    assert ended_job_log_tail(str(home), "no-such-job-1", 7) is None
    assert ended_job_log_tail(str(tmp_path / "no-home"), job.name, 7) is None
    assert not (tmp_path / "no-home").exists()


def test_the_home_is_cycle_home_else_dot_cycle_in_home():
    assert home_folder({"CYCLE_HOME": "/x/y", "HOME": "/h"}) == "/x/y"
    assert home_folder({"CYCLE_HOME": "", "HOME": "/h"}) == "/h/.cycle"
