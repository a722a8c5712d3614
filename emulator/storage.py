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
from pathlib import Path

from cycle.errors import BadInput, CycleError
from emulator.blobs import (
    LOCAL_STORE_NAME,
    MISSING_OBJECT_CAUSE,
    S3_UNREACHABLE_FIX,
    BlobStore,
    LocalStore,
    S3Store,
    StorageError,
    s3_client_config,
    s3_description,
    s3_store_name,
)
from emulator.config import config_values, private_home, read_config, write_config
from emulator.settings import load

DEFAULT_BUCKET = "cycleswap"
SERVER_FILE = "s3server.json"


def storage_settings(home: Path) -> dict[str, str]:
    table = dict(config_values(home).get("storage", {}))
    settings = load()
    kind = settings.storage or table.get("kind", "local")
    if kind not in ("local", "s3"):
        raise BadInput(f"storage kind {kind!r} (from $CYCLE_STORAGE or {home}/config.toml [storage]) must be \"local\" "
                       "or \"s3\".")
    host = settings.localstack_host if settings.storage == "s3" else None
    return {
        "kind": kind,
        "localstack_host": host or table.get("localstack_host") or settings.localstack_host or "localhost:4566",
        "bucket": table.get("bucket", DEFAULT_BUCKET),
    }


def open_blob_store(home: Path) -> BlobStore:
    """The configured store, ready to store: its folders (<home>/storage, or the S3 snapshot folder
    <home>/tmp) are made inside the home, which is made private first (private_home)."""
    settings = storage_settings(home)
    private_home(home)
    if settings["kind"] == "local":
        return LocalStore(home / "storage")
    return _explained(home, S3Store(settings["localstack_host"], settings["bucket"], home / "tmp"))


def store_status(home: Path) -> str:
    """The configured store's description once it answers, for `storage status` and `doctor`.
    Only reads: a local folder store not made yet answers as it will (made on the first file
    stored), and an S3 store is asked about its bucket without opening it (S3Store would make its
    snapshot folder, and the bucket), so reading the status creates nothing."""
    settings = storage_settings(home)
    if settings["kind"] == "s3":
        return s3_status(settings["localstack_host"], settings["bucket"])
    root = home / "storage"
    if not root.is_dir():
        return f"local folder {root}"  # as LocalStore.description says once it exists
    store = LocalStore(root)
    store.list("doctor/probe/")  # lists nothing, but only where the store answers
    return store.description


def s3_status(host: str, bucket: str) -> str:
    """S3Store's description when the server at `host` answers a HEAD of `bucket`; a bucket not made
    yet is named as one (S3Store makes it on first use). A server that does not answer raises the
    StorageError S3Store raises, with the same fix."""
    from botocore.exceptions import BotoCoreError, ClientError
    from localstack_client.session import Session

    description = s3_description(host, bucket)
    client = Session(localstack_host=host).client("s3", config=s3_client_config(read_timeout=30))
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return f"{description} (the bucket is made when the first file is stored)"
        raise StorageError(f"checking the bucket failed on {description}: {error}") from None
    except BotoCoreError as error:
        raise StorageError(f"checking the bucket failed on {description}: {error}. {S3_UNREACHABLE_FIX}") from None
    return description


class StoreUnreachable(CycleError):
    """A record names a store that does not answer now."""


def open_named_store(home: Path, name: str | None) -> BlobStore:
    """The store an artifact record names ("local", "s3://<host>/<bucket>"); None (a record from
    before stores were named) means the store configured now. When that store does not answer,
    the error says which one to start."""
    if name is None:
        return open_blob_store(home)
    if name == LOCAL_STORE_NAME:
        return LocalStore(private_home(home) / "storage")
    host, bucket = _parse_s3_name(name)
    private_home(home)
    try:
        return _explained(home, S3Store(host, bucket, home / "tmp"))
    except StorageError:
        raise StoreUnreachable(
            f"These artifacts are stored in the S3 bucket {bucket!r} at {host}, which does not answer now (the store "
            f"configured now does not hold them). Start that server again: `cycle emulator storage start` restarts "
            f"cycle's moto server on {host} when that port is free (moto keeps objects in memory only, so objects "
            f"stored before it stopped are gone), or start the S3 server (e.g. LocalStack) you ran at {host}; then "
            f"run the command again.") from None


def _explained(home: Path, store: S3Store) -> S3Store:
    """The store, told how to say why an object may be missing: when it is cycle's moto server,
    which keeps objects in memory, what was stored before it last started is gone. Worked out only
    when an object is found missing (whether the server answers is a request)."""
    store.explain_missing = lambda: _moto_cause(home, store.name)
    return store


def _moto_cause(home: Path, name: str) -> str:
    found = moto_store(home)
    if found is None or found[0] != name or not found[2]:  # not cycle's server, or one that never said its start
        return MISSING_OBJECT_CAUSE
    return (f"that is cycle's moto server, last started or restarted at {_utc(found[2])}, which keeps objects "
            "in memory only, so an object stored there before that start is gone (the records, and the counts "
            "`cycle job status` shows, remain)")


