"""The one interface the job's stages need from a container engine, so they can be tested
against engine/fake.py and run against engine/docker.py (the Engine API, engine/api.py).

Containers and images are named by id (str) and described by the small dataclasses below, so
that no caller holds an engine client's object. Every container is created, never `run()` (that pulls),
from an image that must already be in the engine. This module imports no IO library: the job's
stages (emulator/job/) import it, and an import-linter contract keeps them off the engine client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from cycle.errors import CycleError
from emulator.engine.output import OutputBatch

LABEL = "cycleswap.emulator"
LABEL_HOME = "cycleswap.home"
LABEL_PID = "cycleswap.pid"
LABEL_JOB = "cycleswap.job"
LABEL_KIND = "cycleswap.kind"


def home_label(home: Path) -> str:
    """A short stable tag for an emulator home, so two homes never sweep each other's containers."""
    return hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]


def job_labels(home: Path, job_id: int) -> dict[str, str]:
    """The labels that pick out every container of one job in one emulator home."""
    return {LABEL_JOB: str(job_id), LABEL_HOME: home_label(home)}


def short_id(object_id: str) -> str:
    """The short id Docker shows: 12 characters of a container's id, `sha256:` and 10 of an image's."""
    return object_id[:17] if object_id.startswith("sha256:") else object_id[:12]


# Docker's default capability set (moby's oci/caps/defaults.go), written out because we drop ALL
# and add back only what each kind of container needs.
DOCKER_DEFAULT_CAPABILITIES = (
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)
# A job writes /artifacts, a folder of the host, so it gets only what ordinary work needs: own and
# write any file in the container (CHOWN, DAC_OVERRIDE, FOWNER), signal its processes (KILL), drop
# to another user (SETUID, SETGID), bind low ports. Not MKNOD (device nodes on the host), SETFCAP
# (file capabilities), FSETID (keeping setuid bits on write), NET_RAW, SETPCAP, SYS_CHROOT, AUDIT_WRITE.
JOB_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID")
# A build binds no host folder (its result is the committed image), and package managers need
# most of the default set (dpkg keeps setgid bits: FSETID; apt drops to _apt: SETUID, SETGID);
# no build needs to make device nodes.
BUILD_CAPABILITIES: tuple[str, ...] = tuple(cap for cap in DOCKER_DEFAULT_CAPABILITIES if cap != "MKNOD")
# No process in the container gains privileges through a setuid binary or file capabilities.
SECURITY_OPTIONS = ("no-new-privileges",)


@dataclass
class ContainerSpec:
    """What a job or build container needs; labels always mark it as the emulator's own.
    `gpus`: every GPU of the machine (`docker run --gpus all`). `engine_log`: the engine keeps its
    own log of the output (json-file, for `docker logs`); a job's container goes without, as its
    output reaches the job's log through the attach stream (ContainerRuntime.output), and the
    engine's json log alone costs a job printing 100k lines/s ~3% of its run time."""

    image: str
    command: list[str]
    labels: dict[str, str]
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str = "/app"
    binds: dict[str, dict[str, str]] = field(default_factory=dict)
    network_mode: str = "none"
    mem_limit: int | None = None
    pids_limit: int | None = None
    gpus: bool = False
    capabilities: tuple[str, ...] = JOB_CAPABILITIES
    engine_log: bool = True


def container_config(spec: ContainerSpec, device_requests: list[dict] | None = None) -> dict[str, Any]:
    """The Engine API's create body for `spec` (POST /containers/create), the same for every engine:
    unprivileged, without a TTY (stdout and stderr stay apart), every capability dropped but
    `spec.capabilities`, no new privileges through setuid binaries. `device_requests`: the GPUs
    (engine/gpu.py), only for a spec with `gpus`."""
    host: dict[str, Any] = {
        "Binds": [f"{source}:{bind['bind']}:{bind.get('mode', 'rw')}" for source, bind in spec.binds.items()],
        "NetworkMode": spec.network_mode,
        "Privileged": False,
        "CapDrop": ["ALL"],
        "CapAdd": list(spec.capabilities),
        "SecurityOpt": list(SECURITY_OPTIONS),
    }
    if spec.mem_limit is not None:
        host.update(Memory=spec.mem_limit, MemorySwap=spec.mem_limit)
    if spec.pids_limit is not None:
        host["PidsLimit"] = spec.pids_limit
    if not spec.engine_log:
        host["LogConfig"] = {"Type": "none", "Config": {}}
    if device_requests:
        host["DeviceRequests"] = device_requests
    return {
        "Image": spec.image,
        "Cmd": list(spec.command),
        "Env": [f"{key}={value}" for key, value in spec.environment.items()],
        "WorkingDir": spec.working_dir,
        "Labels": spec.labels,
        "Tty": False,
        "OpenStdin": False,
        "AttachStdin": False,
        "HostConfig": host,
    }


