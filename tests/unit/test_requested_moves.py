"""A requested move whose machine is lost after the requester's check (the race): the agent claims
the machine before it stops the job, so the move is refused there, the job keeps running where it
is, and the requester gets the refusal. A real sqlite store, no Docker."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest

from emulator.job import logs
from emulator.job.context import Stay
from emulator.job.move import RecoveryStrategy
from emulator.models import JobState
from emulator.settings import Settings
from emulator.store import StateStore

MACHINES = ["local-0", "local-1", "local-2", "local-3"]


class NeverStopped:
    """The runtime of a job that must not be touched: any stop or kill fails the test."""

    def stop(self, container, timeout=10):
        raise AssertionError("the job's container was stopped for a move that could not be made")

    kill = stop


@pytest.fixture
def running(tmp_path, monkeypatch):
    """Job p-1 running on local-1 (this process its agent), its context, and its events."""
    monkeypatch.setattr("emulator.engine.gpu.machine_cuda", lambda: (None, "test"))
    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(MACHINES, None)
    job = store.create_job("p", agent_pid=os.getpid())
    assert store.claim_machine(job.id, prefer="local-1", agent_pid=os.getpid()).name == "local-1"
    events: list[str] = []
    stay = Stay("local-1", "c-1", pipeline=None, started=time.monotonic())
    ctx = SimpleNamespace(store=store, job=job, stay=stay, runtime=NeverStopped(), settings=Settings(machines=4),
                          cuda=None, event=events.append)
    return SimpleNamespace(store=store, job=job, ctx=ctx, stay=stay, events=events)


def local_3_freed_for_a_waiting_job(store) -> list:
    """Jobs h-1..h-3 hold local-0, local-2 and local-3, job w-1 waits for a machine, then h-3 ends:
    local-3 is free, and w-1 is first in line for it. The holders, for a test to free more."""
    holders = [store.create_job("h", agent_pid=os.getpid()) for _ in range(3)]
    for holder, name in zip(holders, ("local-0", "local-2", "local-3")):
        store.claim_machine(holder.id, prefer=name, agent_pid=os.getpid())
    waiting = store.create_job("w", agent_pid=os.getpid())
    assert store.claim_machine(waiting.id, agent_pid=os.getpid(), waits=True) is None
    store.set_state(holders[2].id, JobState.CANCELLED)
    return holders


def platform_running_on_local_1(monkeypatch):
    """A real platform (the home fixture's) with job p-1 RUNNING on local-1, this process its agent."""
    from emulator.platform import EmulatorPlatform

    monkeypatch.setattr("emulator.engine.gpu.machine_cuda", lambda: (None, "test"))
    platform = EmulatorPlatform()
    platform.store.ensure_machines(MACHINES, None)
    job = platform.store.create_job("p", agent_pid=os.getpid())
    platform.store.claim_machine(job.id, prefer="local-1", agent_pid=os.getpid())
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-1")
    return platform, job


def held(store):
    return {m.name: m.job_id for m in store.machines() if m.job_id is not None}


def test_a_target_gone_offline_after_the_request_refuses_the_move_and_the_job_keeps_running(running):
    store, job = running.store, running.job
    request_id = store.request_move(job.id, "local-3", None)
    store.set_machine_state("local-3", "offline")  # after the requester found it free
    move = logs.next_request(running.ctx, running.stay)
    assert RecoveryStrategy(running.ctx).recover(move) is None
    assert running.ctx.stay is running.stay and store.moves(job.id) == [] and held(store) == {"local-1": job.id}
    why = store.refusal(request_id)
    assert why.startswith(f"job {job.name} cannot move to local-3: local-3 is offline. Free now: local-0, local-2 ")
    assert why.endswith("Nothing was stopped: the job keeps running on local-1.")
    assert running.events == [f"reassignment refused (requested by `cycle job reassign`: to local-3): {why}"]


def test_a_target_taken_by_another_job_meanwhile_names_that_job(running):
    store, job = running.store, running.job
    request_id = store.request_move(job.id, "local-3", None, requester="cycle tui")
    other = store.create_job("q", agent_pid=os.getpid())
    store.claim_machine(other.id, prefer="local-3", agent_pid=os.getpid())
    assert RecoveryStrategy(running.ctx).recover(logs.next_request(running.ctx, running.stay)) is None
    assert "local-3 is busy running job q-1. Free now: local-0, local-2 " in store.refusal(request_id)
    assert held(store) == {"local-1": job.id, "local-3": other.id} and store.moves(job.id) == []


def test_a_request_to_anywhere_with_nothing_free_is_refused_too(running):
    store, job = running.store, running.job
    request_id = store.request_move(job.id, None, None)
    for name in ("local-0", "local-2", "local-3"):
        store.set_machine_state(name, "busy")
    assert RecoveryStrategy(running.ctx).recover(logs.next_request(running.ctx, running.stay)) is None
    assert store.refusal(request_id).startswith(f"job {job.name} cannot move: no other machine is free (local-0 is "
                                                "busy with its owner's work; ")


def test_a_job_waiting_for_a_machine_is_told_what_holds_each_one(running, monkeypatch):
    """The wait said "(local-3 is taken)" of an offline machine; now each machine's own reason."""
    from emulator.job import machine

    store = running.store
    store.set_machine_state("local-0", "offline")
    store.set_machine_state("local-2", "busy")
    other = store.create_job("q", agent_pid=os.getpid())
    store.claim_machine(other.id, prefer="local-3", agent_pid=os.getpid())

    class StopWaiting(Exception):
        pass

    def sleep(seconds):
        raise StopWaiting

    monkeypatch.setattr(machine.time, "sleep", sleep)
    with pytest.raises(StopWaiting):
        machine.claim(running.ctx, exclude="local-1")
    assert running.events == ["waiting for a free machine (local-0 is offline; local-2 is busy with its owner's "
                              "work; local-3 is busy running job q-1; local-1 is the machine it left)"]


def test_a_requested_move_to_the_machine_a_waiting_job_gets_first_is_refused_saying_so(running):
    """First come, first served: a free machine goes to the job that waits for one, not to a move
    requested later (the refusal said it was "taken meanwhile": it was not)."""
    store, job = running.store, running.job
    local_3_freed_for_a_waiting_job(store)
    request_id = store.request_move(job.id, "local-3", None)
    assert RecoveryStrategy(running.ctx).recover(logs.next_request(running.ctx, running.stay)) is None
    assert store.refusal(request_id) == (
        f"job {job.name} cannot move to local-3: 1 job waiting for a machine goes first (first come, first served: "
        "w-1). Nothing was stopped: the job keeps running on local-1. Ask again once none waits "
        "(`cycle job list --state PENDING` shows them).")
    assert store.machine("local-3").job_id != job.id and store.moves(job.id) == [] and running.ctx.stay is running.stay


def test_a_move_whose_agent_dies_while_the_requester_waits_ends_at_once_saying_lost(home, monkeypatch):
    """`job reassign` waited its full 120 s on an agent killed after the request (nobody would ever
    answer), said only "did not restart", and the job stayed RUNNING until some read noticed."""
    import subprocess
    import threading

    from cycle.errors import CycleError
    from emulator.platform import EmulatorPlatform

    monkeypatch.setattr("emulator.engine.gpu.machine_cuda", lambda: (None, "test"))
    monkeypatch.setattr("emulator.reaper.remove_job_containers", lambda home, job_id: None)  # no engine here
    agent = subprocess.Popen(["sleep", "60"])
    platform = EmulatorPlatform()
    platform.store.ensure_machines(MACHINES, None)
    job = platform.store.create_job("p", agent_pid=agent.pid)
    platform.store.claim_machine(job.id, prefer="local-1", agent_pid=agent.pid)
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-1")

    def kill_agent() -> None:
        time.sleep(0.3)
        agent.kill()
        agent.wait()

    threading.Thread(target=kill_agent).start()
    started = time.monotonic()
    with pytest.raises(CycleError, match=r"ended before it could be moved \(FAILED, LOST\)"):
        platform.reassign(job.name, wait=30)
    assert time.monotonic() - started < 5
    assert platform.store.job(job.id).state is JobState.FAILED


def test_job_reassign_refuses_up_front_a_move_to_the_machine_a_waiting_job_gets_first(home, monkeypatch):
    """`job reassign --to` a free machine an older job waits for passed the up-front check, so the
    request was made, the agent refused it, and the user got exit 1 after a wait: it is refused
    before anything is asked (BadInput, exit 2), naming the job that goes first. Anywhere else that
    is free is still allowed."""
    from cycle.errors import BadInput

    platform, job = platform_running_on_local_1(monkeypatch)
    store = platform.store
    holders = local_3_freed_for_a_waiting_job(store)

    for target in ("local-3", None):
        with pytest.raises(BadInput, match="1 job waiting for a machine goes first .*w-1"):
            platform.reassign(job.name, to=target, wait=0.1)
    assert store._connection().execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0  # nothing asked
    assert store.moves(job.id) == [] and store.job(job.id).machine == "local-1"

    store.set_state(holders[0].id, JobState.CANCELLED)  # local-0 free too: w-1 takes one, one is left
    from cycle.errors import CycleError
    with pytest.raises(CycleError, match="did not restart"):  # asked (no agent answers here), not refused
        platform.reassign(job.name, to=None, wait=0.1)


def test_job_reassign_never_reports_a_move_it_did_not_make(home, monkeypatch):
    """The platform moved the job (its machine went offline) while `job reassign --to` waited: the
    requester printed that move as its own, exit 0, though the agent refused its request."""
    import threading

    from cycle.errors import CycleError
    from emulator.models import Move

    platform, job = platform_running_on_local_1(monkeypatch)
    store = platform.store

    def the_agent() -> None:  # the machine goes offline: a move of its own; then it refuses the request
        while (request := store.take_request(job.id)) is None:
            time.sleep(0.01)
        move_id = store.add_move(Move(0, job.id, "local-1", "local-0", "machine local-1 went offline", 1))
        store.update_move(move_id, restarted_ns=2)
        store.refuse_request(request.id, "job p-1 already runs on local-0")

    agent = threading.Thread(target=the_agent)
    agent.start()
    with pytest.raises(CycleError, match="already runs on local-0"):
        platform.reassign(job.name, to="local-0", wait=10)
    agent.join()
