"""What one cached `cycle project test` asks the real Docker engine, and what it imports: issue 14's
`project test` row (cycle vs `docker run --rm`) is paid in round trips and start-up time."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import requests

from emulator.engine.protocol import LABEL_HOME, home_label

REPO_ROOT = Path(__file__).resolve().parents[2]

CONTAINER_CALL = re.compile(r"/containers/(?:create|[0-9a-f]{64}(?:/(\w+))?)(?:\?|$)")


def job_container_calls(monkeypatch) -> list[tuple[str, str]]:
    """Every request sent about a job's container, as (thread name, "METHOD what"), recorded while
    each still goes to the engine (docker-py's APIClient is a requests.Session)."""
    calls: list[tuple[str, str]] = []
    send = requests.Session.request

    def recording(session, method, url, *args, **kwargs):
        found = CONTAINER_CALL.search(url)
        if found:
            what = "create" if url.split("?")[0].endswith("/create") else (found.group(1) or "container")
            calls.append((threading.current_thread().name, f"{method} {what}"))
        return send(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", recording)
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


def test_a_cached_project_test_does_not_import_tomlkit(project, home):
    """tomllib reads a valid manifest and config.toml; tomlkit is only for errors and writing."""
    assert project.test().exit_code == 0
    script = ("import runpy, sys\n"
              f"sys.argv = ['cycle', 'project', 'test', {str(project.root)!r}]\n"
              "try:\n    runpy.run_module('cycle', run_name='__main__')\n"
              "except SystemExit as end:\n    assert end.code in (0, None), end.code\n"
              "print(sorted(name for name in sys.modules if name.startswith('tomlkit')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
