"""engine.protocol.ContainerRuntime over docker-py (the Docker engine): what the job's stages get.

Containers through engine/docker.py's functions, by id; image builds through emulator.build's
Builder (docker-py too: image lookups by label, history, export/import), behind the one `build`
call. A module of its own so that neither docker.py nor build.py imports the other's user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from docker.errors import APIError, ImageNotFound, NotFound

from emulator.build import Builder
from emulator.engine.docker import (
    attach_output,
    create_container_id,
    engine_memory,
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


class DockerRuntime:
    """engine.protocol.ContainerRuntime over docker-py: engine/docker.py's functions, by container
    id; image builds stay with emulator.build.Builder (docker-py too), behind `build`."""

    def __init__(self, client) -> None:
        self.client = client

    def require_image(self, ref: str, what: str, fix: str) -> str:
        return require_image(self.client, ref, what, fix).id

    def image(self, ref: str) -> ImageInfo | None:
        try:
            image = self.client.images.get(ref)
        except ImageNotFound:
            return None
        return ImageInfo(image.id, tuple(image.tags), dict(image.labels or {}))

    def build(self, request: BuildRequest) -> BuildResult:
        builder = Builder(self.client, request.store, request.labels, request.emit)
        return builder.ensure(request.manifest, request.base, request.rebuild, request.clean, request.network)

    def network(self, requested: str) -> str:
        return resolve_network(self.client, requested)

    def create(self, spec: ContainerSpec) -> str:
        return create_container_id(self.client, spec)

    def _get(self, container: str):
        """The container as the engine describes it now (one round trip): for its state and labels."""
        return self.client.containers.get(container)

    def _handle(self, container: str):
        """The container by id, without asking the engine: every call below needs only the id, and a
        read-back before each would add a round trip to every step of a job (a missing container
        still raises NotFound, from the call itself)."""
        return self.client.containers.prepare_model({"Id": container})

    def put_archive(self, container: str, path: str, archive) -> None:
        self._handle(container).put_archive(path, archive)

    def start(self, container: str) -> None:
        try:
            self._handle(container).start()
        except APIError as error:
            raise EngineRefused(str(error.explanation or error)) from None

    def wait(self, container: str, timeout: float | None = None) -> int:
        return int(self._handle(container).wait(timeout=timeout).get("StatusCode", 1))

    def inspect(self, container: str) -> ContainerState:
        found = self._get(container)
        state = found.attrs.get("State", {})
        running = state.get("Running") or state.get("Status") in ("created", "running")
        return ContainerState(found.id, state.get("Status", found.status), None if running else state.get("ExitCode"),
                              bool(state.get("OOMKilled")), dict(found.labels or {}))

    def oom_killed(self, container: str) -> bool:
        return self.inspect(container).oom_killed

    def kill(self, container: str, signal: str = "SIGKILL") -> None:
        self._handle(container).kill(signal=signal)

    def stop(self, container: str, timeout: float = 10.0) -> None:
        self._handle(container).stop(timeout=timeout)

    def remove(self, container: str) -> None:
        try:
            remove_quietly(self._handle(container))
        except NotFound:
            pass

    def remove_labelled(self, labels: dict[str, str]) -> int:
        return remove_labelled(self.client, labels)

    def output(self, container: str) -> Iterator[OutputBatch]:
        return attach_output(self.client, container)

    def commit(self, container: str, repository: str, tag: str, changes: list[str]) -> str:
        return self._handle(container).commit(repository=repository, tag=tag, changes=changes).id

    def sweep(self, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
        return sweep(self.client, home, on_orphan)

    def memory(self) -> int:
        return engine_memory(self.client)
