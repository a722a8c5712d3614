"""What one cached `cycle project test` asks the real Docker engine, and what it imports: issue 14's
`project test` row (cycle vs `docker run --rm`) is paid in round trips and start-up time."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

from emulator.engine import http1
from emulator.engine.protocol import LABEL_HOME, home_label

REPO_ROOT = Path(__file__).resolve().parents[2]

CONTAINER_CALL = re.compile(r"/containers/(?:create|[0-9a-f]{64}(?:/(\w+))?)(?:\?|$)")


def job_container_calls(monkeypatch) -> list[tuple[str, str]]:
    """Every request sent about a job's container, as (thread name, "METHOD what"), recorded while
    each still goes to the engine (every request of cycle's engine client is one http1.request)."""
    calls: list[tuple[str, str]] = []
    send = http1.request

    def recording(sock, method, target, *args, **kwargs):
        found = CONTAINER_CALL.search(target)
        if found:
            what = "create" if target.split("?")[0].endswith("/create") else (found.group(1) or "container")
            calls.append((threading.current_thread().name, f"{method} {what}"))
        return send(sock, method, target, *args, **kwargs)

    monkeypatch.setattr(http1, "request", recording)
    return calls


def test_a_job_asks_the_engine_about_its_container_only_once_it_exited(project, home, docker_client, monkeypatch):
    assert project.test().exit_code == 0  # the build; the next run hits the cache
    calls = job_container_calls(monkeypatch)
    run = project.test()
    assert run.exit_code == 0, run.output
    # no read-back after create, before the copy-in, the start, the wait or the removal; the output
    # is attached before the start, so it misses nothing
    main = threading.main_thread().name
    assert [call for thread, call in calls if thread == main] == [
        "POST create", "PUT archive", "POST attach", "POST start", "POST wait", "GET json"]
    # the exited container is removed once, beside the job's last steps, and before the command returns
    assert [thread.split("_")[0] for thread, call in calls if call.startswith("DELETE")] == ["container-removal"]
    left = docker_client.containers.list(all=True, filters={"label": f"{LABEL_HOME}={home_label(home)}"})
    assert left == []


# What a cached `project test` must not import, with why: tomllib reads a valid manifest and
# config.toml (tomlkit is only for errors and writing); the engine's client is cycle's own
# (emulator/engine/api.py over engine/http1.py): docker-py and requests cost ~145 ms, http.client
# and the email package it parses headers with ~13 ms, urllib.request (the S3 server check) as much.
NOT_ON_THE_JOB_PATH = ("tomlkit", "docker", "requests", "urllib3", "http.client", "email", "ssl", "urllib.request",
                       "cycle.api.admin")


def test_a_cached_project_test_imports_neither_tomlkit_nor_docker_py_nor_http_client(project, home):
    assert project.test().exit_code == 0
    script = ("import runpy, sys\n"
              f"sys.argv = ['cycle', 'project', 'test', {str(project.root)!r}]\n"
              "try:\n    runpy.run_module('cycle', run_name='__main__')\n"
              "except SystemExit as end:\n    assert end.code in (0, None), end.code\n"
              "print(' '.join(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    modules = done.stdout.strip().splitlines()[-1].split()
    assert "emulator.engine.api" in modules  # the run did reach the engine
    assert [m for m in modules if m in NOT_ON_THE_JOB_PATH or m.startswith(tuple(f"{n}." for n in
                                                                                   NOT_ON_THE_JOB_PATH))] == []
