"""The store's machine queue: who waits for a machine is recorded in the claim's transaction, and a
freed machine goes to the job that has waited longest (among live, PENDING jobs that could run on
it). sqlite only: no Docker, no sleeps; agents' liveness is injected."""

from __future__ import annotations

from emulator.models import JobState
from emulator.store import StateStore


def alive_only(*pids):
    return lambda pid: pid in pids


def one_machine_taken(tmp_path, *waiting_pids: int):
    """A store with local-0 held by job A (pid 1), and a job per pid in `waiting_pids`, created in order."""
    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(["local-0"], None)
    holder = store.create_job("p", agent_pid=1)
    store.claim_machine(holder.id, agent_pid=1, alive=alive_only(1, *waiting_pids))
    return store, holder, [store.create_job("p", agent_pid=pid) for pid in waiting_pids]


def test_the_job_that_waited_longer_gets_the_freed_machine_whoever_asks_first(tmp_path):
    store, holder, (b, c) = one_machine_taken(tmp_path, 2, 3)
    alive = alive_only(1, 2, 3)
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True) is None
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True) is None
    store.set_state(holder.id, JobState.CANCELLED)  # A ends: local-0 is free
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True) is None  # C polls first
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True).name == "local-0"


def test_a_waiting_job_says_so_until_it_gets_a_machine(tmp_path):
    store, holder, (b,) = one_machine_taken(tmp_path, 2)
    alive = alive_only(1, 2)
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True) is None
    assert (store.job(b.id).state, store.job(b.id).reason) == (JobState.PENDING, "WAITING_FOR_MACHINE")
    assert store.waiting_ahead(b.id, alive=alive) == []
    store.set_state(holder.id, JobState.CANCELLED)
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True).name == "local-0"
    assert store.job(b.id).reason is None  # it has a machine: no longer waiting


def test_a_moved_job_keeps_its_reassigned_reason_while_it_waits(tmp_path):
    store, holder, (b,) = one_machine_taken(tmp_path, 2)
    store.set_state(b.id, JobState.RUNNING, machine="local-9")
    store.set_state(b.id, JobState.PENDING, reason="REASSIGNED_FROM_local-9")
    assert store.claim_machine(b.id, exclude="local-9", agent_pid=2, alive=alive_only(1, 2), waits=True) is None
    assert store.job(b.id).reason == "REASSIGNED_FROM_local-9"


def test_a_requested_move_that_gets_no_machine_is_not_recorded_as_waiting(tmp_path):
    store, holder, (b,) = one_machine_taken(tmp_path, 2)
    assert store.claim_machine(b.id, prefer="local-0", agent_pid=2, alive=alive_only(1, 2)) is None
    assert store.job(b.id).reason is None and store.waiting_ahead(b.id, alive=alive_only(1, 2)) == []


def test_an_older_waiter_whose_agent_died_or_that_was_cancelled_holds_nobody_back(tmp_path):
    store, holder, (b, c, d) = one_machine_taken(tmp_path, 2, 3, 4)
    everyone = alive_only(1, 2, 3, 4)
    for job in (b, c, d):
        assert store.claim_machine(job.id, agent_pid=job.agent_pid, alive=everyone, waits=True) is None
    assert store.waiting_ahead(d.id, alive=everyone) == [b.name, c.name]
    store.set_state(holder.id, JobState.CANCELLED)
    store.set_state(c.id, JobState.CANCELLED)
    b_died = alive_only(3, 4)
    assert store.waiting_ahead(d.id, alive=b_died) == []
    assert store.claim_machine(d.id, agent_pid=4, alive=b_died, waits=True).name == "local-0"


def test_an_older_waiter_the_machine_cannot_run_holds_nobody_back(tmp_path):
    store, holder, (b, c) = one_machine_taken(tmp_path, 2, 3)
    store.ensure_machines(["local-0"], "11.8")
    alive = alive_only(1, 2, 3)
    assert store.claim_machine(b.id, cuda="12.4", agent_pid=2, alive=alive, waits=True) is None  # no machine fits
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True) is None
    store.set_state(holder.id, JobState.CANCELLED)
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True).name == "local-0"


