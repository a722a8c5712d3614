"""The CLI for daily use, without Docker (issue 13: 16, 17, 18): help texts, shell completion,
`job list` / `job status` output and the exit codes of the README's "Exit codes" table. Jobs are
made directly in a fresh home's state.db (sqlite only); nothing here starts a container."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import typer
from typer.testing import CliRunner

from cycle.cli import app
from emulator.models import JobState

CYCLE = [sys.executable, "-c", "from cycle.cli import main; main()"]


def make_jobs(count: int, project: str = "demo", state: JobState | None = None) -> list:
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform()
    jobs = [platform.store.create_job(project, agent_pid=os.getpid()) for _ in range(count)]
    if state is not None:
        for job in jobs:
            platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
            if state is not JobState.RUNNING:
                platform.store.set_state(job.id, state, exit_code=0)
    return [platform.job(job.name) for job in jobs]


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def every_command():
    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path

    yield from walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("path", list(every_command()), ids=" ".join)
def test_every_help_shows_capital_metavars_and_keeps_bracketed_words(path):
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    for leftover in ("TEXT", "INTEGER", "FLOAT", "<str>", "<int", "<float", "<path>", "{"):
        assert leftover not in result.output, (path, leftover, result.output)
    if path == ["project", "test"]:
        assert "marked [system]" in result.output and "[job] cuda" in result.output
        assert "Usage: cycle project test [OPTIONS] [DIR]" in result.output
    if path[:1] == ["job"] and path[1] not in ("list", "queue"):
        assert "[OPTIONS] JOB" in result.output, result.output


def every_group():
    """Every command group's path, the root's and those built on first use (cycle.cli.root.GROUPS)."""
    def walk(group, path):
        yield path, group
        context = group.context_class(group)
        for name in group.list_commands(context):
            if hasattr(sub := group.get_command(context, name), "list_commands"):  # a group
                yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


@pytest.mark.parametrize(("path", "group"), list(every_group()), ids=lambda found: (
    " ".join(["cycle", *found]) if isinstance(found, list) else ""))
def test_every_group_lists_its_commands_with_whole_summaries(path, group):
    """A user test: `cycle --help` read `job  Jobs: list them, see one's state, read or follow its
    log...`, and `cycle job --help` cut seven of nine summaries so."""
    text = run(*path, "--help").output
    lines = text[text.index("Commands:"):].splitlines()
    assert not [line for line in lines if line.endswith("...")], text  # click's cut
    listing = " ".join(" ".join(lines).split())
    context = group.context_class(group)
    for name in group.list_commands(context):
        summary = " ".join((group.get_command(context, name).help or "").partition("\n\n")[0].split())
        assert " ".join(summary.split(". ")[0].split()[:8]) in listing, (name, listing)


def test_job_logs_help_offers_follow_and_n():
    text = run("job", "logs", "--help").output
    assert "-n, --tail N" in text and "-f, --follow" in text


def test_show_completion_prints_a_bash_script_for_cycle():
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = subprocess.run([*CYCLE, "--show-completion", "bash"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "_CYCLE_COMPLETE=complete_bash" in result.stdout and "complete -o default -F" in result.stdout
    assert "--install-completion" in run("--help").output


def test_job_names_complete_from_the_platform_and_nothing_without_a_home(tmp_path, monkeypatch):
    from cycle.cli.style import complete_job_names

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "no-home-yet"))
    assert complete_job_names("") == []
    assert not (tmp_path / "no-home-yet").exists()  # completing created nothing
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    (tmp_path / "state.db").write_text("not a database")
    assert complete_job_names("") == []  # a broken home offers nothing rather than a traceback
    (tmp_path / "state.db").unlink()
    make_jobs(2, "alpha")
    make_jobs(1, "beta")
    assert complete_job_names("al") == ["alpha-2", "alpha-1"]
    assert complete_job_names("") == ["beta-1", "alpha-2", "alpha-1"]


def test_the_shell_asks_for_job_names_through_the_completion_protocol(home):
    make_jobs(2, "alpha")
    env = {**os.environ, "_CYCLE_COMPLETE": "complete_bash", "COMP_WORDS": "cycle job status alp",
           "COMP_CWORD": "3"}
    result = subprocess.run(CYCLE, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.split() == ["alpha-2", "alpha-1"]


def test_job_list_has_a_header_and_says_how_many_are_shown(home):
    make_jobs(3)
    result = run("job", "list", "--limit", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "REASON", "CREATED"]
    assert [line.split()[0] for line in lines[1:]] == ["demo-3", "demo-2"]
    assert "showing 2 of 3" in result.stderr
    assert "showing 3-3 of 3" in run("job", "list", "--limit", "2", "--offset", "2").stderr
    assert "showing" not in run("job", "list").stderr  # all of them shown: nothing to say
    listed = json.loads(run("job", "list", "--limit", "2", "--json").stdout)
    assert [job["name"] for job in listed] == ["demo-3", "demo-2"]
    assert set(listed[0]) == {"id", "name", "project", "state", "reason", "machine", "image", "exit_code",
                              "created", "started", "finished", "upload_queue", "upload_queue_warning", "archived",
                              "duration_seconds", "artifacts_stored", "artifacts_bytes"}


def test_job_list_on_an_empty_home_writes_nothing(home):
    for args in (["job", "list"], ["job", "list", "--json"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert list(home.iterdir()) == [], args
    assert "no jobs yet" in run("job", "list").stdout and json.loads(run("job", "list", "--json").stdout) == []


def test_job_status_shows_duration_and_archived(home):
    job = make_jobs(1, state=JobState.FINISHED)[0]
    result = run("job", "status", job.name)
    assert result.exit_code == 0, result.output
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert rows["archived"] == "no" and rows["duration"].endswith("s")
    info = json.loads(run("job", "status", job.name, "--json").stdout)
    assert info["archived"] is False and info["duration_seconds"] >= 0


def test_job_list_json_has_duration_seconds_as_job_status_does(home):
    """`job list --json` lacked the duration `job status --json` gives: same field, same meaning."""
    ended, pending = make_jobs(1, state=JobState.FINISHED)[0], make_jobs(1)[0]
    listed = {job["name"]: job for job in json.loads(run("job", "list", "--json").stdout)}
    for job in (ended, pending):
        status = json.loads(run("job", "status", job.name, "--json").stdout)
        assert listed[job.name]["duration_seconds"] == status["duration_seconds"], job.name
    assert listed[ended.name]["duration_seconds"] >= 0 and listed[pending.name]["duration_seconds"] is None


def test_archiving_an_archived_job_says_so_and_does_nothing(home):
    job = make_jobs(1, state=JobState.FINISHED)[0]
    first = run("job", "archive", job.name)
    assert first.exit_code == 0 and "artifacts deleted" in first.stdout, first.output
    again = run("job", "archive", job.name)
    assert again.exit_code == 0, again.output
    assert "already archived" in again.stdout and "artifacts deleted from storage" not in again.stdout


def test_the_job_groups_help_names_what_it_does(home):
    """It said "Inspect jobs: list them, see one's state, read its log" over commands that also act."""
    text = run("job", "--help").stdout
    for command in ("queue", "cancel", "reassign", "archive", "pull", "tail"):
        assert command in text.split("Commands:")[0], command


def test_job_status_counts_the_artifacts_stored_so_far(home):
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform

    job = make_jobs(1, state=JobState.RUNNING)[0]
    store = EmulatorPlatform().store
    for path, size in (("a.pt", 1024), ("b.pt", 2048), ("a.pt", 3072)):  # a.pt stored twice: its newest counts
        store.add_artifact(job.id, Artifact(path, f"jobs/{job.name}/artifacts/{path}", size, "0" * 64, 1, 2))
    rows = dict(line.split(None, 1) for line in run("job", "status", job.name).stdout.splitlines())
    assert rows["artifacts"] == "2 stored, 5.0 KiB"
    info = json.loads(run("job", "status", job.name, "--json").stdout)
    assert (info["artifacts_stored"], info["artifacts_bytes"]) == (2, 5120)


def test_job_list_json_counts_each_jobs_artifacts_as_job_status_does(home):
    """A script listing jobs had to call `job status` once per job for these two numbers."""
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform

    empty, stored, archived = make_jobs(3, state=JobState.FINISHED)
    store = EmulatorPlatform().store
    for job in (stored, archived):
        for path, size in (("a.pt", 1024), ("b.pt", 2048), ("a.pt", 3072)):  # a.pt stored twice: its newest counts
            store.add_artifact(job.id, Artifact(path, f"jobs/{job.name}/artifacts/{path}", size, "0" * 64, 1, 2))
    store.set_archived(archived.id)  # its files deleted from storage: none stored, as `job status` says
    listed = {job["name"]: job for job in json.loads(run("job", "list", "--json").stdout)}
    for job in (empty, stored, archived):
        status = json.loads(run("job", "status", job.name, "--json").stdout)
        counts = (listed[job.name]["artifacts_stored"], listed[job.name]["artifacts_bytes"])
        assert counts == (status["artifacts_stored"], status["artifacts_bytes"]), job.name
    assert (listed[stored.name]["artifacts_stored"], listed[stored.name]["artifacts_bytes"]) == (2, 5120)
    assert (listed[empty.name]["artifacts_stored"], listed[empty.name]["artifacts_bytes"]) == (0, 0)
    assert (listed[archived.name]["artifacts_stored"], listed[archived.name]["artifacts_bytes"]) == (0, 0)


def test_the_listed_jobs_artifacts_are_counted_in_one_indexed_query(home):
    """`job list --json` of 10,000 jobs is a benchmark row: one aggregate grouped by job, whatever
    the number of jobs, answered from the (job_id, path, id) index, never one query per job."""
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform
    from emulator.store.artifacts import NEWEST_OF_EACH_PATH_OF_JOBS

    jobs = make_jobs(40)
    store = EmulatorPlatform().store
    for number, job in enumerate(jobs):
        for index in range(number % 4):
            store.add_artifact(job.id, Artifact(f"f{index}", f"k/{index}", number, "0" * 64, 1, 2))
    statements = []
    store._connection().set_trace_callback(statements.append)
    totals = store.artifact_totals_of([job.id for job in jobs])
    store._connection().set_trace_callback(None)
    assert len(statements) == 1 and "GROUP BY job_id" in statements[0]
    assert {job.id: totals.get(job.id, (0, 0)) for job in jobs} == {job.id: store.artifact_totals(job.id)
                                                                    for job in jobs}
    plan = " ".join(row[-1] for row in store._connection().execute(
        f"EXPLAIN QUERY PLAN {NEWEST_OF_EACH_PATH_OF_JOBS}", ("[1, 2]",)))
    assert "USING COVERING INDEX artifacts_job_path (job_id=?)" in plan, plan
    assert store.artifact_totals_of([]) == {}


def test_duration_runs_from_start_to_finish_or_to_now():
    from dataclasses import replace

    from cycle.api import Job
    from cycle.cli.job import human_duration

    job = Job(1, "p-1", "p", JobState.RUNNING, None, "local-0", None, 0, started_ns=10 * 10**9, finished_ns=None,
              exit_code=None)
    assert job.run_seconds(now_ns=75 * 10**9) == 65.0
    assert replace(job, finished_ns=12 * 10**9).run_seconds(now_ns=99 * 10**9) == 2.0
    assert replace(job, started_ns=None).run_seconds(now_ns=1) is None
    assert [human_duration(s) for s in (2.04, 65, 3723)] == ["2.0s", "1m 05s", "1h 02m 03s"]


# --- the README's exit codes table, one row at a time ---

def test_exit_2_for_a_folder_that_does_not_exist(home, tmp_path):
    job = make_jobs(1, state=JobState.FINISHED)[0]
    for args in (["job", "pull", job.name, "--project-dir", "/nonexistent"],
                 ["job", "tail", job.name, "--project-dir", "/nonexistent"],
                 ["project", "test", "/nonexistent"], ["project", "upload", "/nonexistent"]):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "/nonexistent" in result.output and "does not exist" in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_exit_2_for_a_file_given_as_the_project(home, tmp_path):
    """`project test proj/train.py` (a slip for the folder) ran the whole project above the file."""
    project = tmp_path / "proj"
    assert run("project", "init", str(project)).exit_code == 0
    (project / "train.py").write_text("print('hi')\n")
    for args in (["project", "test", str(project / "train.py")], ["project", "upload", str(project / "train.py")]):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert f"train.py is a file, not a folder. Pass the project's folder, {project}." in result.output
    assert not (project / ".cycleswap" / "jobs").exists() or not any((project / ".cycleswap" / "jobs").iterdir())


def test_exit_2_for_a_bad_flag_or_job_name(home):
    assert run("job", "list", "--limit", "0").exit_code == 2
    assert run("job", "status", "no-such-job-1").exit_code == 2


def test_exit_130_when_following_logs_is_interrupted(home):
    """Ctrl-C (SIGINT) while `job logs -f` waits for a running job: exit 130, no traceback."""
    from emulator.models import Stream
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform()
    job = make_jobs(1, state=JobState.RUNNING)[0]
    platform.store.append_logs(job.id, [(time.time_ns(), Stream.STDOUT, "epoch 1")])
    process = subprocess.Popen([*CYCLE, "job", "logs", job.name, "-f", "--interval", "0.2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "epoch 1" in process.stdout.readline()  # it printed the log and now follows
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Aborted" not in err
    assert platform.job(job.name).state is JobState.RUNNING  # reading a log never touches the job


# --- issue 13 follow-ups (a user-tester's findings) ---

def test_job_list_columns_are_as_wide_as_their_longest_cell(home):
    make_jobs(1, "short")
    make_jobs(1, "a-project-name-much-longer-than-thirty-characters")
    lines = run("job", "list").stdout.splitlines()
    starts = {line.index(state) for line, state in zip(lines, ["STATE", "PENDING", "PENDING"])}
    assert len(starts) == 1, lines  # every row's STATE starts in the same column


def test_volume_tables_are_as_wide_as_their_longest_cell(home, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    for name in ("short", "a-volume-name-much-longer-than-twenty-four-characters"):
        assert run("volume", "upload", name, str(folder)).exit_code == 0
    lines = run("volume", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "FILES", "BYTES"]
    assert cells_start_under_their_header(lines, ["NAME", "VERSION", "FILES", "BYTES"])
    (folder / "b.txt").write_text("a much longer file\n" * 1000)
    run("volume", "upload", "short", str(folder))
    lines = run("volume", "versions", "short").stdout.splitlines()
    assert cells_start_under_their_header(lines, ["VERSION", "FILES", "BYTES", "NEW BYTES"])


def cells_start_under_their_header(lines: list[str], header: list[str]) -> bool:
    """Whether every row has a cell starting exactly where each header word starts (and nowhere
    else), i.e. the columns line up whatever the cells' lengths."""
    starts = [lines[0].index(word) for word in header]
    assert len(lines) > 1, lines
    for line in lines[1:]:
        cell_starts = [i for i, c in enumerate(line) if c != " " and (i == 0 or line[i - 1] == " ")]
        assert cell_starts == starts, (lines, starts)
    return True