@dataclass(frozen=True)
class ImageInfo:
    """An image in the engine: its id, tags and labels."""

    id: str
    tags: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return short_id(self.id)


@dataclass(frozen=True)
class ContainerState:
    """A container as the engine sees it: running or not, its exit code, whether the kernel
    killed it for its memory limit."""

    id: str
    status: str
    exit_code: int | None
    oom_killed: bool
    labels: dict[str, str] = field(default_factory=dict)


class EngineRefused(Exception):
    """The engine refused a request (e.g. starting a container with GPUs and no NVIDIA runtime);
    the message is the engine's own explanation."""


class BuildFailed(CycleError):
    """build.sh exited non-zero; `output` holds its lines so the failure can be explained
    (emulator.build_diagnosis). `streamed`: every line already went to the job's log as a `[build]`
    event (emulator.build.Builder does so), so the explanation need not repeat the last ones."""

    def __init__(self, exit_code: int, output: list[str] | None = None, streamed: bool = False) -> None:
        super().__init__(f"build.sh failed with exit code {exit_code}; the build output above says why.")
        self.build_exit_code = exit_code
        self.output = output or []
        self.streamed = streamed


@dataclass(frozen=True)
class BuildRequest:
    """What the build stage asks for: the project's build image on top of `base`."""

    manifest: Any  # cycle.api.manifest.Manifest
    base: ImageInfo
    store: Any  # emulator.store.StateStore: the build cache's index of earlier builds
    labels: dict[str, str]
    emit: Callable[[str], None]
    rebuild: bool = False
    clean: bool = False
    network: str = "auto"


@dataclass(frozen=True)
class BuildResult:
    image: str
    key: str
    cache_hit: bool


def close_output(output: Iterator[OutputBatch] | None) -> None:
    """Let go of an output iterator never read to its end (the attach's connection with it)."""
    close = getattr(output, "close", None)
    if close is not None:
        close()


@runtime_checkable
class ContainerRuntime(Protocol):
    def require_image(self, ref: str, what: str, fix: str) -> str:
        """The id of image `ref`; ImageMissing (with `fix`) when it is not in the engine."""

    def image(self, ref: str) -> ImageInfo | None:
        """Image `ref` (a tag or an id), or None when the engine does not have it."""

    def build(self, request: BuildRequest) -> BuildResult:
        """The project's build image, from the build cache or by running build.sh (emulator.build);
        BuildFailed when build.sh fails."""

    def network(self, requested: str) -> str:
        """The network mode for `--network requested` ("auto": the engine's bridge, else the host's)."""

    def create(self, spec: ContainerSpec) -> str:
        """A new container (not started); returns its id."""

    def put_archive(self, container: str, path: str, archive: BinaryIO) -> None:
        """Unpack a tar into the container at `path` (before start)."""

    def start(self, container: str) -> None:
        """Start it; EngineRefused when the engine will not."""

    def wait(self, container: str, timeout: float | None = None) -> int:
        """Block until the container exits; its exit code. After `timeout` seconds (None: no limit)
        the engine's client gives up with its error for an engine that does not answer."""

    def inspect(self, container: str) -> ContainerState:
        """The container's state now."""

    def oom_killed(self, container: str) -> bool:
        """True when the kernel killed the container for its memory limit."""

    def kill(self, container: str, signal: str = "SIGKILL") -> None: ...

    def stop(self, container: str, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""

    def remove(self, container: str) -> None:
        """Remove it (forced), quietly when it is already gone."""

    def remove_labelled(self, labels: dict[str, str]) -> int:
        """Remove (forced) every container carrying all of `labels`; how many. Quiet when the engine
        does not answer: the next `project test` sweeps them, as their agent pid is dead."""

    def output(self, container: str) -> Iterator[OutputBatch]:
        """Attach to the created, not yet started, container: batches (engine/output.py's
        OutputBatch) of everything it prints, as it prints it, until it exits: whole lines as
        (timestamp ns, from stderr, line), the last one even without its newline, and pieces of
        lines not yet whole for a live echo. Call before `start`, so nothing printed is missed;
        the attach is made before this returns. An iterator never read to its end is let go
        with close_output."""

    def commit(self, container: str, repository: str, tag: str, changes: list[str]) -> str:
        """Commit the container as repository:tag (untagged when both are ""); the new image's id."""

    def image_depth(self, ref: str) -> int:
        """How many layers image `ref` has (its history's length)."""

    def squash(self, ref: str, tag: str, labels: dict[str, str]) -> str:
        """Image `ref` as ONE layer tagged `tag`, keeping its env, workdir and labels (a commit
        chain kept under Docker's layer-depth limit); the new image's id. `labels` mark the
        helper container it needs."""

    def sweep(self, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
        """Remove containers of `home` whose agent is gone; how many."""

    def memory(self) -> int:
        """Total memory of the engine's host, in bytes."""