def test_a_moved_job_never_stalls_others_for_the_machine_it_left(tmp_path):
    store, holder, (b, c) = one_machine_taken(tmp_path, 2, 3)
    alive = alive_only(1, 2, 3)
    assert store.claim_machine(b.id, exclude="local-0", agent_pid=2, alive=alive, waits=True) is None
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True) is None
    store.set_state(holder.id, JobState.CANCELLED)
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True).name == "local-0"


def test_an_older_waiter_that_stopped_asking_holds_nobody_back(tmp_path):
    """A waiting `project test` stopped with Ctrl-Z (or hung) keeps a live pid but never takes the
    machine: the freed machine stayed unused for every newer job until it resumed."""
    from emulator.store.machines import WAITER_STALE_NS

    store, holder, (b, c) = one_machine_taken(tmp_path, 2, 3)
    alive, start = alive_only(1, 2, 3), 10**18
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True, now=start) is None
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True, now=start + 1) is None
    store.set_state(holder.id, JobState.CANCELLED)
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True, now=start + 10**9) is None  # B asked 1 s ago
    assert store.waiting_ahead(c.id, alive=alive, now=start + 10**9) == [b.name]
    later = start + WAITER_STALE_NS + 10**9  # B has not asked since: stopped
    assert store.waiting_ahead(c.id, alive=alive, now=later) == []
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True, now=later).name == "local-0"


def test_a_queued_jobs_reason_says_it_waits_for_the_scheduler_then_for_a_machine_then_nothing(tmp_path):
    """A queued job showed PENDING with no reason until the scheduler's pass (user test)."""
    from emulator.rules.placement import WAITING_FOR_SCHEDULER

    store, holder, (b,) = one_machine_taken(tmp_path, 2)
    store.set_reason(b.id, WAITING_FOR_SCHEDULER)  # machine.wait_for_scheduler
    alive = alive_only(1, 2)
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True) is None
    assert store.job(b.id).reason == "WAITING_FOR_MACHINE"
    store.set_state(holder.id, JobState.CANCELLED)
    store.set_reason(b.id, WAITING_FOR_SCHEDULER)
    assert store.claim_machine(b.id, agent_pid=2, alive=alive, waits=True).name == "local-0"
    assert store.job(b.id).reason is None


def test_fewer_machines_configured_removes_the_others_once_no_running_job_holds_them(tmp_path):
    """CYCLE_MACHINES=2 in a home that had four: jobs still ran on local-2 and local-3."""
    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(["local-0", "local-1", "local-2", "local-3"], None)
    running = store.create_job("p", agent_pid=1)
    assert store.claim_machine(running.id, prefer="local-3", agent_pid=1, alive=alive_only(1)).name == "local-3"
    store.set_state(running.id, JobState.RUNNING, machine="local-3")
    store.ensure_machines(["local-0", "local-1"], None)
    assert [m.name for m in store.machines()] == ["local-0", "local-1", "local-3"]  # held: it finishes there
    other = store.create_job("p", agent_pid=2)
    assert store.claim_machine(other.id, prefer="local-2", agent_pid=2, alive=alive_only(1, 2)) is None
    store.set_state(running.id, JobState.FINISHED, exit_code=0)
    store.ensure_machines(["local-0", "local-1"], None)
    assert [m.name for m in store.machines()] == ["local-0", "local-1"]


def test_a_waiter_no_machine_here_can_run_is_not_counted_as_going_first(tmp_path):
    """The waiting message said "1 job waiting longer goes first" for a job asking a CUDA version no
    machine here has: it never goes first, as the claim itself already knew."""
    store, holder, (b, c) = one_machine_taken(tmp_path, 2, 3)
    store.ensure_machines(["local-0"], "11.8")
    alive = alive_only(1, 2, 3)
    assert store.claim_machine(b.id, cuda="99.0", agent_pid=2, alive=alive, waits=True) is None
    assert store.claim_machine(c.id, agent_pid=3, alive=alive, waits=True) is None
    assert store.waiting_ahead(c.id, alive=alive) == []
    assert store.claim_machine(b.id, cuda="11.0", agent_pid=2, alive=alive, waits=True) is None  # now it could run
    assert store.waiting_ahead(c.id, alive=alive) == [b.name]
