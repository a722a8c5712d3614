"""The TUI's log view on a 10,000,000-line job log, against toolong on a file of the same lines.

Figures (goals from the issue): time to first paint of the bottom page (< 0.2 s, independent of
the log's length), time per older page while scrolling up (< 20 ms), render time of one screen
(< 5 ms), peak memory (< 200 MB), time from `g` at the bottom to the first line on screen (< 100 ms)
a whole-log search (< 1 s) and a jobs-screen refresh with 10,000 jobs
(< 20 ms on the screen's thread). toolong runs in its own virtualenv (it pins an older textual),
made on first use under benchmarks/.venv-toolong.

    .venv/bin/python benchmarks/bench_tui.py [--lines 10000000] [--only navigation]
    .venv/bin/python benchmarks/bench_tui.py --jobs-only   # only the jobs-screen figure
    .venv/bin/python benchmarks/bench_tui.py --folder-only   # only the Artifacts tab's large-folder figures

The 10,000,000-line log is written once (one transaction) and kept between runs under
$TMPDIR/cycle-bench-tui/ (delete that folder to rebuild it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
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


NEEDLE = "HUGEEND"  # on the last line only: a search has to read the whole log to find it


def cached_log(lines: int) -> tuple[Path, str]:
    """A home whose job `bench` has `lines` lines ending in a NEEDLE line, built once and kept in a
    temp folder between runs: one transaction of executemany over a generator (about a minute for
    ten million lines), so each run measures the viewer, not the writing."""
    home = Path(tempfile.gettempdir()) / "cycle-bench-tui" / str(lines)
    done = home / "complete"
    if done.exists():
        return home, done.read_text()
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    from emulator.store import StateStore

    job = StateStore(home / "state.db").create_job("bench")  # the schema, the job row
    db = sqlite3.connect(home / "state.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    t0 = time.time_ns()

    def rows():
        for i in range(lines - 1):
            yield job.id, t0 + i * 1000, "stderr" if i % 7 == 0 else "stdout", f"step {i} loss {1 / (i + 1):.6f}"
        yield job.id, t0 + lines * 1000, "stdout", f"{NEEDLE}: the last of {lines:,} lines"

    with db:
        db.executemany("INSERT INTO logs(job_id, ts_ns, stream, text) VALUES (?, ?, ?, ?)", rows())
    db.close()
    done.write_text(job.name)
    return home, job.name


async def navigate(home: Path, name: str) -> dict:
    """From the bottom of the log: `g` until the first line is on screen, and `/` search of the
    whole log until the view knows every match (through the Platform, as `cycle tui` reads)."""
    from textual.app import App

    from cycle.tui.widgets.log_source import LogSource
    from cycle.tui.widgets.log_view import LogView
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform(home)

    class Probe(App):
        def compose(self):
            yield LogView(LogSource(platform, name))

    async def until(condition) -> None:
        """Check every 2 ms, letting the app (on this same loop) work between checks; not
        Pilot.pause, whose wait for every widget's queue each time takes a core from the search."""
        while not condition():
            await asyncio.sleep(0.002)

    app = Probe()
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.query_one(LogView)
        await until(lambda: log.line_count and log.total is not None and not log.fetching)
        t = time.perf_counter()
        press_as_a_terminal_does(app, "g")
        await until(lambda: log.first_line == 0 and log.top_index == 0 and not log.fetching)
        await pilot.pause(0)  # the repaint
        to_top = time.perf_counter() - t
        first_text = log.texts[0]
        t = time.perf_counter()
        log.find(NEEDLE)
        await until(lambda: log.matches and log.match_index is not None)
        await pilot.pause(0)
        search = time.perf_counter() - t
        await until(lambda: log.first_line is not None)
        numbered = time.perf_counter() - t
    t = time.perf_counter()
    platform.search_logs(name, NEEDLE)
    query = time.perf_counter() - t
    return {"to_top": to_top, "first_text": first_text, "search": search, "search_query": query, "numbered": numbered}


def press_as_a_terminal_does(app, key: str) -> None:
    """The key event as the terminal driver delivers it. Not Pilot.press: that also waits until
    the process has been idle for a 20 ms slice (twice), which on a busy machine adds 60-100 ms
    that no user sees."""
    from textual import events

    event = events.Key(key, key)
    event.set_sender(app)
    app._driver.send_message(event)


