from __future__ import annotations

from collections.abc import Iterator

from emulator.rules.build_plan import (
    BASE_IMAGE_INPUT,
    CLEAN,
    FILE_INPUT,
    HIT,
    MISS,
    REBUILD,
    SCRIPT_INPUT,
    UBUNTU_INPUT,
    input_changes,
    miss_cause,
    needs_flatten,
    plan_build,
)


class Lookups:
    """Earlier build images, counting how many the plan looked up (each is an engine call)."""

    def __init__(self, *ids: str) -> None:
        self.ids, self.asked = ids, 0

    def __iter__(self) -> Iterator[str]:
        for image_id in self.ids:
            self.asked += 1
            yield image_id


def test_hit_runs_nothing_and_looks_up_no_parent():
    previous = Lookups("sha256:b2", "sha256:b1")
    plan = plan_build("k", cached=True, previous_images=previous)
    assert (plan.action, plan.runs_build, plan.why) == (HIT, False, "build cache hit") and previous.asked == 0


def test_miss_builds_on_the_newest_previous_image_else_the_base():
    previous = Lookups("sha256:b2", "sha256:b1")
    plan = plan_build("k", cached=False, previous_images=previous)
    assert (plan.action, plan.parent, previous.asked) == (MISS, "sha256:b2", 1)
    assert plan_build("k", cached=False, previous_images=[]).parent is None


def test_rebuild_and_clean():
    rebuild = plan_build("k", cached=True, previous_images=["sha256:b2"], rebuild=True)
    assert (rebuild.action, rebuild.parent, rebuild.why) == (REBUILD, "sha256:b2", "--rebuild")
    assert plan_build("k", cached=False, previous_images=[], rebuild=True).why == "build cache miss"
    previous = Lookups("sha256:b2")
    clean = plan_build("k", cached=True, previous_images=previous, clean=True, rebuild=True)
    assert (clean.action, clean.parent, clean.why, previous.asked) == (CLEAN, None, "--clean", 0)


def test_flatten_at_the_depth_limit():
    assert not needs_flatten(99, 100) and needs_flatten(100, 100) and needs_flatten(3, 3)


def inputs(script="s1", ubuntu="24.04", base="sha256:b", **files):
    """A build's key inputs as context.build_inputs records them (files by keyword: uv_lock="…")."""
    return {SCRIPT_INPUT: script, **{FILE_INPUT + name.replace("_", "."): digest for name, digest in files.items()},
            UBUNTU_INPUT: ubuntu, BASE_IMAGE_INPUT: base}


def test_a_miss_names_what_changed_since_the_last_build():
    """A cache miss did not say which build file changed ("why did it rebuild?")."""
    last = inputs(pyproject_toml="p1")
    assert miss_cause(inputs(script="s2", pyproject_toml="p1"), "abcdef1234567890", last) == \
        "build.sh changed since the last build (key abcdef123456)"
    assert miss_cause(inputs(pyproject_toml="p2", uv_lock="u1"), "k" * 64, last).startswith(
        "pyproject.toml changed, uv.lock added since")
    assert miss_cause(inputs(), "k" * 64, last).startswith("pyproject.toml removed since")
    assert miss_cause(inputs(ubuntu="22.04", base="sha256:c", pyproject_toml="p1"), "k" * 64, last).startswith(
        "ubuntu_version 24.04 -> 22.04, the base image changed since")


def test_a_miss_with_nothing_changed_first_build_or_unrecorded_inputs():
    assert miss_cause(inputs(), None, {}) == "the project's first build"
    gone = miss_cause(inputs(), "k" * 64, inputs())
    assert gone == f"the last build's image (key {'k' * 12}) is no longer in the engine"
    assert miss_cause(inputs(), "k" * 64, {}) is None  # an older version made it: nothing to compare with


def test_many_changes_stay_one_short_line():
    many = input_changes(inputs(), inputs(script="s2", a="1", b="2", c="3", d="4"))
    assert many == "build.sh changed, a added, b added, c added and 1 more"
