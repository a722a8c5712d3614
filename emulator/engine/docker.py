"""The Docker engine, through engine/api.py (the Engine API over its socket, standard library only).

Thin on purpose: containers, archives, output streams and the sweep of leftovers. Two rules from
other tools' issue trackers live here: never pull implicitly (a missing image is an error that
says how to get it; `docker run` and docker-py's containers.run() pull behind your back), and
never allocate a TTY, so stdout and stderr stay apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cycle.errors import BadInput, EngineUnavailable, ImageMissing
from emulator.engine.api import EngineAPI, EngineError, NotFound, UnsupportedHost
from emulator.engine.output import FrameReader, LineSplitter, OutputBatch
from emulator.engine.protocol import (
    LABEL,
    LABEL_HOME,
    LABEL_PID,
    ContainerSpec,
    ImageInfo,
    container_config,
    home_label,
)
from emulator.pids import pid_alive

READ_SIZE = 64 * 1024


def connect() -> EngineAPI:
    """A client of an engine that answers (one ping), or a clear error saying how to get one."""
    try:
        api = EngineAPI()
        api.ping()
    except UnsupportedHost:
        raise  # its own paragraph: which DOCKER_HOST cycle can use
    except EngineError as error:
        if os.environ.get("DOCKER_HOST"):
            raise EngineUnavailable(
                f"No Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']} ({_first_line(error)}). Start "
                "the engine it names, or unset DOCKER_HOST to use the one on /var/run/docker.sock "
                "(`cycle emulator engine start` starts that one).") from None
        raise EngineUnavailable(
            f"No Docker engine answers ({_first_line(error)}). Start one with `cycle emulator engine start` "
            "(as root it installs Debian's docker.io when needed and starts dockerd), or run ./scripts/setup.sh. "
            "On a laptop, start Docker Desktop or the docker service."
        ) from None
    return api


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__


def image_info(api: EngineAPI, ref: str) -> ImageInfo | None:
    """Image `ref` (a tag or an id) as the engine describes it, or None when it has no such image."""
    try:
        found = api.image(ref)
    except NotFound:
        return None
    except EngineError as error:
        if error.status in (400, 301):  # "invalid reference format", or a name with ".." the engine redirects
            raise BadInput(f"`{ref}` is not an image reference the Docker engine accepts ({error.explanation}): a "
                           "reference is a lower-case name with an optional :tag (cycle/base:bookworm, ubuntu:24.04) "
                           "or an image id.") from None
        raise
    tags = tuple(tag for tag in found.get("RepoTags") or () if tag != "<none>:<none>")
    return ImageInfo(found["Id"], tags, dict((found.get("Config") or {}).get("Labels") or {}))


def require_image(api: EngineAPI, ref: str, what: str, fix: str | Callable[[], str]) -> ImageInfo:
    """The image `ref`, which must already be in the engine: we never pull behind the user's back.
    `fix` may be a callable, asked only when the image is missing (it may ask the engine itself)."""
    try:
        image = image_info(api, ref)
    except BadInput as error:
        raise BadInput(f"{what}: {error.message} {fix() if callable(fix) else fix}") from None
    if image is None:
        raise ImageMissing(f"{what} `{ref}` is not in the Docker engine, and cycle never pulls implicitly. "
                           f"{fix() if callable(fix) else fix}")
    return image


def attach_output(api: EngineAPI, container_id: str) -> Iterator[OutputBatch]:
    """Every line the container prints on stdout and stderr, in batches as they arrive, until it exits
    (with the pieces of lines still unfinished, for a live echo).

    Attach BEFORE the container starts: the attach stream then misses nothing, and the engine sends
    each of the container's reads as one frame (not a frame per line, as the follow-logs endpoint
    does, where the engine re-reads its json log and we did ~2 reads per line: at 100k lines/s that
    cost the engine and us a core between us). The attach is made here, before returning."""
    sock, first = api.attach(container_id)
    return AttachedOutput(sock, first)


class AttachedOutput:
    """The batches of one attach stream; `close()` lets the socket go even before the first batch
    was asked for (a container that could not start), which a generator's own close() would not."""

    def __init__(self, sock, first: bytes) -> None:
        self._sock = sock
        self._batches = _output_batches(sock, first)

    def __iter__(self) -> Iterator[OutputBatch]:
        return self._batches

    def __next__(self) -> OutputBatch:
        return next(self._batches)

    def close(self) -> None:
        self._batches.close()
        self._sock.close()


