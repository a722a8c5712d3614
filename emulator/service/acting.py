"""Acting on jobs and machines: cancel, reassign, drills, machine states, archive.

One part of EmulatorPlatform (emulator/platform.py composes the parts); each part uses the
platform's `home` and `store` and may call the others' methods through `self`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from cycle.api.keys import artifact_prefix
from cycle.api.options import DrillOptions, TestOptions
from cycle.api.platform import DrillReport
from cycle.errors import BadInput, CycleError
from emulator.models import Job, JobState, Machine, Move
from emulator.pids import pid_alive
from emulator.reaper import end_job, remove_job_containers

CANCEL_WAIT_SECONDS = 30.0  # for an agent to answer SIGTERM
REQUEST_WAIT_SECONDS = 5.0  # for an agent to take a cancel request (polled every 0.2 s while it waits, builds, runs)


class Acting:
    def cancel(self, name: str, requester: str | None = None) -> Job:
        """Cancel a PENDING or RUNNING job the way every request reaches its agent: a 'cancel' row in
        the requests table, taken by the agent's log pump (or, while PENDING, its wait for the
        scheduler or a machine, or its build's watch), so the agent alone writes the job's state. An
        agent that does not answer gets SIGTERM; with no live agent, the job is ended here. `requester`
        (e.g. "`cycle tui`") is named in the job's log; default `cycle job cancel`."""
        job = self.job(name)
        if job.state is JobState.CANCELLED:
            return job  # cancelled already (here or elsewhere): nothing to do, for the CLI, the TUI and the SDK alike
        if job.state.is_final:
            raise BadInput(f"job {name} is already {job.state.value}; only PENDING or RUNNING jobs can be cancelled.")
        if job.agent_pid and pid_alive(job.agent_pid):
            self.store.request_cancel(job.id, requester)
            if self._agent_ended(job, REQUEST_WAIT_SECONDS):
                return self.store.job(job.id)
            if pid_alive(job.agent_pid):
                os.kill(job.agent_pid, signal.SIGTERM)
                if self._agent_ended(job, CANCEL_WAIT_SECONDS):
                    return self.store.job(job.id)
        # no live agent (or it did not answer): clean up here
        from emulator.job.finish import cancel_line

        state = self.store.job(job.id).state
        text = (cancel_line(requester or "`cycle job cancel`", state, had_container=state is JobState.RUNNING)
                + "; its agent was gone or did not answer, so it was ended here and its machine freed")
        if not end_job(self.store, self.home, job.id, JobState.CANCELLED, "CANCELLED_BY_USER", text):
            remove_job_containers(self.home, job.id)  # it ended meanwhile: still, leave no container
        return self.store.job(job.id)

    def _agent_ended(self, job: Job, seconds: float) -> bool:
        """Wait up to `seconds` for the job's agent to end the job; False when it has not (or died first)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and pid_alive(job.agent_pid):
            if self.store.job(job.id).state.is_final:
                return True
            time.sleep(0.1)
        return self.store.job(job.id).state.is_final

    def reassign(self, name: str, to: str | None = None, grace: float | None = None, wait: float = 120.0,
                 requester: str | None = None) -> Move:
        """Move a running job to another machine (from any terminal) and wait until it restarted.
        `requester` (e.g. "`cycle tui`") is named in the move's trigger; default `cycle job reassign`.

        A move that cannot be made is refused before anything is touched (BadInput): `to` offline,
        busy or running another job, no other machine free, or the free one due to a job that has
        waited longer for a machine (first come, first served). The agent checks again as it claims
        the machine, before it stops the job; a machine lost meanwhile refuses the move there, the
        job keeps running, and the refusal ends this wait (CycleError)."""
        from emulator.rules.moves import request_trigger
        from emulator.rules.placement import move_refusal, waiting_first

        job = self.job(name)
        if job.state is not JobState.RUNNING:
            raise BadInput(f"job {name} is {job.state.value}: only a RUNNING job can be reassigned"
                           + (" (it has ended)." if job.state.is_final else " (wait until it runs)."))
        refusal = move_refusal(name, job.machine, to, self.machines(), self.store.holders())
        if refusal is None and self.store.machine_for(job.id, prefer=to, exclude=job.machine) is None:
            refusal = waiting_first(name, job.machine, to, self.store.waiting_ahead(job.id))  # they go first
        if refusal is not None:
            raise BadInput(refusal)
        before = len(self.store.moves(job.id))
        request_id = self.store.request_move(job.id, to, grace, requester)
        ours = request_trigger(to, requester)  # a move the platform made meanwhile (machine offline) is not ours
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if (refused := self.store.refusal(request_id)) is not None:
                raise CycleError(refused)
            made = [m for m in self.store.moves(job.id)[before:] if m.trigger == ours and m.restarted_ns]
            if made:
                return made[-1]
            current = self._unless_agent_died(self.store.job(job.id))
            if current.state.is_final:
                why = f"{current.state.value}" + (f", {current.reason}" if current.reason else "")
                raise CycleError(f"job {name} ended before it could be moved ({why}); see `cycle job logs {name}`.")
            time.sleep(0.05)
        raise CycleError(f"job {name} did not restart on another machine within {wait:.0f} s; see `cycle job logs "
                         f"{name}`.")

    def _unless_agent_died(self, job: Job) -> Job:
        """The job, ended LOST first when its agent died: a move waits on that agent, which will never
        answer (the wait ran its 120 s and the job stayed RUNNING until some read noticed)."""
        if job.state.is_final or not job.agent_pid or pid_alive(job.agent_pid):
            return job
        self.reap()
        return self.store.job(job.id)

    def drill(self, project_dir: Path, plan: DrillOptions, say: Callable[[str], None],
              options: TestOptions) -> DrillReport:
        """Run the project detached, move it as `plan` says, and judge whether it resumed."""
        from emulator.drill import run_drill

        return run_drill(self, project_dir, plan, say, options)

    def machines(self) -> list[Machine]:
        from emulator.engine import gpu
        from emulator.job.machine import machine_names

        self.store.ensure_machines(machine_names(), gpu.machine_cuda()[0])  # the one capability read, as claims do
        self.reap()  # a machine whose job's agent died shows free
        return self.store.machines()

    def set_machine_state(self, name: str, state: str) -> Machine:
        """Both checked before the store is opened, so a refused request creates no home."""
        if state not in ("available", "busy", "offline"):
            raise BadInput(f"machine state {state!r} is not one of available, busy, offline.")
        known = self._machine_names()
        if name not in known:
            raise BadInput(f"there is no machine {name!r}; machines: {', '.join(known)}.")
        self.store.set_machine_state(name, state)
        return self.store.machine(name)

    def _machine_names(self) -> list[str]:
        """The machines a name may be: the store's once it exists (it may keep machines from an
        earlier $CYCLE_MACHINES), else this host's, as the store would record them."""
        from emulator.job.machine import machine_names

        return [m.name for m in self.machines()] if self.has_state() else machine_names()

    def archive(self, name: str) -> Job:
        """Delete the job's stored artifacts; the record (and its log) stays, marked archived."""
        job = self.job(name)
        if not job.state.is_final:
            raise BadInput(f"job {name} is {job.state.value}; archive it once it has ended (or cancel it first).")
        if job.archived:
            return job
        for store_name in {artifact.store for artifact in self.store.artifact_versions(job.id)} or {None}:
            self._named_store(store_name).delete_prefix(artifact_prefix(job.name))
        self._wipe_machine_folders(job.name)
        self.store.set_archived(job.id)
        return self.store.job(job.id)

    def _wipe_machine_folders(self, job_name: str) -> None:
        """The job's working copy on the machine it ended on (its /artifacts folder there) goes
        with its stored artifacts: archived, nothing of its files stays on this disk. Best effort:
        a folder that will not go is left (the archive itself stands)."""
        from emulator.job.context import job_folders
        from emulator.job.move import remove_tree

        for folder in job_folders(self.home, job_name):
            try:
                remove_tree(folder)
            except OSError:
                pass
