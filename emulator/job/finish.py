"""Stage 7, finish: the container's exit becomes the job's final state; then the emails the
manifest asks for; and, on every way out, the clean-up (container gone,
job folders disarmed, machines given back, log shipped) and the last safety net."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cycle.api.wording import displayable, listed
from emulator.engine.protocol import job_labels
from emulator.hostsafety import disarm_job
from emulator.job import artifacts, logs
from emulator.job.context import JobContext, Stay
from emulator.models import Job, JobState, Stream, now_ns, state_for_exit
from emulator.rules.email import wants_email


def finish(ctx: JobContext) -> Job:
    """The container exited: its exit code, an OOM kill and the artifact report make the final state."""
    stay = ctx.stay
    exit_code = ctx.runtime.wait(stay.container)
    oom = ctx.runtime.inspect(stay.container).oom_killed
    _start_removal(ctx, stay)
    report = artifacts.finish_uploads(ctx, stay)
    state, reason = state_for_exit(exit_code, oom, upload_failed=bool(report.failed))
    if oom:
        ctx.event(f"out of memory: the container hit its memory limit and was killed (exit code {exit_code})")
    if report.failure is not None and not oom:  # the pipeline could not work: its reason wins
        state, reason = JobState.FAILED, report.failure.reason
        ctx.event(f"job failed ({reason}): {report.failure.message}")
    elif state is JobState.FINISHED:
        ctx.event("job finished: run.sh exited with code 0")
    elif reason == "UPLOAD_ERROR":
        ctx.event(f"job failed: run.sh exited with code 0 but {len(report.failed)} artifact(s) could not be "
                  f"stored ({', '.join(report.failed[:10])}); UPLOAD_ERROR is not retried")
    else:
        ctx.event(f"job failed: run.sh exited with code {exit_code} ({reason})")
    return ctx.end(state, reason=reason, exit_code=exit_code)


def _start_removal(ctx: JobContext, stay: Stay) -> None:
    """The exited container (its output read, its exit code and OOM flag known) is removed in a
    thread while the last artifacts upload and the final state is written: the engine's removal
    is then off the job's critical path. clean_up waits for it, so nothing is left behind; its
    thread is not a daemon, so even an exit that skipped clean_up waits for it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="container-removal")
    stay.removal = pool.submit(ctx.runtime.remove, stay.container)
    pool.shutdown(wait=False)


def _remove_container(ctx: JobContext, stay: Stay) -> None:
    """The stay's container gone: the removal started at its exit has ended well, else it is removed now."""
    if stay.removal is not None and stay.removal.exception() is None:
        return
    ctx.runtime.remove(stay.container)


def cancel(ctx: JobContext, by: str | None = None) -> None:
    """Ctrl-C (`by` None) or a cancel request (`by` names who asked: `cycle job cancel`, "`cycle tui`"):
    the container goes at once; files that were still waiting to upload are recorded as abandoned
    (the upload in flight finishes)."""
    had_container = ctx.stay is not None
    if had_container:
        _remove_and_drain(ctx, ctx.stay)
        abandoned = artifacts.abandon(ctx, ctx.stay)
        if abandoned:
            ctx.event(f"cancelled: {len(abandoned)} artifact(s) abandoned before upload: {listed(abandoned, 20)}")
    job = ctx.current()
    if not job.state.is_final:
        ctx.event(cancel_line(by, job.state, had_container))
        ctx.end(JobState.CANCELLED, reason="CANCELLED_BY_USER")


def cancel_line(by: str | None, state: JobState, had_container: bool) -> str:
    """The log's line for a cancel: who asked, and a container only when one was running (a job
    cancelled while it waited PENDING never had one)."""
    line = "job cancelled" + (" while PENDING" if state is JobState.PENDING else "")
    line += f" (requested by {by})" if by else " by the user (Ctrl-C)"
    return line + ("; container removed" if had_container else "")


def end_unless_final(ctx: JobContext, reason: str) -> Job:
    """FAILED with `reason`, unless the job already reached a final state before the error."""
    if ctx.current().state.is_final:
        ctx.shipper.close()
        return ctx.current()
    if ctx.stay is not None:
        _remove_and_drain(ctx, ctx.stay)
    return ctx.end(JobState.FAILED, reason=reason)


def _remove_and_drain(ctx: JobContext, stay: Stay) -> None:
    """The stay's container goes, and what it printed up to then reaches the log before the job's
    end is written: the pump was left mid-stream (Ctrl-C, a cancel request, an error), so the rest
    of the attach stream, the last line printed without a newline included (its reader gives it
    only at the stream's end, which the removal brings), is still to be read."""
    ctx.runtime.remove(stay.container)
    logs.drain(ctx, stay)


def clean_up(ctx: JobContext) -> None:
    """Every way out of the run: the container goes, its watcher stops, what the job left on the
    host is disarmed, every machine the job holds is given back, and the rest of the log is shipped."""
    if ctx.stay is not None:
        _remove_container(ctx, ctx.stay)
        ctx.stay.pipeline.abandon()
        ctx.stay = None
    _remove_job_containers(ctx)  # one created but never started, too
    disarmed = disarm_job(ctx.home, ctx.job.name)
    if disarmed:
        ctx.event(f"cleared setuid/setgid bits or removed special files the job left: {', '.join(disarmed[:20])}")
    ctx.store.release_job_machines(ctx.job.id)
    ctx.shipper.close()


def _remove_job_containers(ctx: JobContext) -> None:
    ctx.runtime.remove_labelled(job_labels(ctx.home, ctx.job.id))


def never_left_unfinished(ctx: JobContext, interrupted: bool) -> None:
    """The last safety net: if the clean-up itself failed, or an error struck between two
    handlers, the job still ends (CANCELLED when interrupted, else FAILED)."""
    if ctx.current().state.is_final:
        return
    if interrupted:
        ctx.event("job cancelled (interrupted); container removed")
        ctx.end(JobState.CANCELLED, reason="CANCELLED_BY_USER")
    else:
        ctx.event("job failed: the agent stopped before the job ended")
        ctx.end(JobState.FAILED, reason="AGENT_ERROR")


def tell(ctx: JobContext, ended: Job) -> None:
    """After the end: the email the manifest asks for (the soft quota's warning came before the
    end, JobContext.end, so a foreground run shows it)."""
    if wants_email(ended.state, ctx.manifest.email_on_success, ctx.manifest.email_on_failure):
        _email(ctx, ended)


def _email(ctx: JobContext, ended: Job) -> None:
    from emulator.mail import compose, deliver

    lines = [f"[{r.stream.value}] {displayable(r.text)}" for r in ctx.store.logs_before(ended.id, None, 20)]
    try:
        where = deliver(ctx.home, compose(ended, lines, ctx.settings.email_to))
        text = f"email sent to {where}"
    except OSError as error:
        text = f"email could not be sent: {error}"
    ctx.store.append_logs(ended.id, [(now_ns(), Stream.SYSTEM, text)])
