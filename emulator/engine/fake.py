"""An in-memory ContainerRuntime for unit tests: no engine, no sleeps.

A test scripts what a container does by its command: `FakeRuntime.script(command, exit_code,
stdout, stderr, oom_killed)`; `start` runs the script at once (the container has exited when
`wait` is asked). Images are named in `images` (ref -> id); a build returns `build_image` (or
raises `build_failure`); `refuse_start` makes every start fail as an engine without the NVIDIA
runtime does. Everything done is kept for assertions, each container with the settings
protocol.container_config gives it (the Engine API create body).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cycle.errors import ImageMissing
from emulator.engine.output import OutputBatch
from emulator.engine.protocol import (
    BuildFailed,
    BuildRequest,
    BuildResult,
    ContainerSpec,
    ContainerState,
    EngineRefused,
    ImageInfo,
    container_config,
)


@dataclass
class Script:
    exit_code: int = 0
    stdout: list[tuple[int, str]] = field(default_factory=list)
    stderr: list[tuple[int, str]] = field(default_factory=list)
    oom_killed: bool = False


@dataclass
class FakeContainer:
    id: str
    spec: ContainerSpec
    host: dict[str, Any]
    state: str = "created"  # created | exited | removed
    archives: list[tuple[str, bytes]] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)


class FakeRuntime:
    def __init__(self, images: dict[str, str] | None = None, memory: int = 8 * 2**30, has_bridge: bool = True) -> None:
        self.images = dict(images or {})
        self.depths: dict[str, int] = {}  # image id -> layers (1 when not given)
        self.labels: dict[str, dict[str, str]] = {}  # image id -> labels (a commit's LABEL changes)
        self.parents: dict[str, str] = {}  # a committed image's id -> the image its container ran
        self.squashed: list[tuple[str, str, dict[str, str]]] = []  # (image, tag, helper's labels) of every squash
        self.containers: dict[str, FakeContainer] = {}
        self.scripts: dict[tuple[str, ...], Script] = {}
        self.commits: list[tuple[str, str, list[str]]] = []
        self.builds: list[BuildRequest] = []
        self.build_image = "cycle/fake:build"
        self.build_failure: BuildFailed | None = None
        self.refuse_start: str | None = None
        self.has_bridge = has_bridge
        self._memory = memory
        self._ids = itertools.count(1)

    def script(self, command: list[str], exit_code: int = 0, stdout: list[str] = (), stderr: list[str] = (),
               oom_killed: bool = False) -> None:
        """What a container started with `command` does."""
        self.scripts[tuple(command)] = Script(exit_code, list(enumerate(stdout)), list(enumerate(stderr)), oom_killed)

    def _script(self, container: str) -> Script:
        return self.scripts.get(tuple(self.containers[container].spec.command), Script())

    def require_image(self, ref: str, what: str, fix: str) -> str:
        if ref not in self.images:
            raise ImageMissing(f"{what} `{ref}` is not in the Docker engine, and cycle never pulls implicitly. {fix}")
        return self.images[ref]

    def image(self, ref: str) -> ImageInfo | None:
        if ref in self.images:
            return ImageInfo(self.images[ref], (ref,), self.labels.get(self.images[ref], {}))
        tags = tuple(tag for tag, image_id in self.images.items() if image_id == ref)
        return ImageInfo(ref, tags, self.labels.get(ref, {})) if tags else None

    def build(self, request: BuildRequest) -> BuildResult:
        self.builds.append(request)
        if self.build_failure is not None:
            raise self.build_failure
        self.images.setdefault(self.build_image, f"sha256:build{len(self.builds)}")
        return BuildResult(self.build_image, "fakekey", cache_hit=False)

    def network(self, requested: str) -> str:
        if requested != "auto":
            return requested
        return "bridge" if self.has_bridge else "host"

    def create(self, spec: ContainerSpec) -> str:
        container_id = f"fake{next(self._ids):08d}"
        self.containers[container_id] = FakeContainer(container_id, spec, container_config(spec))
        return container_id

    def put_archive(self, container: str, path: str, archive: BinaryIO) -> None:
        self.containers[container].archives.append((path, archive.read()))

    def start(self, container: str) -> None:
        if self.refuse_start is not None:
            raise EngineRefused(self.refuse_start)
        self.containers[container].state = "exited"

    def wait(self, container: str, timeout: float | None = None) -> int:
        return self._script(container).exit_code

    def inspect(self, container: str) -> ContainerState:
        found = self.containers[container]
        exit_code = self._script(container).exit_code if found.state == "exited" else None
        return ContainerState(container, found.state, exit_code, self.oom_killed(container), dict(found.spec.labels))

    def oom_killed(self, container: str) -> bool:
        return self._script(container).oom_killed

    def kill(self, container: str, signal: str = "SIGKILL") -> None:
        self.containers[container].signals.append(signal)
        self.containers[container].state = "exited"

    def stop(self, container: str, timeout: float = 10.0) -> None:
        self.kill(container, "SIGTERM")

    def remove(self, container: str) -> None:
        if container in self.containers:
            self.containers[container].state = "removed"

    def remove_labelled(self, labels: dict[str, str]) -> int:
        matching = [c for c in self.containers.values()
                    if c.state != "removed" and labels.items() <= c.spec.labels.items()]
        for container in matching:
            container.state = "removed"
        return len(matching)

    def output(self, container: str) -> Iterator[OutputBatch]:
        """The script's lines, if attached before the start (as the engine's attach with logs=0: a
        container already started printed what no later attach sees)."""
        attached_in_time = self.containers[container].state == "created"
        script = self._script(container)
        batch = [(ts, False, line) for ts, line in script.stdout] + [(ts, True, line) for ts, line in script.stderr]
        return iter([OutputBatch(batch)] if batch and attached_in_time else [])

    def commit(self, container: str, repository: str, tag: str, changes: list[str]) -> str:
        image_id = f"sha256:fake{len(self.commits) + 1}"
        self.commits.append((container, f"{repository}:{tag}", changes))
        self.parents[image_id] = self.containers[container].spec.image
        if repository:
            self.images[f"{repository}:{tag}"] = image_id
        self.labels[image_id] = dict(change[len("LABEL "):].split("=", 1) for change in changes
                                     if change.startswith("LABEL "))
        return image_id

    def image_depth(self, ref: str) -> int:
        """As the engine counts: a commit is one layer on its container's image (`depths` may say otherwise)."""
        image_id = self.images.get(ref, ref)
        if image_id in self.depths:
            return self.depths[image_id]
        parent = self.parents.get(image_id)
        return 1 if parent is None else self.image_depth(parent) + 1

    def squash(self, ref: str, tag: str, labels: dict[str, str]) -> str:
        image_id = f"sha256:squashed{len(self.squashed) + 1}"
        self.squashed.append((ref, tag, dict(labels)))
        self.images[tag] = image_id
        self.labels[image_id] = dict(self.labels.get(ref, {}))
        return image_id

    def sweep(self, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
        left = [c for c in self.containers.values() if c.state != "removed"]
        for container in left:
            container.state = "removed"
            on_orphan(container.spec.labels)
        return len(left)

    def memory(self) -> int:
        return self._memory
