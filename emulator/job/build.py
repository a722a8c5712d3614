"""Stage 2, build: the job's image from the build cache (the runtime's build: emulator.build.Builder
behind DockerRuntime), or the job fails BUILD_FAILED."""

from __future__ import annotations

from emulator.engine.protocol import LABEL_JOB, BuildFailed, BuildRequest
from emulator.job.context import JobContext
from emulator.models import Job, JobState


def build_image(ctx: JobContext) -> Job | None:
    """Set ctx.image to the job's build image; on a failed build, explain it and end the job
    (the ended job is returned: the flow stops there)."""
    labels = {**ctx.labels, LABEL_JOB: str(ctx.job.id)}
    options = ctx.options
    request = BuildRequest(ctx.manifest, ctx.base_image, ctx.store, labels, ctx.event, options.rebuild, options.clean,
                           options.network)
    try:
        build = ctx.runtime.build(request)
    except BuildFailed as failure:
        from emulator.build_diagnosis import explain

        for line in explain(failure.output, failure.build_exit_code, ctx.runtime.network(options.network)):
            ctx.event(line)
        return ctx.end(JobState.FAILED, reason="BUILD_FAILED", exit_code=failure.build_exit_code)
    ctx.image = build.image
    return None
