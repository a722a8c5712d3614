"""A cancel request reaches an agent whose build.sh runs (the build blocks on build.sh's output, so
job/build.py's CancelDuringBuild watches in a thread): the real runner over FakeRuntime, whose build
blocks until its build container is removed, as the engine's log stream does. No Docker."""

from __future__ import annotations

import time

import pytest
from test_job_runner_stages import real_flow  # noqa: F401  (the fixture)

from cycle.errors import JobCancelled
from emulator.engine.fake import FakeRuntime
from emulator.engine.protocol import LABEL_KIND, BuildFailed, BuildRequest, BuildResult, ContainerSpec
from emulator.models import JobState, Stream


def blocking_build(engine: FakeRuntime, store, requested_by: str | None):
    """A build that starts its container, asks for a cancel (as `cycle job cancel` would from
    another terminal), and then runs until its container is removed (a killed build.sh: exit 137)."""

    def build(request: BuildRequest) -> BuildResult:
        container = engine.create(ContainerSpec(image="base", command=["bash", ".cycleswap/build.sh"],
                                                labels={**request.labels, LABEL_KIND: "build"}))
        engine.start(container)
        store.request_cancel(int(request.labels["cycleswap.job"]), requested_by)
        deadline = time.monotonic() + 10
        while engine.containers[container].state != "removed":
            assert time.monotonic() < deadline, "nothing removed the build container: the cancel went unheard"
            time.sleep(0.02)
        raise BuildFailed(137, ["killed"])
    return build


@pytest.mark.parametrize("requested_by", [None, "`cycle tui`"])
def test_a_cancel_during_the_build_stops_it_and_cancels_the_job(real_flow, monkeypatch, requested_by):  # noqa: F811
    engine = real_flow.engine
    monkeypatch.setattr(engine, "build", blocking_build(engine, real_flow.store, requested_by))
    with pytest.raises(JobCancelled) as raised:
        real_flow.run()
    job = real_flow.store.job(raised.value.job.id)
    assert (job.state, job.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
    lines = [r.text for r in real_flow.store.logs_before(job.id, None, 50) if r.stream is Stream.SYSTEM]
    by = requested_by or "`cycle job cancel`"
    assert f"job cancelled while PENDING (requested by {by})" in lines, lines
    assert any(line.startswith("build stopped by the cancel") for line in lines), lines
    assert not any("BUILD_FAILED" in line or "exit code 137" in line for line in lines), lines  # no diagnosis
    assert engine.commits == [] and all(c.state == "removed" for c in engine.containers.values())
    assert not [m for m in real_flow.store.machines() if m.job_id is not None], "a machine is still held"
