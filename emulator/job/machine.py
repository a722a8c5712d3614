"""Stage 3, machine: claim a free machine whose driver fits the job (choose_machine decides which),
waiting while all are taken; machines are given back by the finish stage's clean-up."""

from __future__ import annotations

import os
import time

from emulator.engine import gpu
from emulator.job.context import CancelRequested, JobContext
from emulator.rules.placement import WAITING_FOR_SCHEDULER, waiting_reasons
from emulator.settings import Settings

CLAIM_POLL_SECONDS = 0.2


def machine_names(settings: Settings | None = None) -> list[str]:
    """The simulated machines of this host: local-0 … local-<n-1> ($CYCLE_MACHINES, default 4)."""
    settings = settings or Settings.from_env()
    return [f"local-{i}" for i in range(settings.machines)]


def claim_first(ctx: JobContext) -> str:
    """The job's first machine: after --cpu's notice and, for a queued job, the scheduler's next pass."""
    if ctx.manifest.cuda and ctx.options.cpu:
        ctx.event(f"--cpu: [job] cuda = \"{ctx.manifest.cuda}\" is ignored; the job runs without a GPU")
    if ctx.options.queued:
        wait_for_scheduler(ctx)
    return claim(ctx)


def wait_for_scheduler(ctx: JobContext) -> None:
    """A queued job waits PENDING for the scheduler's next pass (up to a minute), listening for a
    cancel request all the while: `cycle job cancel` is answered within a poll, not by a SIGTERM
    once the canceller gives up waiting (it took 5 s and the log blamed a signal)."""
    from emulator.upload import next_pass, scheduler_interval

    interval = scheduler_interval()
    wait = next_pass(time.time(), interval)
    ctx.store.set_reason(ctx.job.id, WAITING_FOR_SCHEDULER)  # job status says why it is PENDING
    ctx.event(f"queued: the scheduler looks for pending jobs every {interval:g} s; next pass in {wait:.1f} s")
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        end_if_cancel_requested(ctx)
        time.sleep(min(CLAIM_POLL_SECONDS, left))
    end_if_cancel_requested(ctx)


def end_if_cancel_requested(ctx: JobContext) -> None:
    """A cancel request taken while the job waits PENDING (for a machine, or for its restore) ends
    the wait (CancelRequested)."""
    request = ctx.store.take_request(ctx.job.id, kinds=("cancel",))
    if request is not None:
        raise CancelRequested(request.requester)


def claim(ctx: JobContext, exclude: str | None = None) -> str:
    """A free machine for the job (one whose driver supports its CUDA version, when set), never
    `exclude` (the machine a moving job leaves), waiting for one when all are taken and saying why.
    A job no machine could ever run waits PENDING with the reason. Waiting jobs get machines first
    come first served (the store records since when each waits; rules.placement.left_for). A cancel
    request ends the wait (CancelRequested)."""
    waited = False
    while (name := try_claim(ctx, prefer=None, exclude=exclude, waits=True)) is None:
        if not waited:
            _say_why_it_waits(ctx, exclude)
            waited = True
        end_if_cancel_requested(ctx)
        time.sleep(CLAIM_POLL_SECONDS)
    return name


def try_claim(ctx: JobContext, prefer: str | None, exclude: str | None, waits: bool = False) -> str | None:
    """One attempt, no waiting: `prefer` if it is free (and nothing else), else the least-loaded
    free machine; never `exclude`, nor one a job that has waited longer gets first. None when there
    is none; `waits`: the job is then recorded as waiting (claim's loop; a requested move is not)."""
    capability, _ = gpu.machine_cuda()
    ctx.store.ensure_machines(machine_names(ctx.settings), capability)
    machine = ctx.store.claim_machine(ctx.job.id, prefer=prefer, exclude=exclude, cuda=ctx.cuda,
                                      agent_pid=os.getpid(), waits=waits, fits=gpu.satisfies)
    return None if machine is None else machine.name


def _say_why_it_waits(ctx: JobContext, exclude: str | None) -> None:
    """The wait's one event: the CUDA version no machine here supports (the reason, instead of
    WAITING_FOR_MACHINE), or what holds each machine and how many jobs waiting longer go first."""
    cuda = ctx.cuda
    capability, source = gpu.machine_cuda()
    if cuda and not gpu.satisfies(capability, cuda):
        ctx.store.set_reason(ctx.job.id, f"NO_MACHINE_WITH_CUDA_{cuda}")
        ctx.event(f"waiting: [job] cuda = \"{cuda}\" needs a machine whose driver supports CUDA {cuda} "
                  f"or newer; the machines here have {capability or 'no GPU'} ({source})")
    else:
        why = waiting_reasons(ctx.store.machines(), ctx.store.holders(), exclude,
                              len(ctx.store.waiting_ahead(ctx.job.id)))
        ctx.event("waiting for a free machine" + (f" ({why})" if why else ""))
