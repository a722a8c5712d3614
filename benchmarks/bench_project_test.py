"""A cached `cycle project test` of a trivial project against `docker run --rm` of the same image.

Both run `bash .cycleswap/run.sh` in the project's build image with networking off; the cycle run
also records the job, its log and system events. Goal: ratio <= 1.5.

    .venv/bin/python benchmarks/bench_project_test.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CYCLE = [sys.executable, "-m", "cycle"]

from summary import record  # noqa: E402  (benchmarks/ is the script's folder)


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def docker_steps(image: str, project: Path, env: dict[str, str]) -> float:
    """What a job costs the engine besides `docker run`: its /app is copied in (not bind-mounted)."""
    start = time.perf_counter()
    cid = subprocess.run(["docker", "create", "--network", "none", "-w", "/app", image, "bash", "-c", "echo hello"],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    try:
        subprocess.run(["docker", "cp", f"{project}/.", f"{cid}:/app"], env=env, check=True, capture_output=True)
        subprocess.run(["docker", "start", "-a", cid], env=env, check=True, capture_output=True)
    finally:
        subprocess.run(["docker", "rm", "-f", cid], env=env, capture_output=True)
    return time.perf_counter() - start


# The least any Python client of docker-py does for the same job: its imports, then create, copy
# /app in, start, read the output, wait, remove (no CLI, no records, no log pump, no artifacts).
# Printed for context: cycle left docker-py for its own client (emulator/engine/api.py) because
# this floor alone was above the goal.
MINIMAL_DOCKER_PY_JOB = """
import io, sys, tarfile
import docker
image, project = sys.argv[1], sys.argv[2]
api = docker.APIClient(version="auto")
cid = api.create_container(image, ["bash", ".cycleswap/run.sh"], working_dir="/app",
                           host_config=api.create_host_config(network_mode="none"))["Id"]
try:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(project, arcname="app")
    api.put_archive(cid, "/", buffer.getvalue())
    api.start(cid)
    for chunk in api.logs(cid, stream=True, follow=True):
        sys.stdout.buffer.write(chunk)
    code = api.wait(cid)["StatusCode"]
finally:
    api.remove_container(cid, force=True)
sys.exit(code)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "CYCLE_HOME": f"{folder}/home",
               "CYCLE_BASE_IMAGE": os.environ.get("CYCLE_BASE_IMAGE", "cycle/base:busybox")}
        project = Path(folder) / "bench"
        subprocess.run([*CYCLE, "project", "init", str(project), "--name", "bench-trivial"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        (project / ".cycleswap" / "build.sh").write_text("echo build\n")
        (project / ".cycleswap" / "run.sh").write_text("echo hello\n")
        # warm the cache
        subprocess.run([*CYCLE, "project", "test", str(project)], env=env, check=True, capture_output=True)
        status = subprocess.run([*CYCLE, "job", "status", "bench-trivial-1", "--json"], env=env, check=True,
                                capture_output=True, text=True)
        image = __import__("json").loads(status.stdout)["image"]
        docker_run = ["docker", "run", "--rm", "--network", "none", "-w", "/app", image, "bash", "-c", "echo hello"]
        cycle_run = [*CYCLE, "project", "test", str(project)]
        python_floor = [sys.executable, "-c", MINIMAL_DOCKER_PY_JOB, image, str(project)]
        import_docker = [sys.executable, "-c", "import docker"]
        cycle_times, docker_times, steps_times, floor_times, import_times = [], [], [], [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            docker_times.append(timed(docker_run, env))
            cycle_times.append(timed(cycle_run, env))
            steps_times.append(docker_steps(image, project, env))
            floor_times.append(timed(python_floor, env))
            import_times.append(timed(import_docker, env))
    cycle_median, docker_median = statistics.median(cycle_times), statistics.median(docker_times)
    print(f"cached `cycle project test`: median {cycle_median:.3f} s over {args.runs} runs")
    print(f"`docker run --rm` same image: median {docker_median:.3f} s over {args.runs} runs")
    print(f"ratio cycle / docker run: {cycle_median / docker_median:.2f} (goal <= 1.5)")
    steps = statistics.median(steps_times)
    print(f"the engine's own steps a job needs (create, copy /app in, start attached, remove) with the docker CLI: "
          f"median {steps:.3f} s, ratio to docker run {steps / docker_median:.2f}; cycle / those steps "
          f"{cycle_median / steps:.2f}")
    floor = statistics.median(floor_times)
    print(f"the same steps from the least Python client (docker-py imported, no CLI or records): median "
          f"{floor:.3f} s, ratio to docker run {floor / docker_median:.2f}; "
          f"cycle / that floor {cycle_median / floor:.2f}")
    imported = statistics.median(import_times)
    print(f"`python -c 'import docker'` alone (docker-py and requests, before any request): median "
          f"{imported:.3f} s, {imported / docker_median:.2f}x docker run, what any client on docker-py pays "
          "before its first request")
    record("cached `cycle project test`, trivial job, vs `docker run --rm` of the same image",
           f"{docker_median:.3f} s", f"{cycle_median:.3f} s", cycle_median / docker_median, "<= 1.5")


if __name__ == "__main__":
    main()
