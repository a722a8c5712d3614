"""The Docker engine, through docker-py only.

Thin on purpose: containers, archives, output streams, commits and the sweep of leftovers. Two rules
from other tools' issue trackers live here: never pull implicitly (docker-py's containers.run()
pulls a missing image behind your back, so we check images.get() and use create/start), and never
allocate a TTY, so stdout and stderr stay apart.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from cycle.errors import EngineUnavailable, ImageMissing
from emulator.engine.output import FrameReader, LineSplitter, OutputBatch
from emulator.engine.protocol import (
    LABEL,
    LABEL_HOME,
    LABEL_PID,
    ContainerSpec,
    home_label,
    host_settings,
)
from emulator.pids import pid_alive

READ_SIZE = 64 * 1024


def connect():
    """A docker-py client to an engine that answers, or a clear error saying how to get one."""
    import docker
    from docker.errors import DockerException

    try:
        return docker.from_env(timeout=300)  # asks the engine its API version: no answer raises here
    except DockerException as error:
        raise EngineUnavailable(
            f"No Docker engine answers ({_first_line(error)}). Start one with `cycle emulator engine start` "
            "(as root it installs Debian's docker.io when needed and starts dockerd), or run ./scripts/setup.sh. "
            "On a laptop, start Docker Desktop or the docker service."
        ) from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__


def require_image(client, ref: str, what: str, fix: str):
    """The image `ref`, which must already be in the engine: we never pull behind the user's back."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(ref)
    except ImageNotFound:
        raise ImageMissing(f"{what} `{ref}` is not in the Docker engine, and cycle never pulls implicitly. "
                           f"{fix}") from None


def parse_docker_ts(stamp: bytes | str) -> int:
    """Docker's RFC 3339 timestamp with nanoseconds ("2026-11-23T14:36:00.329544903Z") as ns since epoch."""
    text = stamp.decode() if isinstance(stamp, bytes) else stamp
    head, _, rest = text.partition(".")
    fraction = rest.rstrip("Z")
    if not rest:  # no fractional part
        head = head.rstrip("Z")
        fraction = ""
    return _epoch_seconds(head) * 1_000_000_000 + int((fraction + "000000000")[:9] or 0)


