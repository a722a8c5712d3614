"""Which BlobStore the emulator uses, and moto's S3 server that `cycle emulator storage start` runs.

The choice lives in <home>/config.toml:
    [storage]
    kind = "local"                    # default: <home>/storage, no server needed
    kind = "s3"                       # an S3 API through localstack-client
    localstack_host = "127.0.0.1:4566"
    bucket = "cycleswap"
$CYCLE_STORAGE (local|s3) and $LOCALSTACK_HOST override the file, so a LocalStack the user already
runs works the same way. moto keeps objects in memory: they are gone when its server stops.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cycle.errors import BadInput, CycleError
from emulator.blobs import BlobStore, LocalStore, S3Store
from emulator.config import read_config, write_config

DEFAULT_BUCKET = "cycleswap"
SERVER_FILE = "s3server.json"


def storage_settings(home: Path) -> dict[str, str]:
    table = dict(read_config(home).get("storage", {}))
    kind = os.environ.get("CYCLE_STORAGE") or table.get("kind", "local")
    if kind not in ("local", "s3"):
        raise BadInput(f"storage kind {kind!r} (from $CYCLE_STORAGE or {home}/config.toml [storage]) must be \"local\" or \"s3\".")
    host = os.environ.get("LOCALSTACK_HOST") if os.environ.get("CYCLE_STORAGE") == "s3" else None
    return {
        "kind": kind,
        "localstack_host": host or table.get("localstack_host") or os.environ.get("LOCALSTACK_HOST") or "localhost:4566",
        "bucket": table.get("bucket", DEFAULT_BUCKET),
    }


def open_blob_store(home: Path) -> BlobStore:
    settings = storage_settings(home)
    if settings["kind"] == "local":
        return LocalStore(home / "storage")
    return S3Store(settings["localstack_host"], settings["bucket"], home / "tmp")


def use_storage(home: Path, kind: str, localstack_host: str | None = None, bucket: str | None = None) -> None:
    """Record the store in config.toml; every setting is checked first, so a bad one is never written."""
    if localstack_host is not None:
        check_host_port(localstack_host)
    if bucket is not None:
        check_bucket(bucket)
    doc = read_config(home)
    if "storage" not in doc:
        import tomlkit

        doc.add("storage", tomlkit.table())
    doc["storage"]["kind"] = kind
    if localstack_host:
        doc["storage"]["localstack_host"] = localstack_host
    if bucket:
        doc["storage"]["bucket"] = bucket
    write_config(doc, home)


HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_host_port(text: str) -> str:
    """`host:port` of an S3 API: a host name, an IPv4 address or a bracketed IPv6 address, and a
    port 1-65535. Anything else would only fail later, deep inside boto3."""
    shown = text if len(text) <= 80 else text[:80] + "…"
    usage = "Write host:port, e.g. --host localhost:4566, --host 10.0.0.5:9000 or --host [::1]:4566."
    host, port = _split_host_port(text)
    if host is None:
        raise BadInput(f"--host {shown!r} is not host:port. {usage}")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise BadInput(f"--host {shown!r}: the port must be a number 1-65535. {usage}")
    if not _valid_host(host):
        raise BadInput(f"--host {shown!r}: {host!r} is not a host name or IP address (host name labels are letters, "
                       f"digits and '-', 1-63 each, 253 in all). {usage}")
    return text


def _split_host_port(text: str) -> tuple[str | None, str]:
    """(host, port) of "host:port" or "[v6]:port"; host None when the shape is wrong."""
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]:")
        return (host, port) if bracket and host else (None, "")
    host, colon, port = text.rpartition(":")
    return (host, port) if colon and host and ":" not in host else (None, "")


def _valid_host(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(HOST_LABEL_RE.match(label) for label in labels) and not labels[-1].isdigit()


def check_bucket(name: str) -> str:
    """An S3 bucket name as S3 allows it: 3-63 lowercase letters, digits, '.' and '-'."""
    if not BUCKET_RE.match(name) or ".." in name:
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise BadInput(f"--bucket {shown!r} is not an S3 bucket name: use 3-63 lowercase letters, digits, '.' or '-', "
                       "starting and ending with a letter or digit, e.g. --bucket cycleswap.")
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(host: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, with an error page: still a server
    except OSError:
        return False


def moto_server_command() -> list[str]:
    found = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not Path(found).exists():
        raise CycleError("moto_server is not installed. Run ./scripts/setup.sh (it installs moto[server]) and try again.")
    return [found]


def start_server(home: Path, port: int | None = None, timeout: float = 30.0) -> str:
    """Start moto's S3 server on 127.0.0.1 (or reuse ours if it answers); returns host:port."""
    running = server_status(home)
    if running:
        return running
    port = port or free_port()
    host = f"127.0.0.1:{port}"
    log = open(home / "s3server.log", "ab")
    process = subprocess.Popen([*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CycleError(f"moto_server exited with code {process.returncode}; see {home / 's3server.log'}.")
        if answers(host):
            (home / SERVER_FILE).write_text(json.dumps({"pid": process.pid, "host": host}))
            use_storage(home, "s3", localstack_host=host)
            return host
        time.sleep(0.1)
    process.kill()
    raise CycleError(f"moto_server did not answer on {host} within {timeout:.0f} s; see {home / 's3server.log'}.")


def server_status(home: Path) -> str | None:
    """host:port of the S3 server we started, when it still answers."""
    try:
        info = json.loads((home / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info["host"] if answers(info["host"]) else None


def stop_server(home: Path) -> bool:
    """Stop our moto server and go back to the local store. True when one was running."""
    try:
        info = json.loads((home / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return False
    try:
        os.killpg(info["pid"], signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    (home / SERVER_FILE).unlink(missing_ok=True)
    use_storage(home, "local")
    return True
