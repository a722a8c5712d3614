"""The runner chains the job's stages in order and always cleans up: fakes for every stage and
the in-memory engine (engine.fake.FakeRuntime), a real sqlite store in a temporary folder, no
Docker. The last tests run the real stages against FakeRuntime."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from cycle.errors import JobCancelled
from emulator.engine.fake import FakeRuntime
from emulator.engine.protocol import ContainerSpec
from emulator.job import build, container, finish, logs, machine, prepare
from emulator.job.context import RunOptions, Stay
from emulator.job.move import RecoveryStrategy
from emulator.job.runner import JobRunner
from emulator.models import JobState, Stream
from emulator.rules.moves import MoveRequest
from emulator.settings import Settings
from emulator.store import StateStore

REAL_CLAIM = machine.claim  # the fixture replaces it with a fake


class FakePipeline:
    def __init__(self) -> None:
        self.abandoned = False

    def abandon(self):
        self.abandoned = True
        return SimpleNamespace(abandoned=[])


@pytest.fixture
def fake_flow(tmp_path, monkeypatch):
    """A runner whose stages are fakes that note their names in `flow.steps`; set
    `flow.fail_in` to a stage name to make it raise, `flow.moves` to how many moves the pump asks for."""
    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(["local-0", "local-1"], None)
    flow = SimpleNamespace(steps=[], fail_in=None, moves=0, stays=[], store=store, engine=FakeRuntime())

    def step(name):
        flow.steps.append(name)
        if flow.fail_in == name:
            raise flow.error

    def claim(ctx, prefer=None, exclude=None):
        step("claim")
        return store.claim_machine(ctx.job.id, prefer=prefer, exclude=exclude, agent_pid=os.getpid()).name

    def start_stay(ctx, on, restored):
        step("start")
        started = flow.engine.create(ContainerSpec(image="i", command=["run"], labels=dict(ctx.labels)))
        flow.engine.start(started)
        stay = Stay(on, started, FakePipeline(), 0.0)
        flow.stays.append(stay)
        return stay

    def pump(ctx, stay):
        step("pump")
        if flow.moves:
            flow.moves -= 1
            return MoveRequest("requested by `cycle job reassign`", None, None)
        return None

    def recover(self, request):
        step("move")
        old = self.ctx.stay.machine
        self.ctx.stay = None
        self.ctx.store.release_machine(old, self.ctx.job.id)
        self.ctx.stay = start_stay(self.ctx, machine.claim(self.ctx, None, old), {})
        return None

    def finish_stage(ctx):
        step("finish")
        return ctx.end(JobState.FINISHED, reason=None, exit_code=0)

    monkeypatch.setattr(prepare, "announce", lambda ctx: step("prepare"))
    monkeypatch.setattr(build, "build_image", lambda ctx: step("build"))
    monkeypatch.setattr(machine, "claim_first", lambda ctx: claim(ctx))
    monkeypatch.setattr(machine, "claim", claim)
    monkeypatch.setattr(container, "start_stay", start_stay)
    monkeypatch.setattr(logs, "pump", pump)
    monkeypatch.setattr(RecoveryStrategy, "recover", recover)
    monkeypatch.setattr(finish, "finish", finish_stage)
    monkeypatch.setattr(finish, "tell", lambda ctx, ended: step("tell"))
    flow.runner = JobRunner(tmp_path, store, flow.engine, lambda *record: None, blobs=None,
                            settings=Settings(machines=2))
    manifest = SimpleNamespace(name="p", root=tmp_path, cuda=None)
    flow.run = lambda: flow.runner.run(manifest, None, None, RunOptions())
    return flow


def removed(flow, stay) -> bool:
    return flow.engine.containers[stay.container].state == "removed"


def held(store):
    return [m.name for m in store.machines() if m.job_id is not None]


def system_texts(store, job_id):
    return [r.text for r in store.logs(job_id) if r.stream is Stream.SYSTEM]


def test_the_stages_run_in_flow_order_and_the_clean_up_frees_the_machine(fake_flow):
    fake_flow.moves = 1
    ended = fake_flow.run()
    assert fake_flow.steps == ["prepare", "build", "claim", "start", "pump", "move", "claim", "start", "pump",
                               "finish", "tell"]
    assert ended.state is JobState.FINISHED
    assert held(fake_flow.store) == []
    assert removed(fake_flow, fake_flow.stays[-1]) and fake_flow.stays[-1].pipeline.abandoned


def test_a_stage_that_raises_ends_the_job_failed_agent_error_after_the_clean_up(fake_flow):
    fake_flow.fail_in, fake_flow.error = "pump", RuntimeError("the pump broke")
    ended = fake_flow.run()
    assert (ended.state, ended.reason) == (JobState.FAILED, "AGENT_ERROR")
    assert fake_flow.steps[-1] == "tell" and "finish" not in fake_flow.steps
    assert held(fake_flow.store) == []
    assert removed(fake_flow, fake_flow.stays[0])
    texts = system_texts(fake_flow.store, ended.id)
    assert any("the agent hit an error: RuntimeError: the pump broke" in t for t in texts)


def test_a_stage_that_ends_the_job_stops_the_chain(fake_flow, monkeypatch):
    monkeypatch.setattr(build, "build_image", lambda ctx: ctx.end(JobState.FAILED, reason="BUILD_FAILED", exit_code=1))
    ended = fake_flow.run()
    assert (ended.state, ended.reason) == (JobState.FAILED, "BUILD_FAILED")
    assert fake_flow.steps == ["prepare", "tell"]


def test_an_interrupt_cancels_the_job_and_frees_its_machine(fake_flow):
    fake_flow.fail_in, fake_flow.error = "pump", KeyboardInterrupt()
    with pytest.raises(JobCancelled) as raised:
        fake_flow.run()
    job = fake_flow.store.job(raised.value.job.id)
    assert (job.state, job.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
    assert held(fake_flow.store) == [] and removed(fake_flow, fake_flow.stays[0])


def test_a_cancel_request_reaches_the_running_job_through_the_requests_table(fake_flow, monkeypatch):
    """The real pump's request check: `cycle job cancel` writes a row, the agent takes it and cancels."""

    def pump(ctx, stay):
        fake_flow.steps.append("pump")
        ctx.store.request_cancel(ctx.job.id)
        return logs.next_request(ctx, stay)

    monkeypatch.setattr(logs, "pump", pump)
    with pytest.raises(JobCancelled) as raised:
        fake_flow.run()
    job = fake_flow.store.job(raised.value.job.id)
    assert (job.state, job.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
    assert held(fake_flow.store) == []
    assert fake_flow.store.take_request(job.id) is None  # taken, once
    # cancelled elsewhere, not interrupted: exit 1 and a message naming who cancelled (README "Exit codes")
    assert raised.value.exit_code == 1
    assert "CANCELLED by `cycle job cancel`" in raised.value.message and "Ctrl-C" not in raised.value.message


def test_ctrl_c_still_exits_130_and_says_so(fake_flow):
    fake_flow.fail_in, fake_flow.error = "pump", KeyboardInterrupt()
    with pytest.raises(JobCancelled) as raised:
        fake_flow.run()
    assert raised.value.exit_code == 130 and "CANCELLED (Ctrl-C)" in raised.value.message


def test_a_cancel_request_ends_the_wait_for_a_machine(fake_flow, monkeypatch):
    """A job waiting PENDING for a free machine hears the cancel too (the real claim loop)."""
    other = fake_flow.store.create_job("q", agent_pid=os.getpid())
    for _ in range(2):
        fake_flow.store.claim_machine(other.id, agent_pid=os.getpid())  # both machines taken

    def claim_first(ctx):
        fake_flow.steps.append("claim")
        ctx.store.request_cancel(ctx.job.id)
        return REAL_CLAIM(ctx, exclude=None)

    monkeypatch.setattr(machine, "claim_first", claim_first)
    monkeypatch.setattr("emulator.engine.gpu.machine_cuda", lambda: (None, "test"))
    waits = []

    def sleep(seconds):  # a bounded wait: a claim loop deaf to the request fails the test instead of hanging
        waits.append(seconds)
        assert len(waits) < 20, "the wait for a machine never heard the cancel request"

    monkeypatch.setattr(machine.time, "sleep", sleep)
    with pytest.raises(JobCancelled) as raised:
        fake_flow.run()
    assert fake_flow.store.job(raised.value.job.id).state is JobState.CANCELLED
    assert sorted(held(fake_flow.store)) == ["local-0", "local-1"]  # the other job's, untouched


# The real stages, chained by the real runner, against the in-memory engine.

RUN_SH = ["bash", ".cycleswap/run.sh"]


@pytest.fixture
def real_flow(tmp_path, monkeypatch):
    """A real runner over FakeRuntime: a project made by `cycle project init`, a local blob store,
    two machines without a GPU; `flow.run(options)` runs the job and returns it ended."""
    import io
    import tarfile

    from cycle.api.manifest import init_project, load_manifest
    from emulator.blobs import LocalStore
    from emulator.config import ImageChoice

    monkeypatch.setattr("emulator.engine.gpu.machine_cuda", lambda: (None, "test"))
    init_project(tmp_path / "proj")
    home = tmp_path / "home"
    home.mkdir()
    store = StateStore(home / "state.db")
    engine = FakeRuntime(images={"cycle/base:busybox": "sha256:base"}, memory=2**30)
    runner = JobRunner(home, store, engine, lambda *record: None, LocalStore(home / "storage"),
                       settings=Settings(machines=2))
    manifest = load_manifest(tmp_path / "proj")
    base = ImageChoice(manifest.ubuntu_version, "cycle/base:busybox", "test")

    def run(options=RunOptions()):
        return runner.run(manifest, base, engine.image("cycle/base:busybox"), options)

    def archive_names(container):
        (path, data), = container.archives
        return path, tarfile.open(fileobj=io.BytesIO(data)).getnames()

    return SimpleNamespace(engine=engine, store=store, home=home, run=run, archive_names=archive_names)


def test_the_real_stages_run_a_job_on_the_fake_engine(real_flow):
    engine = real_flow.engine
    engine.script(RUN_SH, exit_code=3, stdout=["hello", "world"], stderr=["oops"])
    ended = real_flow.run()

    (request,) = engine.builds  # the build stage asked the runtime for the image, on the base image
    assert request.base.id == "sha256:base" and not request.rebuild
    (job_container,) = engine.containers.values()
    spec, config = job_container.spec, job_container.host  # the Engine API's create body
    host = config["HostConfig"]
    assert spec.image == engine.build_image and spec.command == RUN_SH
    assert config["Image"] == spec.image and config["Cmd"] == RUN_SH and config["WorkingDir"] == "/app"
    assert spec.labels["cycleswap.job"] == str(ended.id) and spec.labels["cycleswap.kind"] == "job"
    assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"]) == sorted(
        ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"))
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["Privileged"] is False and config["Tty"] is False
    assert host["NetworkMode"] == "bridge"  # --network auto on an engine with its bridge
    artifacts = real_flow.home / "machines" / ended.machine / "artifacts" / ended.name
    assert host["Binds"] == [f"{artifacts}:/artifacts:rw"]
    assert host["Memory"] == host["MemorySwap"] == int(2**30 * 0.9) and host["PidsLimit"] == 4096
    assert "DeviceRequests" not in host and not spec.gpus
    path, names = real_flow.archive_names(job_container)
    assert path == "/" and "app/.cycleswap/run.sh" in names

    logs = [(r.stream, r.text) for r in real_flow.store.logs(ended.id) if r.stream is not Stream.SYSTEM]
    assert sorted(logs) == sorted([(Stream.STDOUT, "hello"), (Stream.STDOUT, "world"), (Stream.STDERR, "oops")])
    assert (ended.state, ended.reason, ended.exit_code) == (JobState.FAILED, "EXIT_CODE_3", 3)
    assert job_container.state == "removed" and held(real_flow.store) == []
    assert any(f"(container {job_container.id[:12]}, image {engine.build_image})" in text
               for text in system_texts(real_flow.store, ended.id))


def test_an_oom_kill_on_the_fake_engine_ends_the_job_out_of_memory(real_flow):
    real_flow.engine.script(RUN_SH, exit_code=137, oom_killed=True)
    ended = real_flow.run()
    assert (ended.state, ended.reason, ended.exit_code) == (JobState.FAILED, "OUT_OF_MEMORY", 137)
    assert any("out of memory" in text for text in system_texts(real_flow.store, ended.id))


def test_an_engine_that_refuses_the_start_fails_the_job_and_removes_the_container(real_flow):
    real_flow.engine.refuse_start = "could not select device driver \"\" with capabilities: [[gpu]]"
    ended = real_flow.run(RunOptions(network="none", skip_limits=True))
    assert (ended.state, ended.reason) == (JobState.FAILED, "START_FAILED")
    (job_container,) = real_flow.engine.containers.values()
    assert job_container.state == "removed" and held(real_flow.store) == []
    host = job_container.host["HostConfig"]
    assert host["NetworkMode"] == "none" and "Memory" not in host and "PidsLimit" not in host
    assert any("could not start the container (could not select device driver" in text
               for text in system_texts(real_flow.store, ended.id))


def test_a_failed_build_on_the_fake_engine_ends_the_job_build_failed_without_a_container(real_flow):
    from emulator.engine.protocol import BuildFailed

    real_flow.engine.build_failure = BuildFailed(2, ["E: Unable to locate package nope"])
    ended = real_flow.run()
    assert (ended.state, ended.reason, ended.exit_code) == (JobState.FAILED, "BUILD_FAILED", 2)
    assert real_flow.engine.containers == {} and held(real_flow.store) == []


def artifact_threads() -> list[str]:
    import threading

    return [thread.name for thread in threading.enumerate() if thread.name.startswith("artifacts-")]


def test_a_watcher_that_cannot_start_while_the_container_is_created_fails_the_job_and_removes_it(
        real_flow, monkeypatch):
    from emulator.artifacts import ArtifactPipeline

    def refuse(pipeline):
        raise OSError(5, "the watcher could not start")

    monkeypatch.setattr(ArtifactPipeline, "start", refuse)
    ended = real_flow.run()
    assert (ended.state, ended.reason) == (JobState.FAILED, "AGENT_ERROR")
    (job_container,) = real_flow.engine.containers.values()
    assert job_container.state == "removed" and held(real_flow.store) == []


def test_a_copy_in_that_fails_while_the_watcher_starts_stops_the_watcher_and_removes_the_container(
        real_flow, monkeypatch):
    def refuse(container, path, archive):
        raise OSError(28, "no space left on device")

    monkeypatch.setattr(real_flow.engine, "put_archive", refuse)
    ended = real_flow.run()
    assert (ended.state, ended.reason) == (JobState.FAILED, "AGENT_ERROR")
    (job_container,) = real_flow.engine.containers.values()
    assert job_container.state == "removed" and held(real_flow.store) == []
    assert artifact_threads() == []  # the watcher started beside the create did not outlive the job


def test_a_job_cancelled_before_it_ran_is_not_said_to_have_had_its_container_removed(tmp_path):
    """Cancelled while it waited for a machine, a job never had a container to remove."""
    from dataclasses import replace

    from cycle.errors import JobCancelled
    from emulator.store import StateStore

    waiting = StateStore(tmp_path / "state.db").create_job("p")
    assert JobCancelled(waiting).message == f"job {waiting.name}: CANCELLED (Ctrl-C); it had not started running."
    ran = replace(waiting, started_ns=1)
    assert JobCancelled(ran, "`cycle job cancel`").message == (
        f"job {waiting.name}: CANCELLED by `cycle job cancel`; its container was removed.")
