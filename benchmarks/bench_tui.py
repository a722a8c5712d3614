"""The TUI's log view on a 10,000,000-line job log, against toolong on a file of the same lines.

Figures (goals from the issue): time to first paint of the bottom page (< 0.2 s, independent of
the log's length), time per older page while scrolling up (< 20 ms), render time of one screen
(< 5 ms), peak memory (< 200 MB). toolong runs in its own virtualenv (it pins an older textual),
made on first use under benchmarks/.venv-toolong.

    .venv/bin/python benchmarks/bench_tui.py [--lines 10000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

from summary import record  # noqa: E402  (benchmarks/ is the script's folder)


def make_log(home: Path, lines: int) -> str:
    """A job whose shipped log has `lines` lines, written straight through the state store."""
    from emulator.models import Stream
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    job = store.create_job("bench")
    t0 = time.time_ns()
    chunk = 200_000
    for start in range(0, lines, chunk):
        store.append_logs(job.id, [(t0 + i * 1000, Stream.STDERR if i % 7 == 0 else Stream.STDOUT,
                                    f"step {i} loss {1 / (i + 1):.6f}")
                                   for i in range(start, min(lines, start + chunk))])
    return job.name


async def measure(home: Path, name: str, pages: int) -> dict:
    from textual.app import App

    from cycle.tui.widgets.log_view import LogView
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform(home)

    class Probe(App):
        def compose(self):
            yield LogView(lambda before, limit: platform.logs_before(name, before, limit))

    start = time.perf_counter()
    app = Probe()
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.query_one(LogView)
        while log.line_count == 0:
            await pilot.pause(0.001)
        await pilot.pause(0)
        first_paint = time.perf_counter() - start
        log._cache.clear()
        t = time.perf_counter()
        for y in range(log.size.height):
            log.render_line(y)
        render = time.perf_counter() - t
        page_times = []
        for _ in range(pages):
            loaded = log.pages_loaded
            log.scroll_to(y=0, animate=False, immediate=True)  # scrolling near the top asks for the page
            log.load_older()  # (a no-op when the scroll already did)
            while log.pages_loaded == loaded and not log.reached_top:
                await pilot.pause(0.001)
            await pilot.pause(0)  # the prepend and the repaint
            page_times.append(log.last_page_seconds)  # from asking to the lines being in place
            if log.reached_top:
                break
    return {"first_paint": first_paint, "render": render, "page": sorted(page_times)[len(page_times) // 2],
            "lines_loaded": log.line_count}


def deep_page(home: Path, name: str) -> float:
    """The paging query at the very top of the log (the oldest page), to show it does not slow down."""
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform(home)
    job = platform.job(name)
    first = platform.store._connection().execute("SELECT MIN(id) FROM logs WHERE job_id = ?", (job.id,)).fetchone()[0]
    t = time.perf_counter()
    for _ in range(20):
        platform.logs_before(name, first + 600, 500)
    return (time.perf_counter() - t) / 20


def toolong(path: Path, lines: int) -> dict | None:
    venv = HERE / ".venv-toolong"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "toolong"], check=True)
    out = subprocess.run([str(venv / "bin" / "python"), str(HERE / "toolong_probe.py"), str(path), str(lines)],
                         capture_output=True, text=True, timeout=900)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        print(f"toolong probe failed: {out.stderr[-500:]}")
        return None


def child(home: str, name: str, pages: int) -> None:
    result = asyncio.run(measure(Path(home), name, pages))
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(home: Path, name: str, pages: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(home), name, str(pages)],
                         capture_output=True, text=True, check=True, env={**os.environ, "CYCLE_HOME": str(home)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child[:2], int(args.child[2]))
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        small_home, big_home = work / "small", work / "big"
        small_home.mkdir()
        big_home.mkdir()
        t = time.perf_counter()
        small = make_log(small_home, 10_000)
        big = make_log(big_home, args.lines)
        print(f"made the logs ({args.lines:,} lines) in {time.perf_counter() - t:.1f} s")
        small_r = run_child(small_home, small, 5)
        big_r = run_child(big_home, big, args.pages)
        print(f"first paint of the bottom page: {big_r['first_paint'] * 1000:.0f} ms on {args.lines:,} lines, "
              f"{small_r['first_paint'] * 1000:.0f} ms on 10,000 lines (goal < 200 ms, independent of length)")
        print(f"older page while scrolling up: {big_r['page'] * 1000:.1f} ms median over {args.pages} pages "
              f"(goal < 20 ms); the query for the oldest page alone: {deep_page(big_home, big) * 1000:.2f} ms")
        print(f"render one screen (40 lines, cold): {big_r['render'] * 1000:.2f} ms (goal < 5 ms)")
        print(f"peak memory of the viewer process: {big_r['peak_mb']:.0f} MB (goal < 200 MB)")
        lines = f"{args.lines:,} lines"
        record(f"TUI log view, first paint of the bottom page, {lines}", f"{small_r['first_paint'] * 1000:.0f} ms on "
               "10,000 lines", f"{big_r['first_paint'] * 1000:.0f} ms", big_r["first_paint"] * 1000, "< 200 ms")
        record(f"TUI log view, older page while scrolling up, {lines}", "-", f"{big_r['page'] * 1000:.1f} ms",
               big_r["page"] * 1000, "< 20 ms")
        record("TUI log view, render one screen (40 lines, cold)", "-", f"{big_r['render'] * 1000:.2f} ms",
               big_r["render"] * 1000, "< 5 ms")
        record(f"TUI log view, peak memory, {lines}", "-", f"{big_r['peak_mb']:.0f} MB", big_r["peak_mb"], "< 200 MB")
        plain = work / "plain.log"
        from cycle.pull import format_line
        from emulator.platform import EmulatorPlatform

        with open(plain, "w") as out:
            platform = EmulatorPlatform(big_home)
            for line in platform.logs(big):
                out.write(format_line(line) + "\n")
        other = toolong(plain, args.lines)
        if other:
            print(f"toolong on the same lines: first lines after {other['first_paint'] * 1000:.0f} ms, whole file "
                  "indexed after "
                  f"{(other['indexed'] or float('nan')):.1f} s, peak {other['peak_mb']:.0f} MB")
            print(f"ratios cycle/toolong: first paint {big_r['first_paint'] / other['first_paint']:.2f}, "
                  f"peak memory {big_r['peak_mb'] / other['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
