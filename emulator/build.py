"""The incremental build cache, as the platform has it.

key = sha256(build.sh, every build_files file (path and bytes), the base image). A hit reuses the
image labelled with that key and starts no container at all. A miss runs build.sh in a container
started from the project's previous build image (the base image on the first build or with
--clean) with only .cycleswap/ and the build_files in /app, then commits it. --rebuild re-runs
build.sh on top of the previous build image even on a hit.

Traps avoided: the key lives in an image label and build tags are only ever looked up locally
(never pulled); commit chains are flattened before Docker's layer-depth limit (~125). The decision
(hit, miss, rebuild, clean; which parent; flatten or not) is pure: emulator/rules/build_plan.py.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator

from cycle.api.manifest import Manifest
from emulator.context import build_context_files, build_key_and_inputs_for
from emulator.engine import protocol
from emulator.engine.archive import tar_of
from emulator.engine.protocol import BuildFailed, BuildResult, ContainerRuntime, ImageInfo
from emulator.models import Build, now_ns
from emulator.rules.build_plan import MISS, miss_cause, needs_flatten, plan_build
from emulator.settings import load
from emulator.store import StateStore

LABEL_KEY = "cycleswap.build-key"
LABEL_PROJECT = "cycleswap.project"
FLATTEN_ENV = "CYCLE_FLATTEN_DEPTH"
DEFAULT_FLATTEN_DEPTH = 100


MAX_KEPT_BUILD_LINES = 20_000
KEPT_TAIL_LINES = 100


def repository_for(project: str) -> str:
    """A Docker repository name for a project name (lower case, single separators)."""
    slug = re.sub(r"[._-]{2,}", "-", project.lower()).strip("._-") or "project"
    return f"cycle/{slug}"


def flatten_depth() -> int:
    return load().flatten_depth


class Builder:
    """Makes (or finds) the build image of a project, through any ContainerRuntime (the Docker
    engine's in emulator/engine/runtime.py)."""

    def __init__(self, runtime: ContainerRuntime, store: StateStore, labels: dict[str, str],
                 emit: Callable[[str], None]) -> None:
        self.runtime = runtime
        self.store = store
        self.labels = labels
        self.emit = emit

    def ensure(self, manifest: Manifest, base_image: ImageInfo, rebuild: bool = False, clean: bool = False,
               network_mode: str = "auto") -> BuildResult:
        key, inputs = build_key_and_inputs_for(manifest.root, manifest.build_files, manifest.ubuntu_version,
                                               base_image.id)
        tag = f"{repository_for(manifest.name)}:build-{key[:12]}"
        previous: dict[str, ImageInfo] = {}
        plan = plan_build(key, self._cached(tag, key) is not None, self._previous_ids(manifest.name, previous),
                          rebuild=rebuild, clean=clean)
        if not plan.runs_build:
            self.emit(f"{plan.why}: key {key[:12]}, image {tag}; build.sh not run")
            return BuildResult(tag, key, True)
        parent = base_image if plan.parent is None else previous[plan.parent]
        cause = self._miss_cause(manifest.name, inputs) if plan.action == MISS else None
        self.emit(f"{plan.why}: key {key[:12]}" + (f" ({cause})" if cause else "")
                  + f"; running build.sh on {self._describe(parent, base_image)}")
        image = self._run_build(manifest, parent, key, tag, network_mode, inputs)
        return BuildResult(image, key, False)

    def _miss_cause(self, project: str, inputs: dict[str, str]) -> str | None:
        """What changed since the project's newest build ("why did it rebuild?"), from the inputs
        each build records."""
        last = next(iter(self.store.builds(project)), None)
        return miss_cause(inputs, last.key if last else None, last.inputs if last else {})

    def _cached(self, tag: str, key: str) -> ImageInfo | None:
        image = self.runtime.image(tag)
        return image if image is not None and image.labels.get(LABEL_KEY) == key else None

    def _previous_ids(self, project: str, found: dict[str, ImageInfo]) -> Iterator[str]:
        """Ids of the project's earlier build images still in the engine, newest first, looked up
        lazily (the plan takes only the first); each image is kept in `found` by id."""
        for build in self.store.builds(project):
            image = self.runtime.image(build.image_id)
            if image is None:
                continue
            found[image.id] = image
            yield image.id

    @staticmethod
    def _describe(parent: ImageInfo, base_image: ImageInfo) -> str:
        if parent.id == base_image.id:
            return f"the base image {', '.join(base_image.tags) or base_image.short_id}"
        return f"the previous build image {', '.join(parent.tags) or parent.short_id}"

    def _run_build(self, manifest: Manifest, parent: ImageInfo, key: str, tag: str, network_mode: str,
                   inputs: dict[str, str]) -> str:
        network_mode = self.runtime.network(network_mode)
        self.emit(f"build network: {network_mode}"
                  + (" (--network none: build.sh cannot download)" if network_mode == "none" else ""))
        spec = protocol.ContainerSpec(
            image=parent.id,
            command=["bash", ".cycleswap/build.sh"],
            labels={**self.labels, protocol.LABEL_KIND: "build"},
            environment=manifest.container_env(),
            network_mode=network_mode,
            capabilities=protocol.BUILD_CAPABILITIES,
            engine_log=False,  # its output is read by attach (runtime.output); the engine's own log goes unread
        )
        container = self.runtime.create(spec)
        try:
            with tar_of(build_context_files(manifest.root, manifest.build_files), "app") as archive:
                self.runtime.put_archive(container, "/", archive)
            output = self.runtime.output(container)  # attached before the start: no line is missed
            try:
                self.runtime.start(container)
            except BaseException:
                protocol.close_output(output)
                raise
            # Kept to explain a failure: the first lines hold the cause, the last the symptom.
            head: list[str] = []
            tail: deque[str] = deque(maxlen=KEPT_TAIL_LINES)
            for batch in output:
                for _ts, _stderr, line in batch.lines:
                    self.emit(f"[build] {line}")
                    (head if len(head) < MAX_KEPT_BUILD_LINES else tail).append(line)
            exit_code = self.runtime.wait(container)
            if exit_code != 0:
                raise BuildFailed(exit_code, head + list(tail), streamed=True)
            # a commit is one layer on its parent: one that must be flattened is committed untagged,
            # so a flatten interrupted or failed leaves no tagged image a later run would take as a hit
            depth = self.runtime.image_depth(parent.id) + 1
            flatten = needs_flatten(depth, flatten_depth())
            repository, _, version = ("", "", "") if flatten else tag.partition(":")
            image_id = self.runtime.commit(container, repository, version,
                                           [f"LABEL {LABEL_KEY}={key}", f"LABEL {LABEL_PROJECT}={manifest.name}"])
        finally:
            self.runtime.remove(container)
        if flatten:
            self.emit(f"build image has {depth} layers (limit {flatten_depth()}): flattening into one")
            image_id = self.runtime.squash(image_id, tag, {**self.labels, protocol.LABEL_KIND: "flatten"})
            depth = self.runtime.image_depth(image_id)
        self.store.add_build(Build(manifest.name, key, image_id, tag, parent.id, depth, now_ns(), inputs))
        self.emit(f"build image {tag} committed ({depth} layers)")
        return tag
