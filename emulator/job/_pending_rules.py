"""Interim private copies of the pure rules the `rules` branch adds under emulator/rules/
(placement.choose_machine, moves.move_trigger, email.wants_email), with the agreed signatures.
The lead deletes this file after merging and points the imports at emulator.rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.models import JobState, Machine


def choose_machine(free: list[Machine], prefer: str | None, exclude: str | None,
                   eligible: Callable[[Machine], bool]) -> Machine | None:
    """The machine a job gets among the free ones: `prefer` when it is free (else none, so the
    caller can say it waits for it), otherwise the least-used eligible one (fewest jobs run, then name)."""
    candidates = sorted((m for m in free if m.name != exclude and eligible(m)), key=lambda m: (m.jobs_run, m.name))
    if prefer:
        return next((m for m in candidates if m.name == prefer), None)
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class MoveRequest:
    trigger: str
    target: str | None
    grace: float | None


def move_trigger(request, machine_state: str | None, ran_seconds: float,
                 max_run_seconds: float | None) -> MoveRequest | None:
    """The platform's reassignment triggers, in order: a request (`cycle job reassign`, a drill;
    anything with .target and .grace), the machine going offline or busy with its owner's work,
    or the job running longer than `max_run_seconds` on it. `machine_state` None: unknown machine.
    The machine's name is left as a `{machine}` field in the trigger text (the caller knows it)."""
    if request is not None:
        target = request.target
        trigger = "requested by `cycle job reassign`" if target is None else f"requested: to {target}"
        return MoveRequest(trigger, target, request.grace)
    if machine_state is not None and machine_state != "available":
        return MoveRequest(f"machine {{machine}} went {machine_state}", None, None)
    if max_run_seconds and ran_seconds > max_run_seconds:
        return MoveRequest(f"ran longer than {max_run_seconds:g} s on machine {{machine}}", None, None)
    return None


def wants_email(state: JobState, on_success: bool, on_failure: bool) -> bool:
    """Whether the job's end is worth an email, as the manifest asks."""
    return (state is JobState.FINISHED and on_success) or (state is JobState.FAILED and on_failure)
