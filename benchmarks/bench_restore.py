"""Reassignment figures, each against a baseline measured in the same run.

- restore of ~1 GiB of artifacts (4 large files and 1,000 small ones) into the new machine's
  /artifacts, against a raw boto3 download_file / get_object of the same objects from the same
  S3 server (goal >= 0.8 of raw throughput)
- time from the kill on the old machine to the container restarted on the new one

    .venv/bin/python benchmarks/bench_restore.py [--scale 0.25]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CYCLE = [sys.executable, "-m", "cycle"]

from summary import record  # noqa: E402  (benchmarks/ is the script's folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    large_mb = max(1, int(250 * args.scale))
    small = max(10, int(1000 * args.scale))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        home = work / "home"
        home.mkdir()
        env = {**os.environ, "CYCLE_HOME": str(home), "CYCLE_LOG_CADENCE_SECONDS": "1",
               "CYCLE_BASE_IMAGE": os.environ.get("CYCLE_BASE_IMAGE", "cycle/base:busybox")}
        os.environ.update(env)
        from emulator.blobs import S3Store
        from emulator.platform import EmulatorPlatform
        from emulator.storage import start_server, stop_server

        host = start_server(home)
        try:
            project = work / "restore"
            subprocess.run([*CYCLE, "project", "init", str(project), "--name", "bench-restore"], check=True,
                           capture_output=True)
            (project / ".cycleswap" / "build.sh").write_text("true\n")
            (project / ".cycleswap" / "run.sh").write_text(
                "if [ -f /artifacts/done ]; then sleep 600; fi\n"
                f"for i in 1 2 3 4; do head -c {large_mb}000000 /dev/urandom > /artifacts/large-$i.bin; done\n"
                f"mkdir -p /artifacts/small; for i in $(seq 1 {small}); do head -c 4096 /dev/urandom > "
                "/artifacts/small/f-$i; done\n"
                "touch /artifacts/done; sleep 600\n")
            name = subprocess.run([*CYCLE, "project", "test", str(project), "--detach"], env=env, check=True,
                                  capture_output=True, text=True).stdout.strip()
            platform = EmulatorPlatform(home)
            expected = 4 + small + 1
            deadline = time.time() + 1800
            while len(platform.artifacts(name)) < expected and time.time() < deadline:
                time.sleep(0.5)
            total = sum(a.size for a in platform.artifacts(name))
            started = time.perf_counter()
            move = platform.reassign(name)
            request_to_restart = time.perf_counter() - started
            kill_to_restart = (move.restarted_ns - move.ts_ns) / 1e9
            platform.cancel(name)

            store = S3Store(host, "cycleswap", work / "snap")
            raw_dir = work / "raw"
            keys = [a.key for a in platform.artifacts(name)]
            start = time.perf_counter()
            for key in keys:
                target = raw_dir / key.replace("/", "_")
                target.parent.mkdir(parents=True, exist_ok=True)
                if key.split("/")[-1].startswith("large"):
                    store.client.download_file(store.bucket, key, str(target))
                else:
                    target.write_bytes(store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read())
            raw = time.perf_counter() - start
        finally:
            stop_server(home)
    print(f"restore of {len(keys)} files, {total / 2**20:.0f} MiB: {move.restore_seconds:.2f} s; raw boto3 get of the "
          "same "
          f"objects {raw:.2f} s; throughput ratio {raw / move.restore_seconds:.2f} (goal >= 0.8)")
    record(f"restore on reassign, {len(keys)} files, {total / 2**20:.0f} MiB, throughput vs raw boto3 get",
           f"{raw:.2f} s", f"{move.restore_seconds:.2f} s", raw / move.restore_seconds, ">= 0.8")
    print(f"kill on {move.from_machine} to container restarted on {move.to_machine}: {kill_to_restart:.2f} s "
          f"(request to restart: {request_to_restart:.2f} s)")


if __name__ == "__main__":
    main()
