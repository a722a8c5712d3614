"""The build cache (emulator/build.py's Builder) on the in-memory engine: Builder drives any
ContainerRuntime, so a miss, a hit, a failure and a flatten are checked here without Docker;
tests/integration/test_project_docker.py runs the same on the real engine."""

from __future__ import annotations

import tarfile

import pytest

from cycle.api.manifest import init_project, load_manifest
from emulator.build import LABEL_KEY, LABEL_PROJECT, Builder
from emulator.engine.fake import FakeRuntime
from emulator.engine.protocol import BUILD_CAPABILITIES, BuildFailed
from emulator.store import StateStore

BUILD_SH = ("bash", ".cycleswap/build.sh")


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_FLATTEN_DEPTH", "3")
    init_project(tmp_path / "proj", name="cache-demo")
    engine = FakeRuntime(images={"cycle/base:busybox": "sha256:base"})
    store = StateStore(tmp_path / "state.db")
    said: list[str] = []
    builder = Builder(engine, store, {"cycleswap.emulator": "1"}, said.append)
    return engine, store, builder, said, load_manifest(tmp_path / "proj")


def build_containers(engine):
    return [c for c in engine.containers.values() if tuple(c.spec.command) == BUILD_SH]


def test_a_miss_runs_build_sh_and_commits_then_the_same_inputs_hit_without_a_container(setup):
    engine, store, builder, said, manifest = setup
    engine.script(list(BUILD_SH), stdout=["installing", "done"])
    base = engine.image("cycle/base:busybox")
    first = builder.ensure(manifest, base, network_mode="none")
    (made,) = build_containers(engine)
    assert not first.cache_hit and made.state == "removed" and made.spec.image == "sha256:base"
    assert made.spec.capabilities == BUILD_CAPABILITIES and made.host["HostConfig"]["NetworkMode"] == "none"
    path, archive = made.archives[0]
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        assert path == "/" and "app/.cycleswap/build.sh" in tar.getnames()
    assert "[build] installing" in said and "[build] done" in said  # its output, read by attach
    assert engine.image(first.image).labels == {LABEL_KEY: first.key, LABEL_PROJECT: "cache-demo"}
    assert [b.key for b in store.builds("cache-demo")] == [first.key]

    second = builder.ensure(manifest, base)
    assert second.cache_hit and second.image == first.image and len(build_containers(engine)) == 1


def test_a_changed_build_sh_builds_on_the_previous_image_and_clean_on_the_base(setup):
    engine, store, builder, _said, manifest = setup
    base = engine.image("cycle/base:busybox")
    build_sh = manifest.root / ".cycleswap" / "build.sh"
    first = builder.ensure(manifest, base)
    build_sh.write_text("echo changed\n")
    second = builder.ensure(manifest, base)
    build_sh.write_text("echo changed again\n")
    builder.ensure(manifest, base, clean=True)
    parents = [c.spec.image for c in build_containers(engine)]
    assert second.key != first.key and parents == ["sha256:base", engine.images[first.image], "sha256:base"]


def test_an_image_with_the_tag_but_another_key_is_no_hit(setup):
    engine, _store, builder, _said, manifest = setup
    base = engine.image("cycle/base:busybox")
    built = builder.ensure(manifest, base)
    engine.labels[engine.images[built.image]][LABEL_KEY] = "someone-else"
    assert not builder.ensure(manifest, base).cache_hit


def test_a_failing_build_sh_keeps_its_output_and_removes_the_container(setup):
    engine, store, builder, _said, manifest = setup
    engine.script(list(BUILD_SH), exit_code=7, stderr=["E: Unable to locate package nope"])
    with pytest.raises(BuildFailed) as failed:
        builder.ensure(manifest, engine.image("cycle/base:busybox"))
    assert failed.value.build_exit_code == 7 and failed.value.output == ["E: Unable to locate package nope"]
    assert [c.state for c in build_containers(engine)] == ["removed"] and list(store.builds("cache-demo")) == []


def test_a_commit_chain_at_the_depth_limit_is_squashed_into_one_layer(setup):
    engine, store, builder, said, manifest = setup
    base = engine.image("cycle/base:busybox")
    engine.depths["sha256:base"] = 2  # its commits have 3 layers: CYCLE_FLATTEN_DEPTH=3
    built = builder.ensure(manifest, base)
    ((squashed, tag, helper_labels),) = engine.squashed
    assert (squashed, tag) == ("sha256:fake1", built.image)  # the commit, squashed under the build's tag
    assert engine.commits[0][1] == ":"  # committed untagged: the tag names only the flattened image
    assert helper_labels == {"cycleswap.emulator": "1", "cycleswap.kind": "flatten"}  # the sweep finds its helper
    assert any("build image has 3 layers (limit 3): flattening into one" in line for line in said)
    (record,) = store.builds("cache-demo")
    assert record.image_id.startswith("sha256:squashed") and record.depth == 1
    assert engine.image(built.image).labels[LABEL_KEY] == built.key  # the squash keeps the key


def test_a_flatten_cut_short_leaves_no_image_a_later_run_would_take_as_a_hit(setup):
    engine, store, builder, _said, manifest = setup
    base = engine.image("cycle/base:busybox")
    engine.depths["sha256:base"] = 2

    def interrupted(ref, tag, labels):
        raise KeyboardInterrupt  # Ctrl-C while the image is exported and imported

    engine.squash = interrupted
    with pytest.raises(KeyboardInterrupt):
        builder.ensure(manifest, base)
    assert list(store.builds("cache-demo")) == []
    del engine.squash  # the engine's own again
    again = builder.ensure(manifest, base)
    assert not again.cache_hit and len(engine.squashed) == 1  # built again, not the unflattened image reused