def _utc(ns: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def moto_store(home: Path) -> tuple[str, str, int] | None:
    """(store name, host:port, start time in ns) of the moto server cycle started, while it answers;
    None when none runs. Its start time says which records it can no longer hold (stored before)."""
    info = _server_info(home)
    if info is None or not answers(info["host"]):
        return None
    bucket = storage_settings(home)["bucket"]
    return s3_store_name(info["host"], bucket), info["host"], int(info.get("started_ns", 0))


def _server_info(home: Path) -> dict | None:
    try:
        return json.loads((home / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None


def _parse_s3_name(name: str) -> tuple[str, str]:
    if not name.startswith("s3://") or "/" not in name[len("s3://"):]:
        raise CycleError(f"an artifact record names the store {name!r}, which is neither \"local\" nor s3://<host>/<bucket>.")
    host, _, bucket = name[len("s3://"):].partition("/")
    return host, bucket


class StoreCache:
    """Opens each named store once: a pull of many artifacts asks the server about its bucket once."""

    def __init__(self, home: Path, current: BlobStore | None = None) -> None:
        self.home = home
        self.current = current
        self._opened: dict[str | None, BlobStore] = {}
        if current is not None:
            self._opened[current.name] = current

    def get(self, name: str | None) -> BlobStore:
        if name is None and self.current is not None:
            return self.current
        if name not in self._opened:
            self._opened[name] = open_named_store(self.home, name)
        return self._opened[name]


def use_storage(home: Path, kind: str, localstack_host: str | None = None, bucket: str | None = None) -> None:
    """Record the store in config.toml; every setting is checked first, so a bad one is never written."""
    check_storage_choice(localstack_host, bucket)
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


def check_storage_choice(localstack_host: str | None, bucket: str | None) -> None:
    """The settings `storage use` records, checked before the home is opened or config.toml read."""
    if localstack_host is not None:
        check_host_port(localstack_host)
    if bucket is not None:
        check_bucket(bucket)


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
    if text.startswith("["):  # localstack-client splits host:port at the first colon and cannot reach one
        raise BadInput(f"--host {shown!r}: an IPv6 address cannot be reached through localstack-client (it reads "
                       "host:port up to the first ':'). Use a host name that resolves to it, e.g. "
                       "--host localhost:4566, or an IPv4 address.")
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
    import urllib.error
    import urllib.request  # here: it imports http.client and the email package (~10 ms), for this check only

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
        raise CycleError("moto_server is not installed. Run ./scripts/setup.sh (it installs moto[server]) and try "
                         "again.")
    return [found]


def start_server(home: Path, port: int | None = None, timeout: float = 30.0) -> str:
    """Start moto's S3 server on 127.0.0.1 (or reuse ours if it answers) and store artifacts there;
    returns host:port. A server already running is pointed at again: `storage use local` since
    leaves it running, and `start` then said artifacts go to it while config.toml kept them local."""
    running = server_status(home)
    if running:
        use_storage(home, "s3", localstack_host=running)
        remember_moto_host(home, running)
        return running
    port = port or _previous_port(home) or free_port()
    host = f"127.0.0.1:{port}"
    log = open(home / "s3server.log", "ab")
    process = subprocess.Popen([*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CycleError(f"moto_server exited with code {process.returncode}; see {home / 's3server.log'}.")
        if answers(host):
            (home / SERVER_FILE).write_text(json.dumps({"pid": process.pid, "host": host,
                                                        "started_ns": time.time_ns()}))
            use_storage(home, "s3", localstack_host=host)
            remember_moto_host(home, host)
            return host
        time.sleep(0.1)
    process.kill()
    raise CycleError(f"moto_server did not answer on {host} within {timeout:.0f} s; see {home / 's3server.log'}.")


def remember_moto_host(home: Path, host: str) -> None:
    """Where cycle's own moto server answered (config.toml [storage] moto_host), for _previous_port:
    not localstack_host, which `storage use s3 --host` sets to any S3 API."""
    doc = read_config(home)
    doc["storage"]["moto_host"] = host
    write_config(doc, home)


def _previous_port(home: Path) -> int | None:
    """The port our moto server used last time, when it is free: artifact records name their store
    by host and port, so a restarted server is found again at the same address."""
    host = str(read_config(home).get("storage", {}).get("moto_host", ""))
    address, _, port = host.rpartition(":")
    if address != "127.0.0.1" or not port.isdigit():
        return None
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", int(port)))
        except OSError:
            return None
    return int(port)


def server_status(home: Path) -> str | None:
    """host:port of the S3 server we started, when it still answers."""
    info = _server_info(home)
    return info["host"] if info is not None and answers(info["host"]) else None


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Until the server has exited (and freed its port, for a restart on the same one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:  # not our child: ask whether it still exists
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)


def stop_server(home: Path) -> bool:
    """Stop our moto server and go back to the local store. True when one was running."""
    info = _server_info(home)
    if info is None:
        return False
    try:
        os.killpg(info["pid"], signal.SIGTERM)
        _wait_gone(info["pid"])
    except (ProcessLookupError, PermissionError):
        pass
    (home / SERVER_FILE).unlink(missing_ok=True)
    use_storage(home, "local")
    return True
