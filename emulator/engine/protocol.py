"""The one interface the job's stages need from a container engine, so they can be tested
against engine/fake.py and run against engine/docker.py (docker-py).

Containers are named by id (str) so that no caller holds a docker-py object. Every container is
created, never `run()` (that pulls), from an image that must already be in the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from emulator.engine.docker import ContainerSpec


@runtime_checkable
class ContainerRuntime(Protocol):
    def require_image(self, ref: str, what: str, fix: str) -> str:
        """The id of image `ref`; ImageMissing (with `fix`) when it is not in the engine."""

    def create(self, spec: ContainerSpec) -> str:
        """A new container (not started); returns its id."""

    def put_archive(self, container: str, path: str, archive: BinaryIO) -> None:
        """Unpack a tar into the container at `path` (before start)."""

    def start(self, container: str) -> None: ...

    def wait(self, container: str, timeout: float | None = None) -> int:
        """Block until the container exits; its exit code."""

    def oom_killed(self, container: str) -> bool:
        """True when the kernel killed the container for its memory limit."""

    def kill(self, container: str, signal: str = "SIGKILL") -> None: ...

    def stop(self, container: str, timeout: float = 10.0) -> None: ...

    def remove(self, container: str) -> None:
        """Remove it (forced), quietly when it is already gone."""

    def logs(self, container: str, stderr: bool) -> Iterator[tuple[int, str]]:
        """(timestamp ns, line) of one stream, from the start until the container exits."""

    def commit(self, container: str, repository: str, tag: str, changes: list[str]) -> str:
        """Commit the container as repository:tag; the new image's id."""

    def sweep(self, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
        """Remove containers of `home` whose agent is gone; how many."""

    def memory(self) -> int:
        """Total memory of the engine's host, in bytes."""