def _output_batches(sock, first: bytes = b"", clock: Callable[[], int] = time.time_ns) -> Iterator[OutputBatch]:
    """The attach socket read 64 KiB at a time (after `first`, the bytes that came with the attach's
    answer), cut into frames, lines and pieces of unfinished lines (engine/output.py); ends at EOF,
    or when the engine drops the connection, with the last line printed without a newline."""
    frames, lines = FrameReader(), LineSplitter()
    try:
        data = first or _read_quietly(sock)
        while data:
            now = clock()
            batch = [record for stream, payload in frames.feed(data) for record in lines.feed(stream, payload, now)]
            # a full read means more is waiting: the unfinished line's pieces wait for a short one (a
            # loud job's reads all end mid-line, and a piece per read would cost it a write each)
            pieces = lines.pieces() if len(data) < READ_SIZE else []
            if batch or pieces:
                yield OutputBatch(batch, pieces)
            data = _read_quietly(sock)
        tail = lines.finish()
        if tail:
            yield OutputBatch(tail)
    finally:
        sock.close()


def _read_quietly(sock) -> bytes:
    """The next bytes from the socket; b"" at EOF or on a dropped connection."""
    try:
        return sock.recv(READ_SIZE)
    except OSError:
        return b""


def create_container_id(api: EngineAPI, spec: ContainerSpec) -> str:
    """A new container, made as protocol.container_config makes every one (created, never `run`:
    that pulls); its id."""
    from emulator.engine.gpu import device_requests

    return api.create_container(container_config(spec, device_requests() if spec.gpus else None))


def remove_quietly(api: EngineAPI, container: str) -> None:
    """Remove it (forced); quiet when it is gone or the engine refuses (the sweep retries later)."""
    try:
        api.remove(container)
    except EngineError:
        pass


def engine_memory(api: EngineAPI) -> int:
    """Total memory of the engine's host (the VM on Docker Desktop), in bytes.

    An engine on this host's own unix socket shares its memory, so we skip the slow `docker info`.
    """
    if api.on_this_host_socket:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(api.info()["MemTotal"])


def sweep(api: EngineAPI, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
    """Remove containers this emulator home left behind in runs whose process is gone."""
    removed = 0
    for container in api.containers([f"{LABEL}=1", f"{LABEL_HOME}={home_label(home)}"]):
        labels = container.get("Labels") or {}
        pid = int(labels.get(LABEL_PID, "0") or 0)
        if pid and pid_alive(pid):
            continue
        remove_quietly(api, container["Id"])
        on_orphan(labels)
        removed += 1
    return removed


def remove_labelled(api: EngineAPI, labels: dict[str, str]) -> int:
    """Remove (forced) every container carrying all of `labels`; how many (0 when the engine fails)."""
    try:
        containers = api.containers([f"{key}={value}" for key, value in labels.items()])
    except EngineError:
        return 0
    for container in containers:
        remove_quietly(api, container["Id"])
    return len(containers)


def image_sizes(api: EngineAPI) -> dict[str, tuple[int, str | None]]:
    """Every image in the engine: id -> (size in bytes, parent image id or None), in ONE request
    (the list endpoint; no per-image inspect)."""
    try:
        rows = api.images()
    except EngineError as error:
        raise EngineUnavailable(f"the engine did not list its images ({_first_line(error)}).") from None
    return {row["Id"]: (int(row.get("Size") or 0), row.get("ParentId") or None) for row in rows}
