"""The fake engine keeps the protocol, so unit tests of the job's stages can use it."""

from __future__ import annotations

import io

import pytest

from cycle.errors import ImageMissing
from emulator.engine.fake import FakeRuntime
from emulator.engine.protocol import ContainerRuntime, ContainerSpec
from emulator.engine.runtime import DockerRuntime


def test_both_runtimes_keep_the_protocol():
    assert isinstance(FakeRuntime(), ContainerRuntime) and isinstance(DockerRuntime(api=None), ContainerRuntime)


def test_a_scripted_container_runs_and_is_removed():
    engine = FakeRuntime(images={"cycle/base:busybox": "sha256:base"})
    engine.script(["bash", "run.sh"], exit_code=3, stdout=["hello"], oom_killed=False)
    image = engine.require_image("cycle/base:busybox", "base image", "")
    container = engine.create(ContainerSpec(image=image, command=["bash", "run.sh"], labels={"k": "v"}))
    engine.put_archive(container, "/", io.BytesIO(b"tar"))
    output = engine.output(container)  # attached before the start, as the engine needs
    engine.start(container)
    assert engine.wait(container) == 3 and [b.lines for b in output] == [[(0, False, "hello")]]
    assert list(engine.output(container)) == []  # an attach after the start sees nothing printed before it
    engine.remove(container)
    assert engine.sweep(__import__("pathlib").Path("/h"), lambda labels: None) == 0
    with pytest.raises(ImageMissing):
        engine.require_image("ubuntu:24.04", "image", "map one")
