"""engine.protocol.ContainerRuntime over the Docker engine (engine/api.py): what the job's stages get.

Containers through engine/docker.py's functions, by id; image builds through emulator.build's
Builder, which drives the engine through this same runtime, behind the one `build` call. A module
of its own so that neither docker.py nor build.py imports the other's user.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from emulator.engine.api import EngineAPI, EngineError
from emulator.engine.docker import (
    attach_output,
    create_container_id,
    engine_memory,
    image_info,
    remove_labelled,
    remove_quietly,
    require_image,
    sweep,
)
from emulator.engine.dockerd import resolve_network
from emulator.engine.output import OutputBatch
from emulator.engine.protocol import (
    BuildRequest,
    BuildResult,
    ContainerSpec,
    ContainerState,
    EngineRefused,
    ImageInfo,
)


def dockerfile_quoted(value: str) -> str:
    """`value` as one Dockerfile word in double quotes: a space, a `$` (which ENV would expand) or a
    quote in a project's env_vars must reach the flattened image as it was."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


class DockerRuntime:
    """engine.protocol.ContainerRuntime over the Engine API: engine/docker.py's functions, by
    container id; image builds by emulator.build.Builder on this runtime, behind `build`."""

    def __init__(self, api: EngineAPI) -> None:
        self.api = api

    def require_image(self, ref: str, what: str, fix: str) -> str:
        return require_image(self.api, ref, what, fix).id

    def image(self, ref: str) -> ImageInfo | None:
        return image_info(self.api, ref)

    def build(self, request: BuildRequest) -> BuildResult:
        from emulator.build import Builder

        builder = Builder(self, request.store, request.labels, request.emit)
        return builder.ensure(request.manifest, request.base, request.rebuild, request.clean, request.network)

    def network(self, requested: str) -> str:
        return resolve_network(self.api, requested)

    def create(self, spec: ContainerSpec) -> str:
        return create_container_id(self.api, spec)

    def put_archive(self, container: str, path: str, archive: BinaryIO) -> None:
        self.api.put_archive(container, path, archive)

    def start(self, container: str) -> None:
        try:
            self.api.start(container)
        except EngineError as error:
            raise EngineRefused(error.explanation) from None

    def wait(self, container: str, timeout: float | None = None) -> int:
        return self.api.wait(container, timeout)

    def inspect(self, container: str) -> ContainerState:
        found = self.api.container(container)
        state = found.get("State") or {}
        running = state.get("Running") or state.get("Status") in ("created", "running")
        return ContainerState(found["Id"], state.get("Status", ""), None if running else state.get("ExitCode"),
                              bool(state.get("OOMKilled")), dict((found.get("Config") or {}).get("Labels") or {}))

    def oom_killed(self, container: str) -> bool:
        return self.inspect(container).oom_killed

    def kill(self, container: str, signal: str = "SIGKILL") -> None:
        self.api.kill(container, signal)

    def stop(self, container: str, timeout: float = 10.0) -> None:
        self.api.stop(container, timeout)

    def remove(self, container: str) -> None:
        remove_quietly(self.api, container)

    def remove_labelled(self, labels: dict[str, str]) -> int:
        return remove_labelled(self.api, labels)

    def output(self, container: str) -> Iterator[OutputBatch]:
        return attach_output(self.api, container)

    def commit(self, container: str, repository: str, tag: str, changes: list[str]) -> str:
        return self.api.commit(container, repository, tag, changes)

    def image_depth(self, ref: str) -> int:
        return len(self.api.image_history(ref))

    def squash(self, ref: str, tag: str, labels: dict[str, str]) -> str:
        """Image `ref` as ONE layer tagged `tag` (export + import), keeping its env, workdir and labels."""
        config = self.api.image(ref).get("Config") or {}
        changes = [f"ENV {name}={dockerfile_quoted(value)}"
                   for name, _, value in (entry.partition("=") for entry in config.get("Env") or [])]
        changes += [f"LABEL {k}={dockerfile_quoted(v)}" for k, v in (config.get("Labels") or {}).items()]
        changes.append(f"WORKDIR {config.get('WorkingDir') or '/'}")
        container = self.create(ContainerSpec(image=ref, command=["true"], labels=labels, working_dir="/"))
        try:
            with tempfile.TemporaryFile() as flat:
                with self.api.export(container) as exported:
                    while chunk := exported.read(1 << 20):
                        flat.write(chunk)
                flat.seek(0)
                repository, _, version = tag.partition(":")
                self.api.import_image(flat, repository, version, changes)
        finally:
            self.remove(container)
        return self.api.image(tag)["Id"]

    def sweep(self, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
        return sweep(self.api, home, on_orphan)

    def memory(self) -> int:
        return engine_memory(self.api)
