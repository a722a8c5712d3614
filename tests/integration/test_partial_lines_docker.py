"""Partial lines (tqdm-style `\\r` progress without a newline): the last one reaches the job's log on a
cancel, both Ctrl-C of a foreground run and `cycle job cancel` of a detached one; and a foreground run
shows it on the terminal as it comes, not only once a newline or the end arrives. Real engine."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time

from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform

from helpers import cli, wait_state

# a whole line on each stream, then a progress line on each with no newline
PROGRESS = "echo ready >&2; printf '\\rerr 2/60' >&2; printf 'first\\n'; printf '\\rstep 1/60\\rstep 2/60'; " \
           ": > /artifacts/printed; sleep 120\n"  # the file says: everything above is printed
STDOUT_LOG = ["first", "\rstep 1/60\rstep 2/60"]
STDERR_LOG = ["ready", "\rerr 2/60"]


def foreground(project) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cycle", "project", "test", str(project.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())


def read_until(process: subprocess.Popen, wanted: dict[str, bytes], timeout: float) -> dict[str, bytes]:
    """Read the CLI's stdout and stderr pipes as they come until each holds its `wanted` bytes
    (or the deadline passes); what each pipe gave so far."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "stdout")
    selector.register(process.stderr, selectors.EVENT_READ, "stderr")
    seen = {"stdout": b"", "stderr": b""}
    deadline = time.monotonic() + timeout
    while not all(wanted[name] in seen[name] for name in wanted) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                selector.unregister(key.fileobj)
            seen[key.data] += chunk
    selector.close()
    return seen


def interrupt(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def partial_text(name: str) -> tuple[list[str], list[str]]:
    logs = EmulatorPlatform().logs(name)
    return ([r.text for r in logs if r.stream is Stream.STDOUT], [r.text for r in logs if r.stream is Stream.STDERR])


def test_ctrl_c_keeps_the_last_partial_line_in_the_log(project, home):
    project.write(".cycleswap/run.sh", PROGRESS)
    process = foreground(project)
    try:
        # the terminal shows the partial lines as they come (on code before that, this waits out its deadline)
        seen = read_until(process, {"stderr": b"\rerr 2/60", "stdout": b"step 2/60"}, 60)
        assert b"ready\n" in seen["stderr"], seen
        job = EmulatorPlatform().jobs(limit=1)[0]
    finally:
        interrupt(process)
    assert process.returncode == 130
    ended = wait_state(job.name, (JobState.CANCELLED,), 10)
    stdout, stderr = partial_text(ended.name)
    assert (stdout, stderr) == (STDOUT_LOG, STDERR_LOG)


def test_job_cancel_of_a_detached_job_keeps_the_last_partial_line_in_the_log(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    project.write(".cycleswap/run.sh", PROGRESS)
    started = cli("project", "test", str(project.root), "--detach")
    assert started.exit_code == 0, started.output
    name = started.output.strip()
    deadline = time.monotonic() + 90
    while not list(home.glob(f"machines/*/artifacts/{name}/printed")) and time.monotonic() < deadline:
        time.sleep(0.1)  # the job printed its partial lines: the cancel must not lose them
    cancelled = cli("job", "cancel", name)
    assert cancelled.exit_code == 0, cancelled.output
    wait_state(name, (JobState.CANCELLED,), 30)
    stdout, stderr = partial_text(name)
    assert (stdout, stderr) == (STDOUT_LOG, STDERR_LOG)


def test_a_foreground_run_shows_a_partial_line_while_the_job_runs(project, home):
    project.write(".cycleswap/run.sh", "printf 'step 1/3'; printf 'working' >&2; sleep 120\n")
    process = foreground(project)
    try:
        seen = read_until(process, {"stdout": b"step 1/3", "stderr": b"working"}, 90)
        running = EmulatorPlatform().jobs(limit=1)[0]
    finally:
        interrupt(process)
    assert b"step 1/3" in seen["stdout"], seen
    assert b"working" in seen["stderr"] and b"step" not in seen["stderr"], seen
    assert running.state is JobState.RUNNING
