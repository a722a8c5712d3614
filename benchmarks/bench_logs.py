"""Log store and job list figures, each against a baseline measured in the same run.

- `cycle job logs JOB --tail 100` on a job with 200,000 log lines, against `docker logs --tail 100`
  of a container (busybox, network none) that printed the same lines (goal <= 3); `tail -n 100` of
  a plain file and the Platform API call alone are printed too
- log capture cost: a job printing ~100k lines/s for a few seconds, against the same job with its
  output sent to /dev/null inside the container (goal <= 1.03)
- `cycle job list` with 10,000 jobs in the home against the same with 10 (goal <= 1.2)

    .venv/bin/python benchmarks/bench_logs.py [--lines 200000] [--seconds 5] [--jobs 10000]
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

CYCLE = [sys.executable, "-m", "cycle"]
CYCLE_SCRIPT = [str(Path(sys.executable).with_name("cycle"))]
"""The installed `cycle` script, as users run it (the timed `job logs` row; set-up steps use -m)."""
BUSYBOX = "cycle/base:busybox"

from summary import record  # noqa: E402  (benchmarks/ is the script's folder)


def make_project(root: Path, name: str, run_sh: str) -> Path:
    subprocess.run([*CYCLE, "project", "init", str(root), "--name", name, "--force"], check=True, capture_output=True)
    (root / ".cycleswap" / "build.sh").write_text("true\n")
    (root / ".cycleswap" / "run.sh").write_text(run_sh)
    return root


def run_job(project: Path, env) -> str:
    result = subprocess.run([*CYCLE, "project", "test", str(project)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1].split()[1].rstrip(":")


def timed(command, env, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def docker_logs_tail(lines: int, env) -> float:
    """`docker logs --tail 100` of a container that printed the same lines as the job."""
    name = f"cycle-bench-logs-{os.getpid()}"
    script = f"seq 1 {lines} | sed 's/^/log line number /'"
    subprocess.run(["docker", "run", "--name", name, "--network", "none", BUSYBOX, "sh", "-c", script], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        return timed(["docker", "logs", "--tail", "100", name], env)
    finally:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def interpreter_floor(cli: float, docker: float, env) -> None:
    """The limit for any Python CLI: the bare interpreter's start-up (with site, as `cycle` runs); and
    for the platform's read, which `job logs --tail` runs without typer: importing the contract
    (cycle.api: its dataclass models import dataclasses, inspect, typing, enum)."""
    bare = timed([sys.executable, "-c", "pass"], env)
    typer = timed([sys.executable, "-c", "import typer"], env)
    contract = timed([sys.executable, "-c", "import cycle.api"], env)
    print(f"floor: `python -c pass` {bare * 1000:.1f} ms, `python -c 'import typer'` {typer * 1000:.1f} ms, "
          f"`python -c 'import cycle.api'` {contract * 1000:.1f} ms; "
          f"`cycle job logs` is {cli / bare:.2f} x the bare interpreter")
    record("bare `python -c pass` (the floor of any Python CLI) vs `docker logs --tail 100`", f"{docker * 1000:.0f} ms",
           f"{bare * 1000:.0f} ms", bare / docker, "<= 3")


def fill_jobs(home: Path, count: int) -> None:
    """A home holding `count` ended jobs (written straight through the state store, in one transaction)."""
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    with store._tx() as db:
        db.executemany("INSERT INTO jobs(name, project, state, created_ns, started_ns, finished_ns, exit_code) "
                       "VALUES (?, 'bench', 'FINISHED', ?, ?, ?, 0)",
                       [(f"bench-{i}", i, i, i) for i in range(1, count + 1)])


def job_list(count: int, work: Path, env, runs: int = 9) -> None:
    homes = {}
    for jobs in (10, count):
        homes[jobs] = work / f"list-{jobs}"
        homes[jobs].mkdir()
        fill_jobs(homes[jobs], jobs)
    samples: dict[int, list[float]] = {10: [], count: []}
    for _ in range(runs):  # interleaved, so drift in the machine's load hits both alike
        for jobs, home in homes.items():
            samples[jobs].append(timed([*CYCLE, "job", "list"], {**env, "CYCLE_HOME": str(home)}, runs=1))
    times = {jobs: statistics.median(values) for jobs, values in samples.items()}
    ratio = times[count] / times[10]
    print(f"`cycle job list` with {count:,} jobs {times[count] * 1000:.0f} ms, with 10 jobs {times[10] * 1000:.0f} ms, "
          f"ratio {ratio:.2f} (goal <= 1.2)")
    record(f"`cycle job list` with {count:,} jobs in the home vs with 10", f"{times[10] * 1000:.0f} ms",
           f"{times[count] * 1000:.0f} ms", ratio, "<= 1.2")


def job_seconds(name: str, env) -> float:
    """How long the job's own script ran, as it measured itself (written to /artifacts/elapsed)."""
    found = list(Path(env["CYCLE_HOME"]).glob(f"machines/*/artifacts/{name}/elapsed"))
    start, end = found[0].read_text().split()
    return float(end) - float(start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = {**os.environ, "CYCLE_HOME": str(work / "home"),
               "CYCLE_BASE_IMAGE": os.environ.get("CYCLE_BASE_IMAGE", "cycle/base:busybox")}
        os.environ.update(env)

        big = make_project(work / "big", "bench-logs", f"seq 1 {args.lines} | sed 's/^/log line number /'\n")
        name = run_job(big, env)
        plain = work / "plain.log"
        with open(plain, "w") as out:
            subprocess.run([*CYCLE, "job", "logs", name], env=env, stdout=out, check=True)
        lines = sum(1 for _ in open(plain))
        cli = timed([*CYCLE_SCRIPT, "job", "logs", name, "--tail", "100"], env)
        docker = docker_logs_tail(args.lines, env)
        tail = timed(["tail", "-n", "100", str(plain)], env)
        from emulator.platform import EmulatorPlatform

        platform = EmulatorPlatform()
        start = time.perf_counter()
        for _ in range(20):
            page = platform.logs_before(name, None, 100)
        api = (time.perf_counter() - start) / 20
        assert len(page) == 100
        print(f"job log of {lines} lines: `cycle job logs --tail 100` {cli * 1000:.1f} ms, `docker logs --tail 100` "
              f"{docker * 1000:.1f} ms, ratio {cli / docker:.2f} (goal <= 3); `tail -n 100` of a file "
              f"{tail * 1000:.1f} ms; the API call alone: {api * 1000:.2f} ms")
        record(f"`cycle job logs JOB --tail 100` of a {lines:,}-line job vs `docker logs --tail 100` of the same lines",
               f"{docker * 1000:.0f} ms", f"{cli * 1000:.0f} ms", cli / docker, "<= 3")
        interpreter_floor(cli, docker, env)
        job_list(args.jobs, work, env)

        burst = f"for i in $(seq 1 {args.seconds * 10}); do seq 1 10000; sleep 0.1; done"
        clock = "cut -d' ' -f1 /proc/uptime"
        loud = make_project(work / "loud", "bench-loud",
                            f"s=$({clock}); {burst}; echo $s $({clock}) > /artifacts/elapsed\n")
        quiet = make_project(work / "quiet", "bench-quiet",
                             f"s=$({clock}); ( {burst} ) > /dev/null; echo $s $({clock}) > /artifacts/elapsed\n")
        captured, silent = [], []
        for _ in range(3):
            captured.append(job_seconds(run_job(loud, env), env))
            silent.append(job_seconds(run_job(quiet, env), env))
        c, q = statistics.median(captured), statistics.median(silent)
        print(f"log capture at ~100k lines/s for {args.seconds} s: the job's script ran {c:.2f} s with its output "
              "captured "
              f"vs {q:.2f} s with it sent to /dev/null, ratio {c / q:.3f} (goal <= 1.03)")
        record("log capture of a job printing ~100k lines/s, its own run time vs output to /dev/null",
               f"{q:.2f} s", f"{c:.2f} s", c / q, "<= 1.03")


if __name__ == "__main__":
    main()
