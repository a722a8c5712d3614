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
