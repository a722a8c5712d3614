"""The Docker Engine API over the engine's socket, with the standard library alone.

Why not docker-py: importing it (with requests and urllib3) costs ~145 ms here, 0.66x a whole
`docker run --rm` of a trivial job, before its first request; a cached `cycle project test` pays
that on every run, and issue 14's goal (1.5x `docker run --rm`) leaves ~105 ms for everything that
is not the engine's own work (benchmarks/bench_project_test.py). The few endpoints cycle uses are
plain HTTP/1.1 (https://docs.docker.com/engine/api/), spoken by engine/http1.py.

One connection per request (a unix socket connects in ~50 us): the client holds no connection
between calls, so one client is safe to share between a job's threads (the wait, the output pump, a
cancel), and a long wait never blocks a short call. The engine must be on this host (a unix socket,
or tcp:// to a local port): the emulator bind-mounts host folders, which no remote engine can see.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urlsplit

from cycle.errors import CycleError
from emulator.engine import http1

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_TIMEOUT = 300.0  # a request's own timeout (an import or a commit can take a while); waits pass None


class EngineError(CycleError):
    """The engine answered with an error (`status` is its HTTP status; `explanation` the engine's
    own words), or did not answer at all (status 0). A CycleError: one that reaches the CLI is one
    paragraph and exit 1, never a traceback."""

    def __init__(self, explanation: str, status: int = 0) -> None:
        super().__init__(explanation)
        self.status = status
        self.explanation = explanation

    @property
    def message(self) -> str:
        return f"the Docker engine refused the request (HTTP {self.status}): {self.explanation}"


class NotFound(EngineError):
    """404: no such container, image or network."""


class Unreachable(EngineError):
    """No engine answers at the address (refused, missing socket, timed out, not HTTP)."""

    @property
    def message(self) -> str:
        return self.explanation


class UnsupportedHost(EngineError):
    """DOCKER_HOST names an engine cycle cannot use (another machine, ssh, TLS): bad input, said as
    it is (not "no engine answers", which would send `engine start` off to start a local one)."""

    exit_code = 2

    @property
    def message(self) -> str:
        return self.explanation


LOCAL_ONLY = ("the emulator bind-mounts this machine's folders into containers, which an engine elsewhere cannot "
              "see. Use unix:///var/run/docker.sock (the default: unset DOCKER_HOST) or tcp://127.0.0.1:PORT")


def engine_host(environ: dict[str, str] | None = None) -> str:
    """Where the engine listens, as DOCKER_HOST says (docker's own default without it)."""
    return (environ if environ is not None else os.environ).get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"


class EngineAPI:
    """Requests to one Docker engine: JSON in and out, streams, and the hijacked attach socket."""

    def __init__(self, host: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host = host or engine_host()
        self.timeout = timeout
        self._unix_path, self._tcp = _address(self.host)

    @property
    def on_this_host_socket(self) -> bool:
        """True for the default unix socket: an engine sharing this host's memory and folders."""
        return self._unix_path is not None and not os.environ.get("DOCKER_HOST")

    def _connect(self, timeout: float | None) -> socket.socket:
        """A new connection to the engine (OSError when none answers)."""
        if self._unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = self._unix_path
        else:
            assert self._tcp is not None
            sock, address = socket.socket(socket.AF_INET, socket.SOCK_STREAM), self._tcp
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    @staticmethod
    def url(path: str, params: dict[str, Any] | None = None) -> str:
        """`path` with its query; list values repeat their key, dict values are sent as JSON (filters)."""
        if not params:
            return path
        query = [(key, json.dumps(value) if isinstance(value, dict) else value)
                 for key, value in params.items() if value is not None]
        return f"{path}?{urlencode(query, doseq=True)}"

    def _open(self, method: str, path: str, params: dict[str, Any] | None, headers: dict[str, str] | None,
              body: Any, timeout: float | None) -> tuple[socket.socket, http1.Response]:
        """A connection with the engine's answer's head read: EngineError for an error status (a
        redirect is no answer either), Unreachable when no engine answers. The socket is closed on
        any failure; the caller closes it after."""
        try:
            sock = self._connect(timeout)
        except OSError as error:  # refused, no socket, no permission, timed out
            raise Unreachable(f"no Docker engine answers at {self.host} ({error})") from None
        try:
            response = http1.request(sock, method, self.url(path, params), headers, body)
            if response.status >= 300 and response.status != 304:
                raise _error(response.status, response.read())
        except BaseException as error:
            sock.close()
            if isinstance(error, TimeoutError | ConnectionError):  # timed out, reset, not an answer (ProtocolError)
                raise self._no_answer(error) from None
            raise
        return sock, response

    def _no_answer(self, error: OSError) -> Unreachable:
        return Unreachable(f"the Docker engine at {self.host} did not answer ({error})")

    @contextmanager
    def stream(self, method: str, path: str, params: dict[str, Any] | None = None, *, body: Any = None,
               headers: dict[str, str] | None = None, timeout: float | None | str = "default"
               ) -> Iterator[http1.Response]:
        """The engine's response, open for reading (a log, an export, a pull's progress); EngineError
        for an error status, Unreachable when no engine answers (also while its body is read)."""
        sock, response = self._open(method, path, params, headers, body,
                                    self.timeout if timeout == "default" else timeout)  # type: ignore[arg-type]
        try:
            yield response
        except (TimeoutError, ConnectionError) as error:
            raise self._no_answer(error) from None
        finally:
            sock.close()

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, *, json_body: Any = None,
             body: Any = None, headers: dict[str, str] | None = None, timeout: float | None | str = "default") -> Any:
        """One request: the engine's JSON answer (None for an empty or plain-text one, as /_ping's "OK")."""
        if json_body is not None:
            body, headers = json.dumps(json_body).encode(), {**(headers or {}), "Content-Type": "application/json"}
        with self.stream(method, path, params, body=body, headers=headers, timeout=timeout) as response:
            data = response.read()
            is_json = "json" in (response.getheader("Content-Type") or "")
        return json.loads(data) if is_json and data.strip() else None

    def progress(self, method: str, path: str, params: dict[str, Any] | None = None, *, body: Any = None,
                 headers: dict[str, str] | None = None, timeout: float | None | str = "default") -> list[dict]:
        """A request whose answer is a stream of JSON progress messages (a pull, an import), read to
        its end; an error message in the stream (the engine already answered 200) raises EngineError."""
        with self.stream(method, path, params, body=body, headers=headers, timeout=timeout) as response:
            data = response.read()
        try:
            messages = [json.loads(line) for line in data.splitlines() if line.strip()]
        except ValueError:
            raise EngineError(f"an answer that is not the engine's progress messages: {data[:200]!r}", 500) from None
        for message in messages:
            if message.get("error"):
                raise EngineError(str(message.get("errorDetail", {}).get("message") or message["error"]), 500)
        return messages

    def hijack(self, path: str, params: dict[str, Any]) -> tuple[socket.socket, bytes]:
        """POST `path` upgraded to a raw stream (the attach endpoint): the socket, with no timeout (a
        job may print nothing for hours), and the bytes that came after the answer's headers."""
        sock, response = self._open("POST", path, params, {"Connection": "Upgrade", "Upgrade": "tcp"}, None,
                                    self.timeout)
        sock.settimeout(None)
        return sock, response.leftover()

    # The endpoints cycle uses, by name.

    def ping(self, timeout: float = 10.0) -> None:
        """Whether the engine answers, within `timeout` seconds (not the 300 s a commit may take:
        a listener that never answers must not hold a command for five minutes)."""
        self.call("GET", "/_ping", timeout=min(timeout, self.timeout))

    def version(self) -> dict:
        return self.call("GET", "/version")

    def info(self) -> dict:
        return self.call("GET", "/info")

    def image(self, ref: str) -> dict:
        """An image's inspect document (Id, RepoTags, Config.Labels...); NotFound when absent."""
        return self.call("GET", f"/images/{_quoted(ref)}/json")

    def image_history(self, ref: str) -> list[dict]:
        return self.call("GET", f"/images/{_quoted(ref)}/history")

    def images(self) -> list[dict]:
        return self.call("GET", "/images/json")

    def import_image(self, data: BinaryIO | bytes, repository: str, tag: str, changes: list[str] = ()) -> None:
        """`docker import` of a root filesystem tar as repository:tag, with Dockerfile `changes`."""
        params = {"fromSrc": "-", "repo": repository, "tag": tag, "changes": list(changes)}
        self.progress("POST", "/images/create", params, body=data, headers={"Content-Type": "application/tar"})

    def pull(self, name: str, tag: str, timeout: float) -> None:
        self.progress("POST", "/images/create", {"fromImage": name, "tag": tag}, timeout=timeout)

    def networks(self, names: list[str] | None = None) -> list[dict]:
        return self.call("GET", "/networks", {"filters": {"name": names}} if names else None)

    def containers(self, labels: list[str]) -> list[dict]:
        """Every container (running or not) carrying all of `labels` ("key=value")."""
        return self.call("GET", "/containers/json", {"all": "1", "filters": {"label": labels}})

    def create_container(self, config: dict) -> str:
        return self.call("POST", "/containers/create", json_body=config)["Id"]

    def container(self, container: str) -> dict:
        return self.call("GET", f"/containers/{_quoted(container)}/json")

    def put_archive(self, container: str, path: str, archive: BinaryIO | bytes) -> None:
        self.call("PUT", f"/containers/{_quoted(container)}/archive", {"path": path}, body=archive,
                  headers={"Content-Type": "application/x-tar"})

    def start(self, container: str) -> None:
        self.call("POST", f"/containers/{_quoted(container)}/start")

    def attach(self, container: str) -> tuple[socket.socket, bytes]:
        """The container's stdout and stderr from now on, multiplexed (engine/output.py reads them)."""
        params = {"stdout": "1", "stderr": "1", "stream": "1", "logs": "0"}
        return self.hijack(f"/containers/{_quoted(container)}/attach", params)

    def wait(self, container: str, timeout: float | None = None) -> int:
        """Block until it exits (Unreachable after `timeout` seconds); its exit code."""
        answer = self.call("POST", f"/containers/{_quoted(container)}/wait", timeout=timeout) or {}
        return int(answer.get("StatusCode", 1))

    def kill(self, container: str, signal: str = "SIGKILL") -> None:
        self.call("POST", f"/containers/{_quoted(container)}/kill", {"signal": signal})

    def stop(self, container: str, timeout: float) -> None:
        self.call("POST", f"/containers/{_quoted(container)}/stop", {"t": str(int(timeout))},
                  timeout=timeout + self.timeout)

    def remove(self, container: str) -> None:
        """Remove it, running or not; NotFound when it is already gone."""
        self.call("DELETE", f"/containers/{_quoted(container)}", {"force": "1"})

    def commit(self, container: str, repository: str, tag: str, changes: list[str]) -> str:
        """The container as a new image, tagged repository:tag (untagged when both are empty)."""
        return self.call("POST", "/commit", {"container": container, "repo": repository or None, "tag": tag or None,
                                             "changes": changes})["Id"]

    def logs(self, container: str) -> bytes:
        """Everything the container printed so far, stdout and stderr in order (the engine's own log)."""
        from emulator.engine.output import FrameReader

        with self.stream("GET", f"/containers/{_quoted(container)}/logs", {"stdout": "1", "stderr": "1"}) as response:
            return b"".join(payload for _stream, payload in FrameReader().feed(response.read()))

    @contextmanager
    def export(self, container: str) -> Iterator[http1.Response]:
        """The container's filesystem as a tar stream."""
        with self.stream("GET", f"/containers/{_quoted(container)}/export") as response:
            yield response


def _address(host: str) -> tuple[str | None, tuple[str, int] | None]:
    """(unix socket path, None) or (None, (loopback host, port)) for DOCKER_HOST; UnsupportedHost else."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        return ("/" + path.lstrip("/")) if path else DEFAULT_SOCKET, None  # unix://var/run/x is /var/run/x
    address = urlsplit(host)
    if address.scheme in ("tcp", "http") and address.hostname:
        if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
            raise UnsupportedHost(f"DOCKER_HOST={host} with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH: cycle speaks to the "
                                  f"engine without TLS, so only on this machine; {LOCAL_ONLY}.")
        try:
            port = address.port or 2375
        except ValueError:
            raise UnsupportedHost(f"DOCKER_HOST={host}: the port is not a number. {LOCAL_ONLY[0].upper()}"
                                  f"{LOCAL_ONLY[1:]}.") from None
        if _is_loopback(address.hostname):
            return None, (address.hostname, port)
    raise UnsupportedHost(f"DOCKER_HOST={host} is not an engine on this machine cycle can use: {LOCAL_ONLY}.")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _quoted(ref: str) -> str:
    return quote(ref, safe="/:@")


def _error(status: int, data: bytes) -> EngineError:
    try:
        message = str(json.loads(data).get("message") or "")
    except (ValueError, AttributeError):
        message = data.decode("utf-8", errors="replace").strip()
    message = message or f"HTTP {status}"
    return (NotFound if status == 404 else EngineError)(message, status)
