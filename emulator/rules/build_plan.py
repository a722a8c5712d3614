"""The build cache's decision, as pure logic: reuse the cached image, or run build.sh on which parent.

key = sha256(build.sh, build_files, base image). A hit (an image with that key exists) reuses it
and runs nothing. Otherwise build.sh runs on the project's previous build image (the newest one
still present), or on the base image for the first build and with --clean. --rebuild re-runs
build.sh on top of the previous build even on a hit. A committed chain is flattened once it
reaches the depth limit (Docker's layer limit is ~125).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HIT = "hit"
MISS = "miss"
REBUILD = "rebuild"
CLEAN = "clean"
BASE = None  # parent: the base image


@dataclass(frozen=True)
class BuildPlan:
    """What to do for one build: `action` (hit, miss, rebuild or clean), the parent image to run
    build.sh on (an earlier build's image id; None: the base image), and the words that say why."""

    action: str
    key: str
    parent: str | None

    @property
    def runs_build(self) -> bool:
        return self.action != HIT

    @property
    def why(self) -> str:
        return {HIT: "build cache hit", MISS: "build cache miss", REBUILD: "--rebuild", CLEAN: "--clean"}[self.action]


def plan_build(key: str, cached: bool, previous_images: Iterable[str], rebuild: bool = False,
               clean: bool = False) -> BuildPlan:
    """The plan for a build with `key`. `cached`: an image labelled with this key exists;
    `previous_images`: ids of the project's earlier build images still present, newest first (read
    lazily: only the first is taken, and none with --clean)."""
    if cached and not (rebuild or clean):
        return BuildPlan(HIT, key, None)
    if clean:
        return BuildPlan(CLEAN, key, BASE)
    parent = next(iter(previous_images), BASE)
    return BuildPlan(REBUILD if rebuild and cached else MISS, key, parent)


def needs_flatten(depth: int, limit: int) -> bool:
    """True when a committed image of `depth` layers must be squashed into one."""
    return depth >= limit
