from __future__ import annotations

from emulator.models import Machine
from emulator.rules.placement import choose_machine


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
