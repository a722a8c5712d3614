"""Builds and jobs get the platform's network by default; `--network none` keeps a run hermetic."""

from __future__ import annotations

import time

from emulator.engine import protocol
from emulator.engine.dockerd import engine_has_bridge, network_for
from emulator.models import Stream

from helpers import cli


def networks_of_containers(client, home, since_ns: int) -> dict[str, str]:
    """{"build"|"job": network} for the containers this home created since `since_ns`, from the
    engine's own events (the network each container was connected to = its HostConfig.NetworkMode)."""
    until = int(time.time()) + 1
    created = client.events(since=since_ns // 10**9 - 1, until=until, decode=True, filters={
        "type": "container", "event": "create", "label": f"{protocol.LABEL_HOME}={protocol.home_label(home)}"})
    kinds = {e["id"]: e["Actor"]["Attributes"].get(protocol.LABEL_KIND) for e in created if e["timeNano"] >= since_ns}
    connects = client.events(since=since_ns // 10**9 - 1, until=until, decode=True,
                             filters={"type": "network", "event": "connect"})
    return {kinds[e["Actor"]["Attributes"]["container"]]: e["Actor"]["Attributes"]["name"]
            for e in connects if e["Actor"]["Attributes"].get("container") in kinds}


def interfaces(lines) -> list[str]:
    return sorted(line.strip() for line in lines if line.strip())


def test_build_and_job_get_the_platform_network_by_default(project, home, engine, docker_client):
    expected = network_for("auto", engine_has_bridge(engine))
    project.write(".cycleswap/build.sh", "ls /sys/class/net > /build-net\n")
    project.write(".cycleswap/run.sh", "cat /build-net\n")
    since = time.time_ns()
    run = project.test()
    assert run.exit_code == 0, run.output
    assert networks_of_containers(docker_client, home, since) == {"build": expected, "job": expected}
    assert f"build network: {expected}" in run.output
    assert interfaces(r.text for r in run.logs if r.stream is Stream.STDOUT) != ["lo"]


def test_network_none_keeps_build_and_job_hermetic(project, home, docker_client):
    project.write(".cycleswap/build.sh", "ls /sys/class/net > /build-net\n")
    project.write(".cycleswap/run.sh", "cat /build-net; ls /sys/class/net\n")
    since = time.time_ns()
    run = project.test("--network", "none")
    assert networks_of_containers(docker_client, home, since) == {"build": "none", "job": "none"}
    assert interfaces(r.text for r in run.logs if r.stream is Stream.STDOUT) == ["lo", "lo"]
    assert "build network: none (--network none: build.sh cannot download)" in run.output


def test_drill_takes_the_network_flag(project, home, docker_client):
    project.write(".cycleswap/run.sh", "ls /sys/class/net\n")
    since = time.time_ns()
    result = cli("drill", str(project.root), "--network", "none", "--moves", "1", "--at", "300", "--timeout", "60")
    assert "Traceback" not in result.output
    assert networks_of_containers(docker_client, home, since) == {"build": "none", "job": "none"}


def test_sharing_the_network_of_a_container_that_does_not_exist_is_refused_before_any_job(project, home):
    result = cli("project", "test", str(project.root), "--network", "container:no-such-container-here")
    assert result.exit_code == 2, result.output
    assert "no container 'no-such-container-here' whose network to share" in result.output
    assert "Traceback" not in result.output and "job " not in result.output  # refused before any job existed