def warm_page_cache(path: Path) -> None:
    """Read the log's file once, so the search is timed as on a log the machine has just written or
    read (in the page cache), not on the disk's speed: a first search from a cold disk adds the read
    of the whole file (~0.5 s for these 683 MB here)."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def navigation_figures(lines: int) -> None:
    t = time.perf_counter()
    home, name = cached_log(lines)
    print(f"the {lines:,}-line log ready in {time.perf_counter() - t:.1f} s (kept in {home})")
    warm_page_cache(home / "state.db")
    out = subprocess.run([sys.executable, __file__, "--navigate", str(home), name], capture_output=True, text=True,
                         check=True, env={**os.environ, "CYCLE_HOME": str(home)})
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"`g` at the bottom to the first line on screen: {r['to_top'] * 1000:.0f} ms on {lines:,} lines "
          f"(goal < 100 ms; it shows {r['first_text']!r})")
    print(f"whole-log search, `/` to the match on screen: {r['search'] * 1000:.0f} ms on {lines:,} lines "
          f"(goal < 1 s; the sqlite query alone: {r['search_query'] * 1000:.0f} ms; \"line N\" follows after "
          f"{r['numbered'] * 1000:.0f} ms)")
    print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    record(f"TUI `g` at the bottom to the first line on screen, {lines:,} lines", "-",
           f"{r['to_top'] * 1000:.0f} ms", r["to_top"] * 1000, "< 100 ms")
    record(f"TUI whole-log search, `/` to the match on screen, {lines:,} lines (log in the page cache)",
           f"the sqlite query alone: {r['search_query'] * 1000:.0f} ms", f"{r['search'] * 1000:.0f} ms",
           r["search"] * 1000, "< 1000 ms")


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


def make_jobs(home: Path, count: int, files: int = 5) -> None:
    """`count` jobs (one in 500 RUNNING, its agent this process) with `files` stored files each,
    written straight into the state store's tables (one transaction)."""
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    t0, pid = time.time_ns() - 86_400_000_000_000, os.getpid()
    with store._tx() as db:
        db.executemany(
            "INSERT INTO jobs(name, project, state, reason, machine, created_ns, started_ns, finished_ns, exit_code, "
            "agent_pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(f"proj{i % 20}-{i}", f"proj{i % 20}", "RUNNING" if i % 500 == 0 else ("FAILED" if i % 9 == 0 else
              "FINISHED"), "OUT_OF_MEMORY" if i % 9 == 0 and i % 500 else None, f"local-{i % 4}", t0 + i * 10**9,
              t0 + i * 10**9, None if i % 500 == 0 else t0 + i * 10**9 + 60 * 10**9, None, pid)
             for i in range(1, count + 1)])
        db.executemany(
            "INSERT INTO artifacts(job_id, path, key, size, sha256, mtime_ns, uploaded_ns) "
            "VALUES (?, ?, ?, 1, ?, 0, 0)",
            [(job_id, f"step-{n}.pt", f"k/{job_id}/{n}", "0" * 64) for job_id in range(1, count + 1)
             for n in range(files)])


