"""Pure logic without Docker: cache keys, file selection, state rules."""

from __future__ import annotations

import pytest

from emulator.context import build_context_files, build_key, build_key_for, project_files
from emulator.models import IllegalTransition, JobState, state_for_exit, transition


def key(build_sh=b"echo hi\n", files=(("pyproject.toml", b"a"),), version="24.04", base="sha256:1"):
    return build_key(build_sh, list(files), version, base)


def test_build_key_changes_with_every_input():
    base = key()
    assert key() == base
    assert key(build_sh=b"echo ho\n") != base
    assert key(files=(("pyproject.toml", b"b"),)) != base
    assert key(files=(("other.toml", b"a"),)) != base
    assert key(files=()) != base
    assert key(version="22.04") != base
    assert key(base="sha256:2") != base


def test_build_key_ignores_listing_order_but_not_boundaries():
    two = (("a", b"1"), ("b", b"2"))
    assert key(files=two) == key(files=tuple(reversed(two)))
    # moving bytes between path and content must not collide
    assert key(files=(("ab", b"c"),)) != key(files=(("a", b"bc"),))


def test_build_key_for_reads_files_relative_to_root(tmp_path):
    (tmp_path / ".cycleswap").mkdir()
    (tmp_path / ".cycleswap" / "build.sh").write_text("echo 1\n")
    (tmp_path / "req.txt").write_text("x\n")
    first = build_key_for(tmp_path, ("req.txt",), "24.04", "img")
    assert build_key_for(tmp_path, ("./req.txt",), "24.04", "img") == first
    (tmp_path / "req.txt").write_text("y\n")
    assert build_key_for(tmp_path, ("req.txt",), "24.04", "img") != first


def test_project_files_skip_git_jobs_and_ignore_file(tmp_path):
    for rel in ["main.py", ".git/config", ".cycleswap/run.sh", ".cycleswap/jobs/j-1/output.log",
                "data/raw/big.bin", "data/keep.txt", "pkg/__pycache__/m.pyc", "notes.log"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".cycleignore").write_text("# comment\ndata/raw/\n__pycache__\n*.log\n")
    files = set(project_files(tmp_path))
    assert {"main.py", ".cycleswap/run.sh", "data/keep.txt", ".cycleignore"} <= files
    assert not {p for p in files if p.startswith((".git/", ".cycleswap/jobs", "data/raw"))}
    assert ".git" not in files and "pkg/__pycache__" not in files and "notes.log" not in files


