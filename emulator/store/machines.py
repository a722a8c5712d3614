"""Machines: the simulated machines and who holds them; which one a job gets is rules/placement's."""

from __future__ import annotations

from collections.abc import Callable

from emulator.models import Machine
from emulator.reaper import holder_gone
from emulator.rules.placement import choose_machine
from emulator.store.db import Database


class MachinesTable(Database):
    def ensure_machines(self, names: list[str], cuda: str | None) -> None:
        """Every machine exists, with the CUDA capability this host has now."""
        with self._tx() as db:
            for name in names:
                db.execute("INSERT INTO machines(name, cuda) VALUES (?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET cuda = excluded.cuda",
                           (name, cuda))

    def machines(self) -> list[Machine]:
        rows = self._connection().execute("SELECT name, state, cuda, job_id, jobs_run FROM machines ORDER BY name")
        return [Machine(*row) for row in rows]

    def claim_machine(self, job_id: int, prefer: str | None = None, exclude: str | None = None,
                      eligible: Callable[[Machine], bool] = lambda machine: True,
                      agent_pid: int | None = None, alive: Callable[[int], bool] | None = None) -> Machine | None:
        """Give the job the free machine choose_machine picks (`prefer` if it is free, else the least-loaded
        eligible one); this only finds which machines are free and records the claim.

        A machine is free when nobody holds it, or its holder has ended, or the agent that claimed
        it is dead: a machine belongs to a job only while that job's agent is alive. `agent_pid`
        (the claiming process) is recorded with the claim."""
        from emulator.pids import pid_alive

        alive = alive or pid_alive
        with self._tx() as db:
            rows = db.execute(
                "SELECT m.name, m.state, m.cuda, m.job_id, m.jobs_run, j.state, COALESCE(m.agent_pid, j.agent_pid) "
                "FROM machines m LEFT JOIN jobs j ON j.id = m.job_id WHERE m.state = 'available' "
                "ORDER BY m.name").fetchall()
            free = [Machine(*row[:5]) for row in rows if row[3] is None or holder_gone(row[5], row[6], alive)]
            chosen = choose_machine(free, prefer, exclude, eligible)
            if chosen is None:
                return None
            db.execute("UPDATE machines SET job_id = ?, agent_pid = ?, jobs_run = jobs_run + 1 WHERE name = ?",
                       (job_id, agent_pid, chosen.name))
        return chosen

    def holders(self, alive: Callable[[int], bool] | None = None) -> dict[str, str]:
        """Machine name -> the job that holds it, for the holds that count (as claim_machine counts
        them: the job unfinished and the agent that claimed it alive): what a refused move names."""
        from emulator.pids import pid_alive

        rows = self._connection().execute(
            "SELECT m.name, j.name, j.state, COALESCE(m.agent_pid, j.agent_pid) "
            "FROM machines m JOIN jobs j ON j.id = m.job_id").fetchall()
        return {machine: job for machine, job, state, pid in rows if not holder_gone(state, pid, alive or pid_alive)}

    def release_machine(self, name: str, job_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE machines SET job_id = NULL, agent_pid = NULL WHERE name = ? AND job_id = ?",
                       (name, job_id))

    def release_job_machines(self, job_id: int) -> None:
        """Give back every machine the job holds (any way its run ended)."""
        with self._tx() as db:
            db.execute("UPDATE machines SET job_id = NULL, agent_pid = NULL WHERE job_id = ?", (job_id,))

    def machine(self, name: str) -> Machine | None:
        row = self._connection().execute(
            "SELECT name, state, cuda, job_id, jobs_run FROM machines WHERE name = ?", (name,)).fetchone()
        return Machine(*row) if row else None

    def set_machine_state(self, name: str, state: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE machines SET state = ? WHERE name = ?", (state, name))
