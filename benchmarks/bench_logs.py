"""Log store figures, each against a baseline measured in the same run.

- `cycle job logs JOB --tail 100` on a job with 1,000,000 log lines, against `tail -n 100` of a
  plain file of the same lines (goal <= 3); the Platform API call alone is printed too
- log capture cost: a job printing ~100k lines/s for a few seconds, against the same job with its
  output sent to /dev/null inside the container (goal <= 1.05)

    .venv/bin/python benchmarks/bench_logs.py [--lines 1000000] [--seconds 5]
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
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def job_seconds(name: str, env) -> float:
    """How long the job's own script ran, as it measured itself (written to /artifacts/elapsed)."""
    found = list(Path(env["CYCLE_HOME"]).glob(f"machines/*/artifacts/{name}/elapsed"))
    start, end = found[0].read_text().split()
    return float(end) - float(start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=5)
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
        cli = timed([*CYCLE, "job", "logs", name, "--tail", "100"], env)
        baseline = timed(["tail", "-n", "100", str(plain)], env)
        from emulator.platform import EmulatorPlatform

        platform = EmulatorPlatform()
        start = time.perf_counter()
        for _ in range(20):
            page = platform.logs_before(name, None, 100)
        api = (time.perf_counter() - start) / 20
        assert len(page) == 100
        print(f"job log of {lines} lines: `cycle job logs --tail 100` {cli * 1000:.1f} ms, `tail -n 100` "
              f"{baseline * 1000:.1f} ms, "
              f"ratio {cli / baseline:.1f} (goal <= 3); the API call alone: {api * 1000:.2f} ms, ratio "
              f"{api / baseline:.2f}")

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
              f"vs {q:.2f} s with it sent to /dev/null, ratio {c / q:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