def test_project_files_keep_symlinks_as_links(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    (tmp_path / "link").symlink_to("/etc")
    files = project_files(tmp_path)
    assert "link" in files and "link/passwd" not in files


def test_git_and_job_folders_never_reach_app_and_patterns_leave_out_what_they_match(tmp_path):
    for rel in (".git/HEAD", ".cycleswap/jobs/j/output.log", ".cycleswap/run.sh", "a/b/node_modules/x",
                "a/data/x", "data/x", "main.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / ".cycleignore").write_text("node_modules\n/data\n")
    kept = {rel for rel, path in project_files(tmp_path).items() if path.is_file()}
    assert kept == {".cycleignore", ".cycleswap/run.sh", "a/data/x", "main.py"}


def test_build_context_has_only_cycleswap_and_build_files(tmp_path):
    (tmp_path / ".cycleswap" / "jobs" / "j").mkdir(parents=True)
    (tmp_path / ".cycleswap" / "build.sh").write_text("")
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "req.txt").write_text("")
    (tmp_path / "main.py").write_text("")
    files = set(build_context_files(tmp_path, ("deps/req.txt",)))
    assert files == {".cycleswap", ".cycleswap/build.sh", "deps", "deps/req.txt"}


@pytest.mark.parametrize("current,new", [
    (JobState.PENDING, JobState.RUNNING), (JobState.RUNNING, JobState.FINISHED),
    (JobState.RUNNING, JobState.FAILED), (JobState.RUNNING, JobState.CANCELLED),
    (JobState.RUNNING, JobState.PENDING), (JobState.PENDING, JobState.CANCELLED),
])
def test_allowed_transitions(current, new):
    assert transition(current, new) is new


@pytest.mark.parametrize("final", [JobState.FINISHED, JobState.FAILED, JobState.CANCELLED])
@pytest.mark.parametrize("new", list(JobState))
def test_final_states_never_change(final, new):
    with pytest.raises(IllegalTransition):
        transition(final, new)


def test_pending_cannot_finish_without_running():
    with pytest.raises(IllegalTransition):
        transition(JobState.PENDING, JobState.FINISHED)


def test_exit_codes_map_to_states():
    assert state_for_exit(0, False) == (JobState.FINISHED, None)
    assert state_for_exit(3, False) == (JobState.FAILED, "EXIT_CODE_3")
    assert state_for_exit(137, True) == (JobState.FAILED, "OUT_OF_MEMORY")


def test_state_store_names_jobs_per_project_and_orders_logs(tmp_path):
    from emulator.models import Stream
    from emulator.store import StateStore

    store = StateStore(tmp_path / "s.db")
    a1, a2, b1 = store.create_job("a"), store.create_job("a"), store.create_job("b")
    assert (a1.name, a2.name, b1.name) == ("a-1", "a-2", "b-1")
    store.append_logs(a1.id, [(30, Stream.STDOUT, "late"), (10, Stream.SYSTEM, "early"), (20, Stream.STDERR, "mid")])
    assert [r.text for r in store.logs(a1.id)] == ["early", "mid", "late"]
    assert [r.text for r in store.logs(a1.id, Stream.STDERR)] == ["mid"]
    running = store.set_state(a1.id, JobState.RUNNING, machine="m")
    assert running.started_ns and running.machine == "m"
    done = store.set_state(a1.id, JobState.FAILED, reason="EXIT_CODE_2", exit_code=2)
    assert done.finished_ns >= running.started_ns and done.exit_code == 2
    with pytest.raises(IllegalTransition):
        store.set_state(a1.id, JobState.RUNNING)
    assert [j.name for j in store.jobs()] == ["b-1", "a-2", "a-1"]
    assert [j.name for j in store.jobs(JobState.FAILED)] == ["a-1"]


def test_paging_backwards_has_no_gaps_or_duplicates_under_concurrent_appends(tmp_path):
    import threading

    from emulator.models import Stream
    from emulator.store import StateStore

    store = StateStore(tmp_path / "s.db")
    job = store.create_job("p")
    store.append_logs(job.id, [(i, Stream.STDOUT, f"line {i}") for i in range(5000)])
    stop = threading.Event()

    def writer():
        writer_store = StateStore(tmp_path / "s.db")
        n = 5000
        while not stop.is_set():
            writer_store.append_logs(job.id, [(n + i, Stream.STDERR, f"line {n + i}") for i in range(50)])
            n += 50

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        bottom = store.logs_before(job.id, None, 100)
        seen = [r.id for r in bottom]
        cursor = bottom[0].id
        while page := store.logs_before(job.id, cursor, 100):
            assert len(page) <= 100
            seen = [r.id for r in page] + seen
            cursor = page[0].id
    finally:
        stop.set()
        thread.join()
    assert len(seen) == len(set(seen)), "a line appeared twice"
    assert seen == list(range(seen[0], seen[-1] + 1)), "a line was skipped"
    assert seen[0] == store.logs(job.id)[0].id and len(seen) >= 5000


def test_many_processes_opening_a_new_state_store_at_once(tmp_path):
    import subprocess
    import sys

    # Every process opens the new store at the same instant: each says it is ready (imports done),
    # then waits for one byte on stdin, sent to all of them once all are ready (a barrier, not a
    # guessed start time that a busy machine overruns).
    code = ("import sys; from pathlib import Path; from emulator.store import StateStore; "
            "print('ready', flush=True); sys.stdin.read(1); StateStore(Path(sys.argv[1]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "s.db")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(16)]
    assert all(p.stdout.readline() == b"ready\n" for p in procs), "a process did not start"
    for p in procs:
        p.stdin.write(b"g")
        p.stdin.flush()
    errors = [p.communicate()[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for e in errors if e][:2]


def test_project_files_never_take_a_host_virtualenv_or_bytecode_without_cycleignore(tmp_path):
    for rel in ["main.py", ".venv/pyvenv.cfg", ".venv/bin/python", "env/pyvenv.cfg", "env/lib/x.py",
                "pkg/__pycache__/m.cpython-311.pyc", "pkg/m.py", "venv-notes/readme.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    files = set(project_files(tmp_path))
    assert {"main.py", "pkg/m.py", "venv-notes/readme.txt"} <= files
    assert not {p for p in files if p.startswith((".venv", "env", "pkg/__pycache__"))}
