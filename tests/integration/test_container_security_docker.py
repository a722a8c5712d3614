"""What a job's container may do to the host (issue 10, item 12): the mechanism, on the real engine.

A job runs as root in its container and writes /artifacts, a folder of the host. It must not be
able to leave anything there that another user could turn into root: no device nodes, no file
capabilities, no setuid file reachable by anyone but the emulator's user, and nothing pulled or
restored from storage comes back setuid."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from emulator.engine import docker as runtime
from emulator.engine import protocol
from emulator.models import JobState
from emulator.platform import EmulatorPlatform

from helpers import FINAL, cli, wait_state

PLANT = """\
cp /bin/busybox /artifacts/sb && chmod 4755 /artifacts/sb && echo "setuid planted"
cp /bin/busybox /artifacts/sg && chmod 2755 /artifacts/sg
if mknod /artifacts/mem c 1 1 2>/dev/null; then echo "mknod allowed"; else echo "mknod refused"; fi
mkfifo /artifacts/fifo && echo "fifo made"
echo data > /artifacts/plain
"""


def reachable_by_others(path: Path, home: Path) -> bool:
    """True when a user other than the owner could reach `path`: every folder from the home down has o+x."""
    folder = path.parent
    while True:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
        if folder == home:
            return True
        folder = folder.parent


def special_files(root: Path) -> list[tuple[Path, int]]:
    """Every setuid/setgid file, device node, under `root` (not following links)."""
    found = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(base) / name
            mode = os.lstat(path).st_mode
            setid = mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISDIR(mode)
            if setid or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                found.append((path, mode))
    return found


def test_a_job_cannot_plant_setuid_files_or_devices_for_other_users(project, home):
    project.write(".cycleswap/run.sh", PLANT)
    run = project.test()
    assert run.exit_code == 0, run.output
    assert "setuid planted" in run.output and "fifo made" in run.output
    assert "mknod refused" in run.output, run.output
    for path, mode in special_files(home):
        assert not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)), f"device node {path} on the host"
        assert not reachable_by_others(path, home), f"{path} ({stat.filemode(mode)}) is reachable by any user"
    machine_files = list((home / "machines").rglob("*"))
    assert any(path.name == "sb" for path in machine_files)
    for path in machine_files:  # once the job ended, nothing it left keeps a special bit or is a special file
        mode = os.lstat(path).st_mode
        assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode), f"{path} left as {stat.filemode(mode)}"
        assert not mode & (stat.S_ISUID | stat.S_ISGID), f"{path} left as {stat.filemode(mode)}"
    assert any("cleared setuid/setgid bits" in r.text for r in run.logs)
    for folder in (home / "machines", *(home / "machines").iterdir()):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder

    # pull writes plain files: never setuid, never a device
    result = cli("job", "pull", run.job.name, "--project-dir", str(project.root))
    assert result.exit_code == 0, result.output
    pulled = project.root / ".cycleswap" / "jobs" / run.job.name / "artifacts"
    assert (pulled / "sb").stat().st_size > 0 and (pulled / "plain").read_text() == "data\n"
    for path in pulled.rglob("*"):
        mode = os.lstat(path).st_mode
        assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), path
        assert stat.S_IMODE(mode) & ~0o755 == 0, f"{path} pulled as {stat.filemode(mode)}"
    assert not (pulled / "fifo").exists() and not (pulled / "mem").exists()


def test_job_and_build_containers_drop_capabilities_and_new_privileges(engine, docker_client):
    for capabilities in (protocol.JOB_CAPABILITIES, protocol.BUILD_CAPABILITIES):
        spec = protocol.ContainerSpec(image="cycle/base:busybox", command=["true"],
                                      labels={protocol.LABEL: "1", protocol.LABEL_KIND: "test"},
                                      capabilities=capabilities)
        container = runtime.create_container_id(engine, spec)
        try:
            host = docker_client.api.inspect_container(container)["HostConfig"]
        finally:
            runtime.remove_quietly(engine, container)
        assert host["CapDrop"] == ["ALL"]
        assert sorted(host["CapAdd"]) == sorted(capabilities)
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["Privileged"] is False
    for dangerous in ("MKNOD", "SETFCAP", "SYS_ADMIN", "NET_RAW", "FSETID"):
        assert dangerous not in protocol.JOB_CAPABILITIES
    assert "MKNOD" not in protocol.BUILD_CAPABILITIES


def test_a_job_keeps_what_ordinary_work_needs(project):
    """chown, writing files it does not own, and dropping to another user still work."""
    project.write(".cycleswap/run.sh", """\
        echo x > /tmp/f && chown 1000:1000 /tmp/f && chmod 600 /tmp/f && echo more >> /tmp/f && echo "root writes"
        su nobody -s /bin/sh -c 'id -u' 2>/dev/null || busybox setuidgid nobody id -u
        """)
    run = project.test()
    assert run.exit_code == 0, run.output
    assert "root writes" in run.output


def test_a_move_restores_a_setuid_artifact_as_a_plain_file(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    project.write(".cycleswap/run.sh", """\
        if [ -f /artifacts/sb ]; then ls -l /artifacts/sb; exit 0; fi
        cp /bin/busybox /artifacts/sb && chmod 4755 /artifacts/sb
        sleep 60
        """)
    result = cli("project", "test", str(project.root), "--detach")
    assert result.exit_code == 0, result.output
    name = result.output.strip()
    platform = EmulatorPlatform()
    wait_state(name, (JobState.RUNNING,))
    deadline = time.time() + 30
    while not platform.artifacts(name):
        assert time.time() < deadline, "sb was never uploaded"
        time.sleep(0.05)
    assert cli("job", "reassign", name).exit_code == 0
    done = wait_state(name, FINAL)
    assert done.state is JobState.FINISHED
    restored = home / "machines" / done.machine / "artifacts" / name / "sb"
    assert stat.S_IMODE(os.lstat(restored).st_mode) == 0o644, stat.filemode(os.lstat(restored).st_mode)
    assert stat.S_IMODE(os.stat(restored.parent.parent.parent).st_mode) == 0o700