async def measure_jobs(home: Path, count: int, rounds: int = 20) -> dict:
    """The jobs screen on `count` real jobs: the time a one-second refresh takes on the screen's own
    thread (what makes it smooth or not), the worker's query and rows, and a rebuild (a new job)."""
    from cycle.tui.app import CycleApp
    from emulator.platform import EmulatorPlatform

    app = CycleApp(EmulatorPlatform(home))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        while screen.query_one("#jobs").row_count < count:
            await pilot.pause(0.01)
        worker, shown = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            listing = screen.listing()  # in the app: the worker thread
            worker.append(time.perf_counter() - t)
            t = time.perf_counter()
            screen._show(listing)  # in the app: the screen's thread
            shown.append(time.perf_counter() - t)
            await pilot.pause(0)
        screen._columns = ()  # the next refresh lays every row out again, as a new job does
        t = time.perf_counter()
        screen._show(listing)
        rebuild = time.perf_counter() - t
    return {"refresh": sorted(shown)[rounds // 2], "worker": sorted(worker)[rounds // 2], "rebuild": rebuild}


def jobs_figure(count: int = 10_000) -> str:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        make_jobs(home, count)
        os.environ["CYCLE_HOME"] = str(home)
        r = asyncio.run(measure_jobs(home, count))
    record(f"TUI jobs-screen refresh with {count:,} jobs (the screen's thread)",
           f"the summary query and rows in the worker: {r['worker'] * 1000:.0f} ms", f"{r['refresh'] * 1000:.1f} ms",
           r["refresh"] * 1000, "< 20 ms")
    return (f"jobs-screen refresh with {count:,} jobs: {r['refresh'] * 1000:.1f} ms on the screen's thread, median "
            f"(goal < 20 ms); the one summary query and the rows, in the worker thread: {r['worker'] * 1000:.0f} ms; "
            f"a rebuild (a job came or went): {r['rebuild'] * 1000:.0f} ms")


def make_folder_job(home: Path, count: int) -> str:
    """One finished job with `count` stored files in one folder (many/) and three at the top,
    written straight into the state store's tables."""
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    now = time.time_ns()
    with store._tx() as db:
        db.execute("INSERT INTO jobs(name, project, state, machine, created_ns, started_ns, finished_ns, exit_code) "
                   "VALUES ('files-1', 'files', 'FINISHED', 'local-1', ?, ?, ?, 0)", (now, now, now))
        paths = [f"many/step-{n}.pt" for n in range(count)] + ["a.txt", "b.txt", "c.txt"]
        db.executemany(
            "INSERT INTO artifacts(job_id, path, key, size, sha256, mtime_ns, uploaded_ns) "
            "VALUES (1, ?, ?, ?, ?, ?, ?)",
            [(path, f"jobs/files-1/artifacts/{path}", 4096 + n, "0" * 64, now - n * 10**9, now)
             for n, path in enumerate(paths)])
    return "files-1"


async def measure_folder(home: Path, name: str, rounds: int = 5) -> dict:
    """The Artifacts tab of a job with a large folder: the time Enter on the folder takes to fill
    its table, and a sort (`s`), on the screen's thread (the keys wait meanwhile)."""
    from cycle.tui.app import CycleApp
    from cycle.tui.widgets.artifact_browser import ArtifactBrowser
    from emulator.platform import EmulatorPlatform

    app = CycleApp(EmulatorPlatform(home))
    async with app.run_test(size=(160, 45)) as pilot:
        while app.screen.query_one("#jobs").row_count < 1:
            await pilot.pause(0.01)
        await pilot.press("enter", "tab")
        while not (browser := app.screen.query_one(ArtifactBrowser)).rows:
            await pilot.pause(0.01)
        opened, sorted_ = [], []
        for _ in range(rounds):
            browser.folder = ""
            t = time.perf_counter()
            browser.folder = "many"  # what Enter on many/ does
            opened.append(time.perf_counter() - t)
            t = time.perf_counter()
            browser.action_toggle_sort()
            sorted_.append(time.perf_counter() - t)
            await pilot.pause(0)
        assert browser.query_one("#artifact-table").row_count == len(browser.rows) > 1
    return {"open": sorted(opened)[rounds // 2], "sort": sorted(sorted_)[rounds // 2]}


def folder_figure(count: int = 40_000) -> str:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        os.environ["CYCLE_HOME"] = str(home)
        small = asyncio.run(measure_folder(home, make_folder_job(home, 400)))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        os.environ["CYCLE_HOME"] = str(home)
        big = asyncio.run(measure_folder(home, make_folder_job(home, count)))
    record(f"TUI Artifacts tab, Enter on a folder of {count:,} files to its table filled (the screen's thread)",
           f"{small['open'] * 1000:.0f} ms for 400 files", f"{big['open'] * 1000:.0f} ms", big["open"] * 1000,
           "< 500 ms")
    record(f"TUI Artifacts tab, a sort (`s`) of a folder of {count:,} files", f"{small['sort'] * 1000:.0f} ms for 400 "
           "files", f"{big['sort'] * 1000:.0f} ms", big["sort"] * 1000, "< 500 ms")
    return (f"artifacts folder of {count:,} files: opened in {big['open'] * 1000:.0f} ms, sorted in "
            f"{big['sort'] * 1000:.0f} ms (400 files: {small['open'] * 1000:.0f} ms, {small['sort'] * 1000:.0f} ms; "
            "goal < 500 ms each)")


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
    parser.add_argument("--only", choices=["navigation"], help="only the `g` and search figures")
    parser.add_argument("--child", nargs=3)
    parser.add_argument("--navigate", nargs=2)
    parser.add_argument("--jobs-only", action="store_true", help="only the jobs-screen refresh figure")
    parser.add_argument("--folder-only", action="store_true", help="only the Artifacts tab's large-folder figures")
    args = parser.parse_args()
    if args.child:
        child(*args.child[:2], int(args.child[2]))
        return
    if args.navigate:
        print(json.dumps(asyncio.run(navigate(Path(args.navigate[0]), args.navigate[1]))))
        return
    if args.only == "navigation":
        navigation_figures(args.lines)
        return
    if args.jobs_only:
        print(jobs_figure())
        return
    if args.folder_only:
        print(folder_figure())
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
        navigation_figures(args.lines)
        print(jobs_figure())
        print(folder_figure())
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
