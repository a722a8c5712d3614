"""Machines: the simulated machines and who holds them; which one a job gets is rules/placement's."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from emulator.models import Machine, now_ns
from emulator.reaper import holder_gone
from emulator.rules.placement import WAITING_FOR_MACHINE, WAITING_FOR_SCHEDULER, Fits, Waiter, choose_machine, left_for
from emulator.store.db import Database


class MachinesTable(Database):
    def ensure_machines(self, names: list[str], cuda: str | None) -> None:
        """Every machine exists, with the CUDA capability this host has now, and no other: a machine
        $CYCLE_MACHINES no longer counts is removed once no unfinished job holds it (lowering it
        took no machine away before: jobs still ran on local-3 with CYCLE_MACHINES=2)."""
        with self._tx() as db:
            for name in names:
                db.execute("INSERT INTO machines(name, cuda) VALUES (?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET cuda = excluded.cuda",
                           (name, cuda))
            db.execute(f"DELETE FROM machines WHERE name NOT IN ({', '.join('?' * len(names))}) AND (job_id IS NULL "
                       "OR job_id NOT IN (SELECT id FROM jobs WHERE state IN ('PENDING', 'RUNNING')))", names)

    def machines(self) -> list[Machine]:
        rows = self._connection().execute("SELECT name, state, cuda, job_id, jobs_run FROM machines ORDER BY name")
        return [Machine(*row) for row in rows]

    def claim_machine(self, job_id: int, prefer: str | None = None, exclude: str | None = None,
                      cuda: str | None = None, agent_pid: int | None = None,
                      alive: Callable[[int], bool] | None = None, waits: bool = False,
                      fits: Fits | None = None, now: int | None = None) -> Machine | None:
        """Give the job the free machine choose_machine picks (`prefer` if it is free, else the least-loaded
        one whose driver `fits` its `cuda`) among those first come first served leaves it (left_for:
        jobs that have waited longer go first); this only finds which machines are free and who
        waits, and records the claim, in one transaction.

        A machine is free when nobody holds it, or its holder has ended, or the agent that claimed
        it is dead: a machine belongs to a job only while that job's agent is alive. `agent_pid`
        (the claiming process) is recorded with the claim. `waits`: a job that gets none now waits
        for one (claim's loop, not a requested move, which is refused instead): since when, for
        what, and the reason WAITING_FOR_MACHINE are recorded, so that other agents see it queued."""
        from emulator.engine.gpu import satisfies
        from emulator.pids import pid_alive

        alive, fits, now = alive or pid_alive, fits or satisfies, now or now_ns()
        with self._tx() as db:
            claimant = Waiter(_waiting_since(db, job_id) or now, job_id, cuda, exclude)
            chosen = _choose(db, claimant, prefer, alive, fits, now)
            if chosen is None:
                if waits:
                    db.execute("UPDATE jobs SET waiting_since_ns = ?, waiting_cuda = ?, waiting_exclude = ?, "
                               "waiting_polled_ns = ?, reason = CASE WHEN reason IS NULL OR reason = ? THEN ? "
                               "ELSE reason END WHERE id = ?",
                               (claimant.since_ns, cuda, exclude, now, WAITING_FOR_SCHEDULER, WAITING_FOR_MACHINE,
                                job_id))
                return None
            db.execute("UPDATE machines SET job_id = ?, agent_pid = ?, jobs_run = jobs_run + 1 WHERE name = ?",
                       (job_id, agent_pid, chosen.name))
            db.execute("UPDATE jobs SET waiting_since_ns = NULL, "
                       "reason = CASE WHEN reason IN (?, ?) THEN NULL ELSE reason END WHERE id = ?",
                       (WAITING_FOR_MACHINE, WAITING_FOR_SCHEDULER, job_id))
        return chosen

    def machine_for(self, job_id: int, prefer: str | None, exclude: str | None,
                    alive: Callable[[int], bool] | None = None, fits: Fits | None = None) -> Machine | None:
        """The machine claim_machine would give the job now, without claiming it: what a requested
        move's up-front check asks, so that a move the agent would refuse is refused before it is
        asked (the agent still claims, and checks again)."""
        from emulator.engine.gpu import satisfies
        from emulator.pids import pid_alive

        db, now = self._connection(), now_ns()
        claimant = Waiter(_waiting_since(db, job_id) or now, job_id, None, exclude)
        return _choose(db, claimant, prefer, alive or pid_alive, fits or satisfies, now)

    def waiting_ahead(self, job_id: int, alive: Callable[[int], bool] | None = None,
                      now: int | None = None, fits: Fits | None = None) -> list[str]:
        """The jobs that have waited longer than this one (all that wait, when it does not) and
        still wait for a machine, their agents alive, oldest first, by name: what goes first. A
        job no machine here could run (its CUDA) goes before nobody, as in claim_machine."""
        from emulator.engine.gpu import satisfies
        from emulator.pids import pid_alive

        db, now, fits = self._connection(), now or now_ns(), fits or satisfies
        mine = Waiter(_waiting_since(db, job_id) or now, job_id)
        alive = alive or pid_alive
        drivers = {row[0] for row in db.execute("SELECT cuda FROM machines WHERE state = 'available'")}
        ahead = sorted(w for w in _waiters(db, now) if w.job_id != job_id and w < mine
                       and any(fits(driver, w.cuda) for driver in drivers) and w.pid_alive(alive))
        names = dict(db.execute(f"SELECT id, name FROM jobs WHERE id IN ({', '.join('?' * len(ahead))})",
                                [w.job_id for w in ahead]).fetchall()) if ahead else {}
        return [names[w.job_id] for w in ahead]

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


def _choose(db: sqlite3.Connection, claimant: Waiter, prefer: str | None, alive: Callable[[int], bool],
            fits: Fits, now: int) -> Machine | None:
    """The free machine `claimant` gets (see claim_machine), read in `db`'s transaction."""
    rows = db.execute(
        "SELECT m.name, m.state, m.cuda, m.job_id, m.jobs_run, j.state, COALESCE(m.agent_pid, j.agent_pid) "
        "FROM machines m LEFT JOIN jobs j ON j.id = m.job_id WHERE m.state = 'available' "
        "ORDER BY m.name").fetchall()
    free = [Machine(*row[:5]) for row in rows if row[3] is None or holder_gone(row[5], row[6], alive)]
    left = left_for(claimant, free, _waiters(db, now), fits, counts=lambda waiter: waiter.pid_alive(alive))
    return choose_machine(left, prefer, claimant.exclude, lambda machine: fits(machine.cuda, claimant.cuda))


def _waiting_since(db: sqlite3.Connection, job_id: int) -> int | None:
    """When the job began waiting for a machine (None: it does not wait)."""
    row = db.execute("SELECT waiting_since_ns FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else None


WAITER_STALE_NS = 5 * 10**9
"""A waiting job whose agent has not asked for a machine for this long (25 polls) holds nobody back:
a process stopped with Ctrl-Z, or hung, still has a live pid but will not take the machine."""


def _waiters(db: sqlite3.Connection, now: int) -> list[Waiter]:
    """The jobs waiting for a machine now: PENDING, recorded waiting and their agent asking still
    (WAITER_STALE_NS). Whether that agent is alive is asked of each only when it matters
    (Waiter.pid_alive): a dead agent's job, or one cancelled or ended since, holds nobody back."""
    rows = db.execute("SELECT id, waiting_since_ns, waiting_cuda, waiting_exclude, agent_pid FROM jobs "
                      "WHERE waiting_since_ns IS NOT NULL AND state = 'PENDING' AND waiting_polled_ns >= ?",
                      (now - WAITER_STALE_NS,)).fetchall()
    return [Waiter(since, job_id, cuda, exclude, pid) for job_id, since, cuda, exclude, pid in rows]