@functools.lru_cache(maxsize=256)
def _epoch_seconds(head: str) -> int:
    """The whole-second part changes once a second: parse it once (strptime is slow per line)."""
    return int(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def join_frames(frames: Iterator[bytes]) -> Iterator[tuple[int, str]]:
    """Whole lines from docker log frames ("<timestamp> <payload>").

    Docker splits lines over 16 KiB into partial messages, each with its own timestamp and without
    the trailing newline; we join them back and keep the first part's timestamp.
    """
    parts: list[bytes] = []
    first_ts = 0
    for frame in frames:
        stamp, _, payload = frame.partition(b" ")
        if not parts:
            first_ts = parse_docker_ts(stamp)
        if payload.endswith(b"\n"):
            parts.append(payload[:-1])
            yield first_ts, b"".join(parts).decode("utf-8", errors="replace")
            parts = []
        else:
            parts.append(payload)
    if parts:
        yield first_ts, b"".join(parts).decode("utf-8", errors="replace")


def attach_output(client, container_id: str) -> Iterator[OutputBatch]:
    """Every line the container prints on stdout and stderr, in batches as they arrive, until it exits
    (with the pieces of lines still unfinished, for a live echo).

    Attach BEFORE the container starts: the attach stream then misses nothing, and the engine sends
    each of the container's reads as one frame (not a frame per line, as the follow-logs endpoint
    does, where the engine re-reads its json log and we did ~2 reads per line: at 100k lines/s that
    cost the engine and us a core between us). The attach is made here, before returning."""
    socket = client.api.attach_socket(container_id, params={"stdout": 1, "stderr": 1, "stream": 1, "logs": 0})
    client.api._disable_socket_timeout(socket)  # a job may print nothing for longer than the client's timeout
    return _output_batches(socket)


def _output_batches(socket, clock: Callable[[], int] = time.time_ns) -> Iterator[OutputBatch]:
    """The attach socket read 64 KiB at a time, cut into frames, lines and pieces of unfinished lines
    (engine/output.py); ends at EOF, or when the engine drops the connection, with the last line
    printed without a newline."""
    from docker.utils.socket import read

    frames, lines = FrameReader(), LineSplitter()
    try:
        while data := _read_quietly(read, socket):
            now = clock()
            batch = [record for stream, payload in frames.feed(data) for record in lines.feed(stream, payload, now)]
            # a full read means more is waiting: the unfinished line's pieces wait for a short one (a
            # loud job's reads all end mid-line, and a piece per read would cost it a write each)
            pieces = lines.pieces() if len(data) < READ_SIZE else []
            if batch or pieces:
                yield OutputBatch(batch, pieces)
        tail = lines.finish()
        if tail:
            yield OutputBatch(tail)
    finally:
        socket.close()


def _read_quietly(read, socket) -> bytes:
    """The next bytes from the socket (docker-py's read: any socket kind); b"" at EOF or on a dropped connection."""
    while True:
        try:
            data = read(socket, READ_SIZE)
        except OSError:
            return b""
        if data is not None:
            return data


def create_container(client, spec: ContainerSpec):
    """Create (never run(): that pulls) the container as protocol.host_settings makes every one."""
    return client.containers.get(create_container_id(client, spec))


def create_container_id(client, spec: ContainerSpec) -> str:
    """The id of the container created as create_container makes it. docker-py's containers.create()
    reads the new container back to hand out a model, one more round trip on every job's start;
    a job needs only the id, so this asks for the create alone, with the same arguments."""
    from docker.models.containers import _create_container_args

    gpus = _all_gpus() if spec.gpus else None
    arguments = {"image": spec.image, "command": spec.command, "device_requests": gpus, "detach": True,
                 "version": client.api._version, **host_settings(spec)}
    return client.api.create_container(**_create_container_args(arguments))["Id"]


def _all_gpus() -> list:
    from emulator.engine.gpu import device_requests

    return device_requests()


def remove_quietly(container) -> None:
    from docker.errors import APIError, NotFound

    try:
        container.remove(force=True)
    except (NotFound, APIError):
        pass


def engine_memory(client) -> int:
    """Total memory of the engine's host (the VM on Docker Desktop), in bytes.

    An engine on this host's own unix socket shares its memory, so we skip the slow `docker info`.
    """
    if client.api.base_url.startswith("http+docker://localhost") and not os.environ.get("DOCKER_HOST"):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(client.info()["MemTotal"])


def sweep(client, home: Path, on_orphan: Callable[[dict[str, str]], None]) -> int:
    """Remove containers this emulator home left behind in runs whose process is gone."""
    removed = 0
    filters = {"label": [f"{LABEL}=1", f"{LABEL_HOME}={home_label(home)}"]}
    for container in client.containers.list(all=True, filters=filters):
        labels = container.labels
        pid = int(labels.get(LABEL_PID, "0") or 0)
        if pid and pid_alive(pid):
            continue
        remove_quietly(container)
        on_orphan(labels)
        removed += 1
    return removed


def remove_labelled(client, labels: dict[str, str]) -> int:
    """Remove (forced) every container carrying all of `labels`; how many (0 when the engine fails)."""
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    try:
        containers = client.containers.list(all=True, filters=filters)
    except (DockerException, RequestException):
        return 0
    for container in containers:
        remove_quietly(container)
    return len(containers)


def image_sizes(client) -> dict[str, tuple[int, str | None]]:
    """Every image in the engine: id -> (size in bytes, parent image id or None), in ONE request
    (the list endpoint; no per-image inspect)."""
    from docker.errors import DockerException

    try:
        rows = client.api.images()
    except DockerException as error:
        raise EngineUnavailable(f"the engine did not list its images ({_first_line(error)}).") from None
    return {row["Id"]: (int(row.get("Size") or 0), row.get("ParentId") or None) for row in rows}
