"""Stage 6, move: reassignment as a recovery strategy object (after SkyPilot's recovery_strategy.py).

As the platform does it: the container on machine A dies, what waited in A's upload queue is lost
with A, the move is recorded, machine B is claimed, B downloads every uploaded artifact into its
/artifacts (retried with backoff; RESTORE_FAILED when storage stays down), and run.sh starts
again from the same build image.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cycle.api.keys import artifact_relative, natural_key
from cycle.api.tree import newest_tree
from cycle.api.wording import listed
from cycle.errors import CycleError
from emulator.artifacts.files import keep_mtime, stat_signature
from emulator.blobs import ObjectMissing, StorageError, StoredObject
from emulator.engine.protocol import short_id
from emulator.job import artifacts, container, logs, machine
from emulator.job.context import CancelRequested, JobContext, RestoreFailed, StartFailed, job_folder
from emulator.models import Artifact, Job, JobState, Move, now_ns
from emulator.rules.moves import MoveRequest
from emulator.rules.placement import move_refusal, waiting_first
from emulator.settings import Settings

RESTORE_ATTEMPTS = Settings.restore_attempts
CANCEL_POLL_SECONDS = 0.2  # how often a restore looks for a cancel request between files
RESTORE_BACKOFF_SECONDS = Settings.restore_backoff_seconds  # 1 + 2 + 4 + 8: about 15 s of waiting, then it gives up


class RecoveryStrategy:
    """Moves a running job to another machine: leave, record, claim, restore, restart."""

    def __init__(self, ctx: JobContext, sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx = ctx
        self.sleep = sleep

    def recover(self, request: MoveRequest) -> Job | None:
        """Run the job again elsewhere (None: it runs there now, or still runs here when a requested
        move was refused), or end it when the new container cannot start (the ended job).
        RestoreFailed propagates.

        A requested move claims its machine before the job leaves: one that cannot be had (offline,
        busy, taken since the requester checked) refuses the move and nothing is stopped. A move the
        platform triggers (the machine went offline or busy, the run limit) leaves first and waits."""
        ctx = self.ctx
        old = ctx.stay.machine
        target = None
        if request.request_id is not None:
            target = self.claim_requested(request, old)
            if target is None:
                return None
        lost = self.leave(request)
        self._ship_log()  # what it printed on the machine it left, readable now (not in up to 600 s)
        self.wipe(old)  # what leave() reported is read; nothing after reads that folder (restores come from storage)
        move_id = self.record(old, request, lost)
        target = target or machine.claim(ctx, exclude=old)
        ctx.event(f"reassignment: {old} -> {target}")
        restored, seconds = self.restore(target)
        try:
            self.restart(target, restored, seconds, move_id)
        except StartFailed as failure:
            ctx.event(f"job failed to restart after the move: {failure}")
            return ctx.end(JobState.FAILED, reason="START_FAILED")
        self._ship_log()  # the move's events (restored, restarted)
        return None

    def _ship_log(self) -> None:
        """Ship the job's log now: a move is one of the times it reaches storage (with the 600 s
        cadence and the job's end). One that fails keeps its lines for the next shipment
        (LogShipper.ship): the move goes on."""
        try:
            self.ctx.shipper.ship()
        except Exception:  # noqa: BLE001 - see above
            pass

    def claim_requested(self, request: MoveRequest, old: str) -> str | None:
        """The machine a requested move goes to, claimed while the job still runs on `old`; None
        when there is none to be had: the refusal is the job's event and the requester's answer."""
        ctx = self.ctx
        target = machine.try_claim(ctx, prefer=request.target, exclude=old)
        if target is not None:
            return target
        why = (move_refusal(ctx.job.name, old, request.target, ctx.store.machines(), ctx.store.holders())
               or waiting_first(ctx.job.name, old, request.target, ctx.store.waiting_ahead(ctx.job.id))
               or f"job {ctx.job.name} cannot move: {request.target or 'no other machine'} was taken meanwhile. "
                  f"Nothing was stopped: the job keeps running on {old}.")
        ctx.event(f"reassignment refused ({request.trigger}): {why}")
        ctx.store.refuse_request(request.request_id, why)
        return None

    def leave(self, request: MoveRequest) -> list[str]:
        """Stop the container on the current machine (grace: SIGTERM first) and drop its pipeline;
        the files that were still waiting to upload (lost with the machine)."""
        ctx, stay = self.ctx, self.ctx.stay
        ctx.event(f"reassignment: job leaves machine {stay.machine} ({request.trigger})")
        grace_left = 0.0
        if request.grace:
            stopping = time.monotonic()
            ctx.runtime.stop(stay.container, timeout=int(request.grace))  # SIGTERM, then SIGKILL after the grace period
            grace_left = request.grace - (time.monotonic() - stopping)
            how = self._stopped_how(stay.container, request.grace)
        else:
            ctx.runtime.kill(stay.container)
            how = "killed (SIGKILL)"
        logs.drain(ctx, stay)
        ctx.runtime.remove(stay.container)
        if grace_left > 0:
            artifacts.upload_in_grace(ctx, stay, request.grace, grace_left)
        abandoned = artifacts.abandon(ctx, stay)
        ctx.stay = None
        lost = sorted(set(abandoned) | set(stay.pipeline.unstored()), key=natural_key)  # step-9 before step-10
        ctx.event(f"machine {stay.machine}: container {how}; {len(lost)} file(s) still waiting in its upload queue "
                  f"were lost" + (f": {listed(lost, 20)}" if lost else ""))
        return lost

    def _stopped_how(self, container: str, grace: float) -> str:
        """How a graceful stop ended, for the log: the job exited on SIGTERM within its grace, or it
        ignored SIGTERM and the engine killed it when the grace ran out (exit code 137: 128 +
        SIGKILL), which a user reading "stopped (SIGTERM)" would not guess."""
        try:
            code = self.ctx.runtime.inspect(container).exit_code
        except Exception:  # noqa: BLE001 - a detail of the log line, never a reason for the move to fail
            code = None
        if code == 137:
            return f"killed (SIGKILL) when its {grace:g} s grace after SIGTERM ran out"
        return f"stopped (SIGTERM, {grace:g} s grace)"

    def record(self, old: str, request: MoveRequest, lost: list[str]) -> int:
        """The move's record; the job is PENDING and machine `old` free until the job restarts."""
        store, job = self.ctx.store, self.ctx.job
        uploaded = len(store.artifacts(job.id))
        move_id = store.add_move(Move(0, job.id, old, None, request.trigger, now_ns(), uploaded, lost, []))
        store.set_state(job.id, JobState.PENDING, reason=f"REASSIGNED_FROM_{old}")
        store.release_machine(old, job.id)
        return move_id

    def wipe(self, old: str) -> None:
        """Remove the job's folder on the machine it left (its /artifacts), as the platform wipes
        that machine: over many moves the folders would fill the disk. Run as soon as the old
        container is gone and leave() has listed the lost files, so that no later step (waiting
        for a machine, which a cancel can end; the restore, which reads storage, never this
        folder) can leave it behind. A failure is a system event; the job goes on."""
        folder = job_folder(self.ctx.home, old, self.ctx.job.name)
        try:
            remove_tree(folder)
        except OSError as error:
            self.ctx.event(f"machine {old}: the job's folder {folder} could not be removed ({error}); "
                           "it stays on disk until you delete it")

    def restore(self, target: str) -> tuple[dict[str, tuple], float]:
        """Download every stored artifact of the job into the machine's fresh /artifacts folder;
        ({path: (signature, size, sha256)} so the new watcher knows them as stored, seconds taken).

        Each record names the store that holds it. Storage may be down for a moment: each download
        is retried with backoff ($CYCLE_RESTORE_ATTEMPTS, $CYCLE_RESTORE_BACKOFF_SECONDS); then RestoreFailed."""
        from emulator.storage import StoreCache

        ctx = self.ctx
        started = time.monotonic()
        folder = job_folder(ctx.home, target, ctx.job.name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        delays = backoff_delays(max(1, ctx.settings.restore_attempts), ctx.settings.restore_backoff_seconds)
        stores = StoreCache(ctx.home, ctx.blobs)
        restored = {}
        artifacts, superseded = newest_tree(ctx.store.artifacts(ctx.job.id))
        if superseded:
            ctx.event(f"restore: {len(superseded)} stored file(s) not restored, a newer file or folder of the same "
                      f"name replaced them on the job's disk: {listed([a.path for a in superseded], 5)}")
        cancel_checked = started
        for artifact in artifacts:
            if time.monotonic() - cancel_checked >= CANCEL_POLL_SECONDS:  # a restore of GBs takes minutes
                cancel_checked = time.monotonic()
                self._end_restore_if_cancelled(folder)
            path = Path(os.fsdecode(os.path.join(os.fsencode(folder), artifact_relative(ctx.job.name, artifact.key))))
            path.parent.mkdir(parents=True, exist_ok=True)
            got = self._download(stores, artifact, path, target, delays)
            keep_mtime(path, artifact.mtime_ns)
            info = os.lstat(path)
            restored[artifact.path] = (stat_signature(info), got.size, got.sha256)
            if got.sha256 != artifact.sha256:
                self._record_newer(artifact, got)
        seconds = time.monotonic() - started
        total = sum(size for _, size, _ in restored.values())
        ctx.event(f"restored {len(restored)} file(s), {total} bytes in {seconds:.2f} s from storage into machine "
                  f"{target}'s /artifacts")
        return restored, seconds

    def _end_restore_if_cancelled(self, folder: Path) -> None:
        """A cancel request (`cycle job cancel`, an interrupted `cycle drill`) ends the restore at
        once: the files restored so far are removed with the folder, and the job never restarts
        (CancelRequested; the claimed machine is given back by the job's clean-up)."""
        try:
            machine.end_if_cancel_requested(self.ctx)
        except CancelRequested:
            remove_tree(folder)
            raise

    def _record_newer(self, artifact: Artifact, got: StoredObject) -> None:
        """Storage held a whole version newer than the job's record (an agent killed between a put
        and its record: S3 keys hold one version); the restore took it, and the record names it now."""
        self.ctx.store.add_artifacts(self.ctx.job.id, [replace(artifact, size=got.size, sha256=got.sha256,
                                                               uploaded_ns=now_ns())])
        self.ctx.event(f"restore: stored {artifact.path} was newer than its record (its upload was not recorded "
                       f"before its agent stopped); restored and recorded it: {got.size} bytes, sha256 "
                       f"{got.sha256[:12]}")

    def _download(self, stores, artifact, path: Path, target: str, delays: list[float]) -> StoredObject:
        """The artifact into `path`, as storage holds it (see _record_newer)."""
        ctx = self.ctx
        where = artifact.store or ctx.blobs.description
        known = StoredObject(artifact.key, artifact.size, artifact.sha256)

        def retrying(error: Exception, attempt: int, delay: float) -> None:
            ctx.event(f"restore: {artifact.path} could not be read from {where} ({error}); "
                      f"attempt {attempt + 1} of {len(delays) + 1} in {delay:g} s")

        def read() -> StoredObject:
            try:
                return stores.get(artifact.store).get_to(artifact.key, path, known=known)
            except ObjectMissing as missing:  # gone for good: trying again only delays the answer
                raise RestoreFailed(f"RESTORE_FAILED: {artifact.path} could not be restored onto machine "
                                    f"{target}: {missing}") from None

        try:
            return with_retries(read, delays, retrying, sleep=self.sleep)
        except (StorageError, OSError, CycleError) as error:
            raise RestoreFailed(
                f"RESTORE_FAILED: the job's stored artifacts could not be restored from {where} "
                f"onto machine {target} after {len(delays) + 1} attempts over {sum(delays):g} s "
                f"({artifact.path}: {error}). Check that the store answers (`cycle emulator storage status`) "
                "and run the job again.") from None

    def restart(self, target: str, restored: dict[str, tuple], seconds: float, move_id: int) -> None:
        """run.sh starts again on `target`, which knows the restored files as stored."""
        ctx = self.ctx
        ctx.stay = container.start_stay(ctx, target, restored)
        ctx.store.set_state(ctx.job.id, JobState.RUNNING, machine=target)
        ctx.store.update_move(move_id, to_machine=target, restored=sorted(restored),
                              restored_bytes=sum(size for _, size, _ in restored.values()),
                              restore_seconds=seconds, restarted_ns=now_ns())
        ctx.stay.move_id = move_id
        ctx.event(f"container restarted on machine {target} (container {short_id(ctx.stay.container)}): "
                  "run.sh starts again")


def remove_tree(folder: Path) -> None:
    """Delete `folder` and everything in it, whatever modes the job left (a directory without
    read or search permission, a setuid file), never following a link: each directory is first
    opened up to its owner (rwx), then shutil.rmtree, which on Linux works through file
    descriptors and does not follow links (rmtree.avoids_symlink_attacks), removes it all. File
    modes are left alone: removing a file needs only its directory's permission. A folder that
    is not there is fine; OSError when something stays."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:  # any other error (a folder above it not searchable) is told
        return
    if not stat.S_ISDIR(mode):  # a link or a file where the folder was: only it goes
        os.unlink(folder)
        return
    _open_directories(folder)
    shutil.rmtree(folder)


def _open_directories(folder: Path) -> None:
    """chmod 0700 every directory under `folder` (itself too), top down, so an unreadable one is
    opened before it is listed. Only real directories (scandir's is_dir without following links);
    the job's container is gone, so nothing swaps one for a link meanwhile."""
    pending = [os.fsencode(folder)]
    while pending:
        directory = pending.pop()
        os.chmod(directory, 0o700)
        with os.scandir(directory) as entries:
            pending += [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]


def restore_settings() -> tuple[int, float]:
    """(attempts, first delay) for restoring a moved job's artifacts; tests shorten them."""
    settings = Settings.from_env()
    return max(1, settings.restore_attempts), settings.restore_backoff_seconds


def backoff_delays(attempts: int, first: float, factor: float = 2.0) -> list[float]:
    """The waits between `attempts` tries: first, first*factor, … (one fewer than the attempts)."""
    return [first * factor ** i for i in range(attempts - 1)]


def with_retries(action: Callable[[], object], delays: list[float],
                 on_retry: Callable[[Exception, int, float], None],
                 retry_on: tuple[type[Exception], ...] = (StorageError, OSError),
                 sleep: Callable[[float], None] = time.sleep):
    """`action()`, tried again after each of `delays` while it raises `retry_on`; the last
    error propagates. `on_retry(error, attempt, delay)` tells before each wait."""
    for attempt, delay in enumerate([*delays, None], start=1):
        try:
            return action()
        except retry_on as error:
            if delay is None:
                raise
            on_retry(error, attempt, delay)
            sleep(delay)
