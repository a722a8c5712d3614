"""Stage 2, build: the job's image from the build cache (the runtime's build: emulator.build.Builder
behind DockerRuntime), or the job fails BUILD_FAILED. A cancel request taken while build.sh runs
stops the build (its container removed, nothing committed) and cancels the job."""

from __future__ import annotations

import threading

from emulator.engine.protocol import LABEL_JOB, BuildFailed, BuildRequest, job_labels
from emulator.job.context import CancelRequested, JobContext
from emulator.models import Job, JobState

CANCEL_POLL_SECONDS = 0.2


def build_image(ctx: JobContext) -> Job | None:
    """Set ctx.image to the job's build image; on a failed build, explain it and end the job
    (the ended job is returned: the flow stops there). A cancel request during the build raises
    CancelRequested once the build container is gone."""
    labels = {**ctx.labels, LABEL_JOB: str(ctx.job.id)}
    options = ctx.options
    request = BuildRequest(ctx.manifest, ctx.base_image, ctx.store, labels, ctx.event, options.rebuild, options.clean,
                           options.network)
    with CancelDuringBuild(ctx) as watch:
        try:
            build = ctx.runtime.build(request)
        except BuildFailed as failure:
            watch.raise_if_cancelled()
            return _build_failed(ctx, failure)
        except Exception:
            watch.raise_if_cancelled()  # the removed container broke the build mid-way: a cancel, not an error
            raise
        watch.raise_if_cancelled(committed=True)
    ctx.image = build.image
    return None


def _build_failed(ctx: JobContext, failure: BuildFailed) -> Job:
    from emulator.build_diagnosis import explain

    network = ctx.runtime.network(ctx.options.network)
    for line in explain(failure.output, failure.build_exit_code, network, streamed=failure.streamed):
        ctx.event(line)
    return ctx.end(JobState.FAILED, reason="BUILD_FAILED", exit_code=failure.build_exit_code)


class CancelDuringBuild:
    """Listens for a cancel request while the build runs, as the PENDING waits do (machine.py): the
    build blocks on build.sh's output, so a thread polls the requests table every 0.2 s. Once it
    took a request it removes the job's containers (build.sh's, or a flatten's) at every poll until
    the build returns, so a container created after the request goes too; a killed build.sh exits
    non-zero, so no image is ever committed from a half build. Without this, `cycle job cancel`
    waited 5 s, then sent SIGTERM, and the log blamed a signal."""

    def __init__(self, ctx: JobContext, poll_seconds: float = CANCEL_POLL_SECONDS) -> None:
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self.requester: str | None = None
        self.taken = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="build-cancel-watch", daemon=True)

    def __enter__(self) -> CancelDuringBuild:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.poll_seconds):
            try:
                self._poll()
            except Exception:  # noqa: BLE001 - a busy store or engine: the next poll tries again
                continue

    def _poll(self) -> None:
        if not self.taken:
            request = self.ctx.store.take_request(self.ctx.job.id, kinds=("cancel",))
            if request is None:
                return
            self.requester, self.taken = request.requester, True
        self.ctx.runtime.remove_labelled(job_labels(self.ctx.home, self.ctx.job.id))

    def raise_if_cancelled(self, committed: bool = False) -> None:
        """After the build returned or failed: a taken request ends the job CANCELLED (the runner's
        cancel path), with a line saying the build was stopped (or, `committed`, had just ended: its
        image is a whole build, kept in the build cache)."""
        self._done.set()
        self._thread.join()
        if self.taken:
            self.ctx.runtime.remove_labelled(job_labels(self.ctx.home, self.ctx.job.id))
            self.ctx.event("build finished as the cancel came; its image stays in the build cache" if committed
                           else "build stopped by the cancel: build.sh's container removed, no build image committed")
            raise CancelRequested(self.requester)
