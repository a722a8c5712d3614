from __future__ import annotations

from collections.abc import Iterator

from emulator.rules.build_plan import CLEAN, HIT, MISS, REBUILD, needs_flatten, plan_build


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
