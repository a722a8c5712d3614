"""The platform's reassignment triggers, as pure logic: a request (`cycle job reassign`, a drill),
the machine going offline or busy with its owner's work, or the job running too long there."""

from __future__ import annotations

from dataclasses import dataclass

from cycle.api.models import Machine

AVAILABLE = "available"


@dataclass(frozen=True)
class MoveRequest:
    """Why the job leaves its machine, where to (None: any other), and the grace (seconds) it
    gets to finish its uploads (None: the default). `request_id`: the request it answers, when
    someone asked for it (such a move is refused, the job kept running, when it cannot be made;
    one the platform triggers is made anyway, waiting for a machine)."""

    trigger: str
    target: str | None
    grace: float | None
    request_id: int | None = None


def request_trigger(target: str | None, requester: str | None) -> str:
    """The move event's trigger for a request: who asked (`cycle job reassign` unless named) and where to."""
    who = f"requested by {requester or '`cycle job reassign`'}"
    return who if target is None else f"{who}: to {target}"


def move_trigger(request: tuple[str | None, float | None, str | None] | None, machine_state: Machine | None,
                 ran_seconds: float, max_run_seconds: float | None) -> MoveRequest | None:
    """The move due now, if any, in order of precedence.

    `request` is a taken reassignment request (target, grace, requester); `machine_state` the job's machine as
    the store has it now; `ran_seconds` how long the job has run on it; `max_run_seconds` the
    limit ($CYCLE_MAX_RUN_SECONDS; None: no limit)."""
    if request is not None:
        target, grace, requester = request
        return MoveRequest(request_trigger(target, requester), target, grace)
    if machine_state is not None and machine_state.state != AVAILABLE:
        return MoveRequest(f"machine {machine_state.name} went {machine_state.state}", None, None)
    if max_run_seconds is not None and ran_seconds > max_run_seconds:
        where = f"machine {machine_state.name}" if machine_state is not None else "its machine"
        return MoveRequest(f"ran longer than {max_run_seconds:g} s on {where}", None, None)
    return None
