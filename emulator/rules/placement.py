"""Which free machine a job gets. Pure: the store hands in the free machines, this picks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cycle.api.models import Machine
from cycle.api.wording import listed

WAITING_FOR_MACHINE = "WAITING_FOR_MACHINE"
"""A PENDING job's reason while it waits for a free machine (a moved job keeps REASSIGNED_FROM_<m>)."""
WAITING_FOR_SCHEDULER = "WAITING_FOR_SCHEDULER"
"""A queued job's reason until the scheduler's next pass picks it (then it looks for a machine)."""

Fits = Callable[[str | None, str | None], bool]
"""fits(machine's CUDA capability, job's CUDA version): whether the machine could run the job."""


@dataclass(frozen=True, order=True)
class Waiter:
    """A job waiting for a free machine, ordered by how long it has waited (then by id): since
    when, and what it needs (its CUDA version; the machine a moving job leaves and never takes)."""

    since_ns: int
    job_id: int
    cuda: str | None = field(default=None, compare=False)
    exclude: str | None = field(default=None, compare=False)
    pid: int | None = field(default=None, compare=False)  # its agent's

    def pid_alive(self, alive: Callable[[int], bool]) -> bool:
        """Whether its agent is alive (`alive`: the look at the process, injected); one with no
        agent recorded counts, as a machine's holder does (reaper.holder_gone)."""
        return self.pid is None or alive(self.pid)


def choose_machine(free: list[Machine], prefer: str | None, exclude: str | None,
                   eligible: Callable[[Machine], bool]) -> Machine | None:
    """`prefer` when it is free and eligible (and nothing else: the caller waits for it), else the
    eligible free machine that has run the fewest jobs, by name on a tie; never `exclude` (the
    machine a moving job leaves)."""
    candidates = [m for m in free if m.name != exclude and eligible(m)]
    if prefer is not None:
        return next((m for m in candidates if m.name == prefer), None)
    return min(candidates, key=lambda m: (m.jobs_run, m.name), default=None)


def left_for(claimant: Waiter, free: Sequence[Machine], waiting: Sequence[Waiter], fits: Fits,
             counts: Callable[[Waiter], bool] = lambda waiter: True) -> list[Machine]:
    """The free machines `claimant` may take, first come first served: those left once every job
    that has waited longer took, oldest first, the machine choose_machine would give it. A waiter
    no free machine fits (its CUDA, the machine it leaves) takes none and holds nobody back, so
    a freed machine goes to the oldest job that can run on it, never to whichever agent polls first.
    `claimant` is the job asking (since_ns: when it began waiting, or now when it has not yet);
    `waiting`: the jobs recorded waiting, it among them or not; `counts(waiter)`: whether one still
    waits (its agent alive: asked only while a machine is left to give, oldest first, as it costs a
    look at the process)."""
    left = list(free)
    for waiter in sorted(w for w in waiting if w.job_id != claimant.job_id and w < claimant):
        if not left:
            break
        if not counts(waiter):
            continue
        taken = choose_machine(left, None, waiter.exclude, _runs(waiter, fits))
        if taken is not None:
            left.remove(taken)
    return left


def _runs(waiter: Waiter, fits: Fits) -> Callable[[Machine], bool]:
    """Whether a machine could run `waiter` (its driver fits the job's CUDA)."""
    return lambda machine: fits(machine.cuda, waiter.cuda)


def why_unusable(machine: Machine, holder: str | None) -> str | None:
    """Why `machine` cannot take a job now, in words a user acts on (None: it can). `holder` is
    the job that holds it, when that hold counts (the job unfinished, its agent alive). CUDA is not
    weighed: on one host every machine has the same driver."""
    if machine.state == "offline":
        return f"{machine.name} is offline"
    if machine.state == "busy":
        return f"{machine.name} is busy with its owner's work"
    if holder is not None:
        return f"{machine.name} is busy running job {holder}"
    return None


def move_refusal(job: str, current: str | None, target: str | None, machines: Sequence[Machine],
                 holders: Mapping[str, str]) -> str | None:
    """Why a requested move of `job` (running on `current`) to `target` (None: any other machine)
    cannot be made now, as one paragraph with the way out; None when it can. A requested move is
    refused rather than made somewhere else or left waiting: the job keeps running where it is,
    with its upload queue, instead of being killed for a move that cannot happen. `holders`:
    machine name -> the job holding it (holds that count only)."""
    by_name = {m.name: m for m in machines}
    if target is not None and target not in by_name:
        return f"--to {target!r} is not a machine. Machines: {', '.join(by_name)} (`cycle emulator machines`)."
    if target is not None and target == current:
        return f"job {job} already runs on {target}; pick another machine."
    reasons = _reasons(machines, holders, exclude=current)
    free = [name for name, reason in reasons.items() if reason is None]
    kept = f"Nothing was stopped: the job keeps running on {current}."
    if target is None:
        if free:
            return None
        why = _joined(reasons) or "there is none"
        return (f"job {job} cannot move: no other machine is free ({why}). {kept} Ask again once one is free "
                "(`cycle emulator machines` shows them).")
    if reasons[target] is None:
        return None
    if free:
        way_out = (f"Free now: {', '.join(free)} (`cycle job reassign {job} --to {free[0]}`, or leave out --to "
                   "for the least-loaded one; `cycle emulator machines` shows them all).")
    else:
        way_out = "No other machine is free now (`cycle emulator machines` shows them all)."
    return f"job {job} cannot move to {target}: {reasons[target]}. {way_out} {kept}"


def waiting_first(job: str, current: str | None, target: str | None, waiting: Sequence[str]) -> str | None:
    """Why a requested move of `job` got no free machine although one is free: the jobs `waiting`
    for a machine (oldest first) get it first. None when none waits."""
    if not waiting:
        return None
    where = f" to {target}" if target is not None else ""
    return (f"job {job} cannot move{where}: {_jobs_go_first(len(waiting), 'for a machine')} (first come, first "
            f"served: {listed(waiting, 5)}). Nothing was stopped: the job keeps running on {current}. Ask again "
            "once none waits (`cycle job list --state PENDING` shows them).")


def waiting_reasons(machines: Sequence[Machine], holders: Mapping[str, str], exclude: str | None,
                    ahead: int = 0) -> str:
    """Why each machine cannot take a waiting job, '; '-joined (the one it leaves last, named as
    such: a moved job never goes back to it, even once it is free), and how many jobs that have
    waited longer go first (`ahead`)."""
    reasons = [_joined(_reasons(machines, holders, exclude))]
    if exclude is not None and any(m.name == exclude for m in machines):
        reasons.append(f"{exclude} is the machine it left")
    if ahead:
        reasons.append(_jobs_go_first(ahead, "longer"))
    return "; ".join(reason for reason in reasons if reason)


def _jobs_go_first(count: int, waiting: str) -> str:
    """"1 job waiting longer goes first", "2 jobs waiting for a machine go first"."""
    return f"{count} job{'s' if count != 1 else ''} waiting {waiting} go{'es' if count == 1 else ''} first"


def _reasons(machines: Sequence[Machine], holders: Mapping[str, str], exclude: str | None) -> dict[str, str | None]:
    """Each machine but `exclude` by name -> why_unusable (None: free)."""
    return {m.name: why_unusable(m, holders.get(m.name)) for m in machines if m.name != exclude}


def _joined(reasons: Mapping[str, str | None]) -> str:
    return "; ".join(reason for reason in reasons.values() if reason)
