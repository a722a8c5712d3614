"""The build cache's decision, as pure logic: reuse the cached image, or run build.sh on which parent.

key = sha256(build.sh, build_files, base image). A hit (an image with that key exists) reuses it
and runs nothing. Otherwise build.sh runs on the project's previous build image (the newest one
still present), or on the base image for the first build and with --clean. --rebuild re-runs
build.sh on top of the previous build even on a hit. A committed chain is flattened once it
reaches the depth limit (Docker's layer limit is ~125).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cycle.api.wording import listed

HIT = "hit"
MISS = "miss"
REBUILD = "rebuild"
CLEAN = "clean"
BASE = None  # parent: the base image

# What a build key is made of, by name (build_inputs in emulator/context.py records them with each build)
SCRIPT_INPUT = "build.sh"  # its sha256
FILE_INPUT = "file:"  # + a build_files path: its sha256
UBUNTU_INPUT = "ubuntu_version"  # the value
BASE_IMAGE_INPUT = "base image"  # its id


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


def input_changes(before: Mapping[str, str], now: Mapping[str, str], most: int = 4) -> str:
    """What differs between two builds' key inputs, in a user's words ("build.sh changed, uv.lock
    added"), at most `most` named then how many more: one line. Empty when nothing does."""
    def name(item: str) -> str:
        return item[len(FILE_INPUT):] if item.startswith(FILE_INPUT) else item

    words = []
    for item in [*now, *(item for item in before if item not in now)]:
        if item == UBUNTU_INPUT and before.get(item) != now.get(item):
            words.append(f"ubuntu_version {before.get(item)} -> {now.get(item)}")
        elif item == BASE_IMAGE_INPUT and before.get(item) != now.get(item):
            words.append("the base image changed")
        elif item not in before:
            words.append(f"{name(item)} added")
        elif item not in now:
            words.append(f"{name(item)} removed")
        elif before[item] != now[item]:
            words.append(f"{name(item)} changed")
    return listed(words, most)


def miss_cause(inputs: Mapping[str, str], last_key: str | None, last_inputs: Mapping[str, str]) -> str | None:
    """Why a build missed the cache, told against the project's newest build (`last_key`, None:
    there is none): what changed in the key's inputs since it, or that its image is gone when
    nothing did. None when that build did not record its inputs (an older version made it)."""
    if last_key is None:
        return "the project's first build"
    if not last_inputs:
        return None
    changed = input_changes(last_inputs, inputs)
    if not changed:
        return f"the last build's image (key {last_key[:12]}) is no longer in the engine"
    return f"{changed} since the last build (key {last_key[:12]})"
