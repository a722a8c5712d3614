"""Getting a Docker engine to answer.

When one answers (a laptop with Docker Desktop, a CI runner) it is used as it is. When none does,
as root we install Debian's docker.io if dockerd is missing and start
`dockerd --bridge=none --iptables=false --ip-masq=false` in the background. Those flags suit a
machine whose firewall cannot be changed (containers then use the host's network: see
network_for), but --bridge=none deletes an existing docker0, so we only start a daemon when no
other runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cycle.errors import EngineUnavailable

DOCKERD_FLAGS = ["--bridge=none", "--iptables=false", "--ip-masq=false"]


def engine_answers() -> bool:
    """Whether an engine answers at DOCKER_HOST (UnsupportedHost, as it is, for one cycle cannot use:
    starting a local dockerd would not make that one answer)."""
    from emulator.engine.api import EngineAPI, EngineError, UnsupportedHost

    try:
        EngineAPI(timeout=5).ping()
        return True
    except UnsupportedHost:
        raise
    except EngineError:
        return False


def other_daemon_running() -> bool:
    return subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0


def install_docker_io(say: Callable[[str], None]) -> None:
    say("dockerd is not installed: installing Debian's docker.io (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker.io"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise EngineUnavailable(f"`{' '.join(command)}` failed ({result.stderr.strip()[-300:]}). Install docker.io "
                                    "by hand and try again.")


def ensure_engine(home: Path, say: Callable[[str], None], timeout: float = 60.0) -> str:
    """Make sure an engine answers; returns what was done, for the user."""
    if engine_answers():
        return "a Docker engine answers; using it as it is"
    if os.environ.get("DOCKER_HOST"):  # a dockerd started here would not answer there
        raise EngineUnavailable(
            f"No Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}. Start the engine it names, or "
            "unset DOCKER_HOST to use (and, as root, let cycle start) the engine on /var/run/docker.sock.")
    if os.geteuid() != 0:
        raise EngineUnavailable(
            "No Docker engine answers and only root can start one. Run `sudo cycle emulator engine start`, "
            "or start Docker (Docker Desktop, `systemctl start docker`)."
        )
    if other_daemon_running():
        raise EngineUnavailable(
            "A dockerd process runs but does not answer on /var/run/docker.sock. "
            "Wait for it to finish starting, or stop it; cycle will not start a second daemon."
        )
    if shutil.which("dockerd") is None:
        install_docker_io(say)
    log = home / "dockerd.log"
    say(f"no Docker engine answers: starting dockerd {' '.join(DOCKERD_FLAGS)} (log: {log})")
    with open(log, "ab") as out:
        subprocess.Popen(["dockerd", *DOCKERD_FLAGS], stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            return "started dockerd; the engine answers"
        time.sleep(0.5)
    raise EngineUnavailable(f"dockerd did not answer within {timeout:.0f} s. See {log} for why.")


AUTO_NETWORK = "auto"


def network_for(requested: str, has_bridge: bool) -> str:
    """The Docker network mode for `--network requested`: "auto" is the network the platform gives
    builds and jobs (they download packages and data and log metrics), i.e. the engine's default
    bridge, or the host's network where the engine has none (dockerd --bridge=none). Anything else
    (none, host, a network name) is used as given."""
    if requested != AUTO_NETWORK:
        return requested
    return "bridge" if has_bridge else "host"


def engine_has_bridge(api) -> bool:
    """Whether the engine has its default bridge network (dockerd --bridge=none removes it); the
    engine's name filter matches parts of names, so the name is compared here too."""
    return any(network.get("Name") == "bridge" for network in api.networks(names=["bridge"]))


NETWORK_MODES = ("none", "host")
"""Network modes every engine has without a network of that name."""


def check_network(api, requested: str) -> None:
    """Refuse `--network NAME` the engine has no network for, before any job exists: else the job
    would be created and end START_FAILED (or the build fail) for what is bad input. `auto`,
    `none` and `host` need no network of that name; `container:<name>` needs that container."""
    from cycle.errors import BadInput
    from emulator.engine.api import NotFound

    if requested in (AUTO_NETWORK, *NETWORK_MODES):
        return
    if requested.startswith("container:"):
        name = requested.partition(":")[2]
        try:
            if name and "/" not in name:
                api.container(name)
                return
        except NotFound:
            pass
        raise BadInput(f"--network {requested!r}: the Docker engine has no container {name!r} whose network to "
                       "share. Name a running container (`docker ps`), or pass auto, none or host.")
    names = sorted({network["Name"] for network in api.networks()})
    if requested in names:
        return
    choices = [AUTO_NETWORK, *NETWORK_MODES, *(name for name in names if name not in NETWORK_MODES)]
    raise BadInput(
        f"--network {requested!r}: the Docker engine has no network of that name. Pass one of: "
        f"{', '.join(choices)} (auto, the default, is the engine's bridge, or the host's network where the engine "
        f"has none), or create it first with `docker network create {requested}`.")


def resolve_network(api, requested: str) -> str:
    """network_for with the engine (engine/api.py's EngineAPI) asked only when it matters."""
    return network_for(requested, requested == AUTO_NETWORK and engine_has_bridge(api))
