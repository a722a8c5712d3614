"""Which free machine a job gets. Pure: the store hands in the free machines, this picks."""

from __future__ import annotations

from collections.abc import Callable

from cycle.api.models import Machine


def choose_machine(free: list[Machine], prefer: str | None, exclude: str | None,
                   eligible: Callable[[Machine], bool]) -> Machine | None:
    """`prefer` when it is free and eligible (and nothing else: the caller waits for it), else the
    eligible free machine that has run the fewest jobs, by name on a tie; never `exclude` (the
    machine a moving job leaves)."""
    candidates = [m for m in free if m.name != exclude and eligible(m)]
    if prefer is not None:
        return next((m for m in candidates if m.name == prefer), None)
    return min(candidates, key=lambda m: (m.jobs_run, m.name), default=None)
