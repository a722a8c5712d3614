from __future__ import annotations

from emulator.models import Machine
from emulator.rules.placement import Waiter, choose_machine, left_for, move_refusal, waiting_reasons


def machine(name: str, jobs_run: int = 0, cuda: str | None = None) -> Machine:
    return Machine(name, "available", cuda, None, jobs_run)


def anything(_m: Machine) -> bool:
    return True


def test_least_jobs_run_then_name():
    free = [machine("local-2", 1), machine("local-1", 1), machine("local-3", 0)]
    assert choose_machine(free, None, None, anything).name == "local-3"
    assert choose_machine(free[:2], None, None, anything).name == "local-1"


def test_prefer_is_taken_only_when_free_and_eligible():
    free = [machine("local-0"), machine("local-1", 5)]
    assert choose_machine(free, "local-1", None, anything).name == "local-1"
    assert choose_machine(free, "local-9", None, anything) is None
    assert choose_machine(free, "local-1", None, lambda m: m.name != "local-1") is None


def test_exclude_and_eligibility():
    free = [machine("local-0"), machine("local-1", 3, cuda="12.4")]
    assert choose_machine(free, None, "local-0", anything).name == "local-1"
    assert choose_machine(free, None, None, lambda m: m.cuda is not None).name == "local-1"
    assert choose_machine(free, None, "local-1", lambda m: m.cuda is not None) is None
    assert choose_machine([], None, None, anything) is None


def pool(**states):
    """Machines local-0 … by keyword (local_3="offline"); the rest available."""
    return [Machine(f"local-{i}", states.get(f"local_{i}", "available"), None, None, 0) for i in range(4)]


def test_a_requested_move_to_an_offline_or_busy_machine_is_refused_saying_why_and_what_is_free():
    """`job reassign --to local-3` with local-3 offline killed the job and moved it to local-2."""
    offline = move_refusal("j", "local-1", "local-3", pool(local_3="offline"), {})
    assert offline.startswith("job j cannot move to local-3: local-3 is offline. Free now: local-0, local-2 ")
    assert "`cycle job reassign j --to local-0`" in offline and "`cycle emulator machines`" in offline
    assert offline.endswith("Nothing was stopped: the job keeps running on local-1.")
    owner = move_refusal("j", "local-1", "local-3", pool(local_3="busy"), {})
    assert "local-3 is busy with its owner's work" in owner
    held = move_refusal("j", "local-1", "local-3", pool(), {"local-3": "other-7", "local-0": "other-8"})
    assert "local-3 is busy running job other-7. Free now: local-2 " in held


def test_a_requested_move_to_a_free_machine_or_anywhere_free_goes_ahead():
    assert move_refusal("j", "local-1", "local-3", pool(local_0="offline"), {"local-2": "x"}) is None
    assert move_refusal("j", "local-1", None, pool(local_0="offline"), {"local-2": "x"}) is None


def test_a_move_with_nowhere_to_go_is_refused_with_every_machines_reason():
    machines = pool(local_0="offline", local_2="busy")
    anywhere = move_refusal("j", "local-1", None, machines, {"local-3": "x-1"})
    assert anywhere == ("job j cannot move: no other machine is free (local-0 is offline; local-2 is busy with its "
                        "owner's work; local-3 is busy running job x-1). Nothing was stopped: the job keeps running "
                        "on local-1. Ask again once one is free (`cycle emulator machines` shows them).")
    to_one = move_refusal("j", "local-1", "local-0", machines, {"local-3": "x-1"})
    assert "local-0 is offline. No other machine is free now" in to_one


def test_unknown_or_own_targets_are_refused():
    assert move_refusal("j", "local-1", "gpu-9", pool(), {}).startswith("--to 'gpu-9' is not a machine. Machines: "
                                                                        "local-0, local-1, local-2, local-3")
    assert move_refusal("j", "local-1", "local-1", pool(), {}) == "job j already runs on local-1; pick another machine."


def test_a_waiting_job_is_told_why_each_machine_cannot_take_it():
    """The machine a moved job left is named too: it sat free while the job waited, with no word why."""
    machines = pool(local_0="offline")
    assert waiting_reasons(machines, {"local-2": "a", "local-3": "b"}, exclude="local-1") == (
        "local-0 is offline; local-2 is busy running job a; local-3 is busy running job b; "
        "local-1 is the machine it left")


def test_a_waiting_job_hears_how_many_that_waited_longer_go_first():
    machines = pool()
    assert waiting_reasons(machines, {"local-0": "a", "local-1": "b", "local-2": "c"}, None, ahead=1) == (
        "local-0 is busy running job a; local-1 is busy running job b; local-2 is busy running job c; "
        "1 job waiting longer goes first")
    assert waiting_reasons(pool(local_0="offline")[:1], {}, None, ahead=2) == (
        "local-0 is offline; 2 jobs waiting longer go first")


def cuda_fits(machine: str | None, wanted: str | None) -> bool:
    return wanted is None or (machine is not None and float(machine) >= float(wanted))


def test_a_freed_machine_goes_to_the_job_that_waited_longest():
    """B waited before C: whichever agent polls first after A's machine is freed, B gets it."""
    free = [machine("local-0")]
    b, c = Waiter(100, 2), Waiter(200, 3)
    assert left_for(c, free, [b, c], cuda_fits) == []
    assert left_for(b, free, [b, c], cuda_fits) == free
    newcomer = Waiter(300, 4)  # arrives (not waiting yet: since is now) while B waits
    assert left_for(newcomer, free, [b], cuda_fits) == []
    assert left_for(Waiter(100, 3), free, [Waiter(100, 2)], cuda_fits) == []  # the same instant: by id


def test_as_many_machines_as_older_waiters_are_kept_for_them_the_rest_is_free():
    free = [machine("local-0"), machine("local-1", 2), machine("local-2", 1)]
    older = [Waiter(1, 1), Waiter(2, 2)]
    assert left_for(Waiter(3, 3), free, older, cuda_fits) == [machine("local-1", 2)]


def test_an_older_waiter_that_cannot_run_on_the_machine_holds_nobody_back():
    free = [machine("local-0", cuda="11.8")]
    needs_12 = Waiter(1, 1, cuda="12.4")  # no machine here has CUDA 12.4: it waits for ever
    leaves_it = Waiter(2, 2, exclude="local-0")  # a move: never back to the machine it left
    assert left_for(Waiter(3, 3), free, [needs_12, leaves_it], cuda_fits) == free
    assert left_for(Waiter(3, 3), free, [Waiter(1, 1, cuda="11.0")], cuda_fits) == []


