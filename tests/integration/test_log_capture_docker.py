"""Issue 14, log capture: a job's output reaches its log through the attach stream, whole, and the
engine keeps no second copy of it (its json log alone costs a loud job ~3% of its run time)."""

from __future__ import annotations

import threading
import time

from emulator.engine import protocol
from emulator.models import Stream


def _log_drivers_of_job_containers(home, docker_client, stop: threading.Event, seen: list) -> None:
    filters = {"label": [f"{protocol.LABEL_KIND}=job", f"{protocol.LABEL_HOME}={protocol.home_label(home)}"]}
    while not stop.is_set() and not seen:
        seen += [found.attrs["HostConfig"]["LogConfig"]["Type"]
                 for found in docker_client.containers.list(all=True, filters=filters)]
        time.sleep(0.05)


def test_a_flood_of_output_reaches_the_log_whole_and_the_engine_keeps_no_copy(project, home, docker_client):
    project.write(".cycleswap/run.sh", "seq 1 200000 | sed 's/^/line /'; echo err-line >&2; sleep 1; "
                                       "printf 'last without newline'\n")
    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_log_drivers_of_job_containers, args=(home, docker_client, stop, seen))
    watcher.start()
    try:
        run = project.test()
    finally:
        stop.set()
        watcher.join()
    assert run.exit_code == 0, run.output[-2000:]
    stdout = [r.text for r in run.logs if r.stream is Stream.STDOUT]
    assert stdout == [f"line {i}" for i in range(1, 200_001)] + ["last without newline"]
    assert [r.text for r in run.logs if r.stream is Stream.STDERR] == ["err-line"]
    assert seen[:1] == ["none"]


def test_bytes_that_are_not_utf8_reach_the_terminal_the_log_and_output_log_as_printed(project):
    """They were replaced by U+FFFD on the terminal and in the stored log: every byte a job prints
    must reach its log, and `docker logs` gives them back as they were. The real CLI, as a user runs it."""
    import os
    import subprocess
    import sys

    from emulator.platform import EmulatorPlatform

    project.write(".cycleswap/run.sh", "printf 'bad \\377\\376 end\\n'; printf 'caf\\303\\251 \\355\\240\\200\\n' >&2; "
                                       "printf 'last \\200'\n")

    def cycle(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cycle", *args], capture_output=True, env=os.environ.copy(),
                              cwd=project.root, timeout=300)

    run = cycle("project", "test", str(project.root))
    assert run.returncode == 0, run.stderr[-2000:]
    assert b"bad \xff\xfe end\n" in run.stdout and b"last \x80" in run.stdout
    assert b"caf\xc3\xa9 \xed\xa0\x80\n" in run.stderr
    name = EmulatorPlatform().jobs(limit=1)[0].name
    logs = cycle("job", "logs", name)  # an ended job: read straight from state.db
    assert logs.returncode == 0, logs.stderr
    for line in (b"[stdout] bad \xff\xfe end\n", b"[stderr] caf\xc3\xa9 \xed\xa0\x80\n", b"[stdout] last \x80\n"):
        assert line in logs.stdout
    assert cycle("job", "logs", name, "--stream", "stdout").stdout.count(b"\xff\xfe") == 1  # through the platform
    assert cycle("job", "pull", name).returncode == 0
    saved = (project.root / ".cycleswap" / "jobs" / name / "output.log").read_bytes()
    assert b"[stdout] bad \xff\xfe end\n" in saved and b"[stderr] caf\xc3\xa9 \xed\xa0\x80\n" in saved