def test_job_logs_keeps_a_progress_bars_carriage_returns_as_docker_logs_does(home):
    from emulator.models import Stream
    from emulator.platform import EmulatorPlatform

    job = make_jobs(1, state=JobState.FINISHED)[0]
    EmulatorPlatform().store.append_logs(job.id, [(time.time_ns(), Stream.STDERR, " 50%|#####\r100%|##########")])
    result = run("job", "logs", job.name)
    assert result.stdout.endswith("[stderr]  50%|#####\r100%|##########\n"), repr(result.stdout)  # bytes as printed


def test_job_status_says_yes_or_no_for_the_upload_queue_warning(home):
    job = make_jobs(1, state=JobState.FINISHED)[0]
    rows = dict(line.split(None, 1) for line in run("job", "status", job.name).stdout.splitlines())
    assert rows["upload_queue_warning"] == "no"


def test_tui_completes_job_names(home):
    make_jobs(2, "alpha")
    env = {**os.environ, "_CYCLE_COMPLETE": "complete_bash", "COMP_WORDS": "cycle tui alp", "COMP_CWORD": "2"}
    result = subprocess.run(CYCLE, capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.split() == ["alpha-2", "alpha-1"], result.stderr
    assert "[JOB]" in run("tui", "--help").output  # still optional


def test_tui_in_a_pipe_refuses_at_once_instead_of_waiting_for_keys(home):
    import pty

    keyboard, terminal = pty.openpty()  # `cycle tui | cat`: keys from a terminal, output into a pipe
    try:
        result = subprocess.run([*CYCLE, "tui"], stdin=terminal, capture_output=True, text=True, timeout=30)
    finally:
        os.close(keyboard)
        os.close(terminal)
    assert result.returncode == 2, result.stderr
    assert "output is a pipe or a file" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stdout == ""  # one paragraph, nothing drawn


def test_a_count_option_that_is_not_a_number_says_what_it_takes(home):
    job = make_jobs(1, state=JobState.FINISHED)[0]
    for args, option in ((["job", "logs", job.name, "-n", "abc"], "-n/--tail"), (["job", "list", "--limit", "0"],
                                                                                   "--limit")):
        result = run(*args)
        assert result.exit_code == 2
        assert f"{option} takes a whole number" in result.output and "int range" not in result.output, result.output


def test_project_dir_that_is_a_file_is_not_a_folder(home, tmp_path):
    job = make_jobs(1, state=JobState.FINISHED)[0]
    a_file = tmp_path / "passwd"
    a_file.write_text("x\n")
    result = run("job", "pull", job.name, "--project-dir", str(a_file))
    assert result.exit_code == 2 and "is not a folder" in result.output and "does not exist" not in result.output


def test_upload_prints_no_stray_empty_line_on_stdout(home, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    result = subprocess.run([*CYCLE, "volume", "upload", "vol", str(folder)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("volume vol version 1"), repr(result.stdout)


def test_a_closed_stdout_pipe_exits_quietly(home):
    make_jobs(3)
    process = subprocess.Popen([*CYCLE, "job", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader left before the first line (`| head -0`)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and err == "", err


def test_job_queue_outside_a_project_asks_for_a_project_name(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("job", "queue")
    assert result.exit_code == 2
    assert "project's name" in result.output and "pass the project folder" not in result.output, result.output


@pytest.mark.parametrize("option", ["--limit", "--offset"])
def test_a_count_past_sqlites_integers_is_read_as_all(tmp_path, monkeypatch, option):
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    from cycle.cli import app
    from emulator.platform import EmulatorPlatform

    EmulatorPlatform().store.create_job("demo")  # a home with a job: the query runs
    result = CliRunner().invoke(app, ["job", "list", option, "99999999999999999999", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == (1 if option == "--limit" else 0)


def test_job_status_shows_each_move_and_what_it_lost(home):
    """`job status` of a moved job showed only its last machine: no trace of the moves, the files
    each lost in the queue or the restore (only `cycle drill` and the log said)."""
    from emulator.models import Move
    from emulator.platform import EmulatorPlatform

    moved, still = make_jobs(2, state=JobState.RUNNING)
    store = EmulatorPlatform().store
    first = store.add_move(Move(0, moved.id, "local-0", "local-1", "requested by `cycle drill`", time.time_ns(),
                                uploaded=7, lost=["ckpt/step-3.pt", "ckpt/step-3.json"]))
    store.update_move(first, restored=["ckpt/step-2.pt"], restored_bytes=2048, restore_seconds=0.25,
                      restarted_ns=time.time_ns())
    store.add_move(Move(0, moved.id, "local-1", None, "machine local-1 went offline", time.time_ns()))

    text = run("job", "status", moved.name).stdout
    assert "moves                2" in text
    assert ("  move 1             local-0 -> local-1 at " in text and "(requested by `cycle drill`): 7 in storage, "
            "2 lost in the queue, 1 restored (2.0 KiB); lost: ckpt/step-3.pt, ckpt/step-3.json" in text)
    assert "  move 2             local-1 -> (no machine yet) at " in text
    info = json.loads(run("job", "status", moved.name, "--json").stdout)
    assert [(m["from"], m["to"], m["files_uploaded"], m["files_lost"], m["restored_files"], m["restored_bytes"])
            for m in info["moves"]] == [("local-0", "local-1", 7, ["ckpt/step-3.pt", "ckpt/step-3.json"], 1, 2048),
                                        ("local-1", None, 0, [], 0, 0)]
    assert info["moves"][0]["restore_seconds"] == 0.25 and info["moves"][1]["restarted"] is None
    assert "moves                0" in run("job", "status", still.name).stdout
    assert json.loads(run("job", "status", still.name, "--json").stdout)["moves"] == []


def test_a_lost_file_whose_older_version_came_back_says_so(home):
    """A user test: `lost: latest.pt` read as gone, yet its older version was restored (the job got
    a latest.pt older than the one it had written)."""
    from emulator.models import Move
    from emulator.platform import EmulatorPlatform

    moved = make_jobs(1, state=JobState.RUNNING)[0]
    store = EmulatorPlatform().store
    first = store.add_move(Move(0, moved.id, "local-0", "local-1", "requested by `cycle drill`", time.time_ns(),
                                uploaded=3, lost=["latest.pt", "ckpt-3.pt"]))
    store.update_move(first, restored=["ckpt-1.pt", "ckpt-2.pt", "latest.pt"], restored_bytes=3, restore_seconds=0.1,
                      restarted_ns=time.time_ns())
    assert "; lost: latest.pt (an older version restored), ckpt-3.pt" in run("job", "status", moved.name).stdout
    info = json.loads(run("job", "status", moved.name, "--json").stdout)
    assert info["moves"][0]["files_lost"] == ["latest.pt", "ckpt-3.pt"]
    assert info["moves"][0]["files_lost_older_restored"] == ["latest.pt"]


def test_cancelling_a_cancelled_job_succeeds_and_an_ended_one_is_refused(home):
    """Cancel of a CANCELLED job exited 2 while archive of an archived job exits 0: a script that
    cancels without checking first failed for nothing. A FINISHED job still cannot be cancelled."""
    cancelled, finished = make_jobs(1, state=JobState.CANCELLED)[0], make_jobs(1, state=JobState.FINISHED)[0]
    again = run("job", "cancel", cancelled.name)
    assert again.exit_code == 0 and f"job {cancelled.name} was already CANCELLED; nothing to do" in again.stdout
    refused = run("job", "cancel", finished.name)
    assert refused.exit_code == 2 and "already FINISHED" in refused.output
    from emulator.platform import EmulatorPlatform

    assert EmulatorPlatform().cancel(cancelled.name).state is JobState.CANCELLED  # the TUI's and the SDK's cancel too


def test_pull_gives_each_file_the_modified_time_the_job_gave_it(home, tmp_path):
    """Pulled files were dated by the pull (and a restore's by its path order), so resuming "from
    the newest checkpoint by mtime" picked step-9.pt over step-30.pt. The records keep each file's
    mtime: downloads get it back, as `cp -p` would."""
    import hashlib

    from cycle.api.keys import artifact_key
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform
    from emulator.storage import open_blob_store

    job = make_jobs(1, state=JobState.FINISHED)[0]
    platform = EmulatorPlatform()
    blobs = open_blob_store(platform.home)
    written = {"ckpt/step-30.pt": 1_700_000_300_123_456_789, "ckpt/step-9.pt": 1_700_000_009_000_000_000}
    for path, mtime in written.items():
        body = path.encode()
        key, sha = artifact_key(job.name, path), hashlib.sha256(body).hexdigest()
        blobs.put_bytes(key, body, sha)
        platform.store.add_artifact(job.id, Artifact(path, key, len(body), sha, mtime, mtime + 5, blobs.name))
    pulled = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    assert pulled.exit_code == 0, pulled.output
    folder = tmp_path / ".cycleswap" / "jobs" / job.name / "artifacts"
    assert {path: os.stat(folder / path).st_mtime_ns for path in written} == written


def stored_steps(count: int, state: JobState = JobState.FINISHED):
    """A job (in `state`) with `count` stored artifacts, step-<i>.pt."""
    job = make_jobs(1, state=state)[0]
    for i in range(count):
        add_step(job, i)
    return job


def add_step(job, i: int) -> None:
    """Store and record the job's artifact step-<i>.pt."""
    import hashlib

    from cycle.api.keys import artifact_key
    from emulator.models import Artifact
    from emulator.platform import EmulatorPlatform
    from emulator.storage import open_blob_store

    platform = EmulatorPlatform()
    blobs = open_blob_store(platform.home)
    body = f"step {i}".encode()
    key, sha = artifact_key(job.name, f"step-{i}.pt"), hashlib.sha256(body).hexdigest()
    blobs.put_bytes(key, body, sha)
    platform.store.add_artifact(job.id, Artifact(f"step-{i}.pt", key, len(body), sha, 1, 2, blobs.name))


def test_job_tail_names_a_few_downloads_and_counts_many(home, tmp_path):
    """A flood of small files printed one `downloaded` line each, thousands a second."""
    job = stored_steps(8)
    tailed = run("job", "tail", job.name, "--project-dir", str(tmp_path))
    assert tailed.exit_code == 0, tailed.output
    lines = [line for line in tailed.output.splitlines() if line.startswith("downloaded")]
    assert lines == ["downloaded 8 artifacts: artifacts/step-0.pt, artifacts/step-1.pt, artifacts/step-2.pt and 5 more"]


def test_an_interrupted_job_tail_says_the_job_keeps_running_and_what_it_saved(home, tmp_path, monkeypatch):
    """Each file once, however many passes saw it, and those of the pass Ctrl-C cut short too."""
    import cycle.cli.job
    import cycle.pull

    job = stored_steps(2, JobState.RUNNING)
    real_follow = cycle.cli.job.follow_log

    def interrupted_in_the_second_pass(platform, name, after, interval, write, each_pass=None, **kwargs):
        each_pass(platform.job(name))
        each_pass(platform.job(name))  # nothing new: none counted twice
        real_download, calls = cycle.pull.download_one, []

        def then_cut(*args, **kwargs):  # two files stored since: the first saved, Ctrl-C during the second
            calls.append(args)
            if len(calls) == 2:
                raise KeyboardInterrupt
            real_download(*args, **kwargs)

        cycle.pull.download_one = then_cut
        try:
            add_step(job, 2)
            add_step(job, 3)
            each_pass(platform.job(name))
        finally:
            cycle.pull.download_one = real_download

    monkeypatch.setattr(cycle.cli.job, "follow_log", interrupted_in_the_second_pass)
    tailed = run("job", "tail", job.name, "--project-dir", str(tmp_path))
    monkeypatch.setattr(cycle.cli.job, "follow_log", real_follow)
    folder = tmp_path / ".cycleswap" / "jobs" / job.name
    assert tailed.exit_code == 130
    assert "downloaded artifacts/step-0.pt" in tailed.output
    assert (f"job tail interrupted: job {job.name} keeps running; 3 artifact(s) saved in {folder / 'artifacts'} and "
            f"its log so far in {folder / 'output.log'}; `cycle job tail {job.name}` goes on") in tailed.output


def test_an_interrupted_pull_says_how_many_files_it_saved_and_that_running_it_again_finishes(home, tmp_path,
                                                                                            monkeypatch):
    """Ctrl-C in `job pull` exited 130 without a word, leaving a folder with some of the files."""
    import cycle.pull

    job = stored_steps(6)
    real_download, done = cycle.pull.download_one, []

    def interrupted_at_the_fourth(*args, **kwargs):
        if len(done) == 3:
            raise KeyboardInterrupt
        real_download(*args, **kwargs)
        done.append(args[1])

    monkeypatch.setattr(cycle.pull, "download_one", interrupted_at_the_fourth)
    pulled = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    folder = tmp_path / ".cycleswap" / "jobs" / job.name / "artifacts"
    assert pulled.exit_code == 130
    assert f"pull interrupted: 3 of 6 file(s) to download saved in {folder}; run it again to finish" in pulled.output
    monkeypatch.setattr(cycle.pull, "download_one", real_download)
    real_compare = cycle.pull.changed_artifacts

    def interrupted_while_comparing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cycle.pull, "changed_artifacts", interrupted_while_comparing)  # a large job: it takes a while
    early = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    assert early.exit_code == 130 and "0 of 0" not in early.output
    assert (f"pull interrupted: while comparing the job's stored files with those in {folder}, nothing downloaded yet; "
            "run it again to finish") in early.output
    monkeypatch.setattr(cycle.pull, "changed_artifacts", real_compare)
    again = run("job", "pull", job.name, "--project-dir", str(tmp_path))
    assert again.exit_code == 0 and "3 artifact(s) downloaded" in again.stdout and "3 unchanged" in again.stdout


def test_an_unknown_number_of_a_known_project_names_its_jobs_range(home):
    """`job status demo-99999` suggested demo-9, demo-8, demo-7 (string similarity) whatever the
    project's newest job was."""
    make_jobs(30, project="demo")
    result = run("job", "status", "demo-99999")
    assert result.exit_code == 2
    assert "Project demo's jobs are numbered 1 to 30 (the newest: demo-30)." in result.output
    assert "Did you mean" not in result.output  # demo-9, demo-8, demo-7 only look alike
    assert "Did you mean demo-30" in run("job", "status", "demo-310").output  # a typo of demo-30 or demo-10
    assert "Did you mean demo-12" in run("job", "status", "demo-12x").output  # not a number: the closest names


def every_example():
    """(command, its arguments) of each example line in every command's help epilog."""
    import shlex

    for _path, group in every_group():
        context = group.context_class(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            for line in (command.epilog or "").splitlines():
                words = shlex.split(line.split("#")[0].split("&&")[0].split("|")[0])
                if words[:1] == ["cycle"]:
                    yield " ".join(words), words[1:]


@pytest.mark.parametrize(("line", "args"), list(every_example()), ids=lambda found: found if isinstance(
    found, str) else "")
def test_every_example_in_the_helps_parses(line, args):
    """The examples the helps show are real command lines: every option they use exists and takes
    what they give it (parsed by the command itself, nothing run)."""
    root = typer.main.get_command(app)
    command, context = root, root.context_class(root)
    while hasattr(command, "list_commands") and args and args[0] in command.list_commands(context):
        command = command.get_command(context, args.pop(0))
        context = command.context_class(command)
    assert not hasattr(command, "list_commands"), line  # a command, not a group
    command.make_context(command.name, list(args))  # raises on an unknown option or a bad value
