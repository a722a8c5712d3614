"""`cycle project test` against the real Docker engine: build cache, run, states, logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from emulator.engine import docker as runtime
from emulator.engine import protocol
from emulator.models import JobState, Stream


def system_lines(run):
    return [r.text for r in run.logs if r.stream is Stream.SYSTEM]


def job_stdout(run):
    return [r.text.strip() for r in run.logs if r.stream is Stream.STDOUT]


def build_containers_created(client, home, since_ns: int) -> int:
    """Build containers the engine created for this home since `since_ns`, from Docker's own events."""
    filters = {"type": "container", "event": "create",
               "label": [f"{protocol.LABEL_HOME}={protocol.home_label(home)}", f"{protocol.LABEL_KIND}=build"]}
    events = client.events(since=since_ns // 10**9 - 1, until=int(time.time()) + 1, filters=filters, decode=True)
    return sum(1 for event in events if event["timeNano"] >= since_ns)


def test_first_run_builds_then_cache_hit_runs_no_build_container(project, home, docker_client):
    before_first = time.time_ns()
    first = project.test()
    assert first.exit_code == 0, first.output
    assert build_containers_created(docker_client, home, before_first) == 1
    assert first.job.state is JobState.FINISHED
    assert any("build cache miss" in line for line in system_lines(first))
    assert "hello" in first.output
    started = time.time_ns()
    second = project.test()
    assert second.exit_code == 0, second.output
    assert any("build cache hit" in line for line in system_lines(second))
    assert not any("[build]" in line for line in system_lines(second))
    assert build_containers_created(docker_client, home, started) == 0


def test_build_sh_or_build_file_change_misses(project):
    """Each miss names what changed since the project's newest build ("why did it rebuild?")."""
    def miss(run) -> str:
        (line,) = [line for line in system_lines(run) if "build cache miss" in line]
        return line

    project.write("req.txt", "a\n")
    project.manifest(build_files=["req.txt"])
    assert "(the project's first build)" in miss(project.test())
    assert any("cache hit" in line for line in system_lines(project.test()))
    project.write("req.txt", "b\n")
    assert "(req.txt changed since the last build (key " in miss(project.test())
    project.write(".cycleswap/build.sh", "echo building v2\n")
    run = project.test()
    assert "(build.sh changed since the last build (key " in miss(run)
    assert any("[build] building v2" in line for line in system_lines(run))
    project.write("uv.lock", "lock\n")
    project.manifest(build_files=["req.txt", "uv.lock"])
    assert "(uv.lock added since the last build (key " in miss(project.test())


def test_build_sees_only_cycleswap_and_build_files(project):
    project.write("req.txt", "dep\n")
    project.write("main.py", "print()\n")
    project.manifest(build_files=["req.txt"])
    project.write(".cycleswap/build.sh", "ls -A /app > /build-saw.txt\n")
    project.write(".cycleswap/run.sh", "cat /build-saw.txt\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    assert run.output.count(".cycleswap") >= 1 and "req.txt" in run.output
    assert "main.py" not in run.output


def test_builds_layer_on_the_previous_image_and_clean_starts_fresh(project):
    project.write(".cycleswap/run.sh", "ls /opt\n")
    project.write(".cycleswap/build.sh", "mkdir -p /opt && echo 1 > /opt/from-build-1\n")
    assert project.test().exit_code == 0
    project.write(".cycleswap/build.sh", "mkdir -p /opt && echo 2 > /opt/from-build-2\n")
    layered = project.test()
    assert "from-build-1" in layered.output and "from-build-2" in layered.output
    clean = project.test("--clean")
    assert any(line.startswith("--clean") for line in system_lines(clean))
    assert "from-build-2" in clean.output and "from-build-1" not in clean.output


def test_rebuild_reruns_build_on_top_of_previous_image_even_on_hit(project):
    project.write(".cycleswap/build.sh", "echo run >> /build-count\n")
    project.write(".cycleswap/run.sh", "wc -l < /build-count\n")
    assert job_stdout(project.test()) == ["1"]
    assert job_stdout(project.test()) == ["1"]  # a hit: build.sh did not run again
    rebuilt = project.test("--rebuild")
    assert any(line.startswith("--rebuild") for line in system_lines(rebuilt))
    assert job_stdout(rebuilt) == ["2"]


def test_rebuild_and_clean_together_are_refused(project):
    run = project.test("--rebuild", "--clean")
    assert run.exit_code == 2 and "exclude each other" in run.output


def test_env_vars_and_builtin_reach_the_job(project):
    project.manifest(env={"LEARNING_RATE": "3e-4", "GREETING": "hi there"})
    project.write(".cycleswap/run.sh", 'echo "lr=$LEARNING_RATE g=$GREETING inside=$INSIDE_CYCLESWAP_CONTAINER '
                                       'pwd=$(pwd)"\n')
    run = project.test()
    assert "lr=3e-4 g=hi there inside=1 pwd=/app" in run.output


def test_exit_code_maps_to_failed_and_cli_exits_with_it(project):
    project.write(".cycleswap/run.sh", "echo about to fail; exit 3\n")
    run = project.test()
    assert run.exit_code == 3
    assert run.job.state is JobState.FAILED and run.job.reason == "EXIT_CODE_3" and run.job.exit_code == 3


def test_failing_build_marks_job_failed(project):
    project.write(".cycleswap/build.sh", "echo broken >&2; exit 4\n")
    run = project.test()
    assert run.exit_code == 4
    assert run.job.state is JobState.FAILED and run.job.reason == "BUILD_FAILED"
    assert any("[build] broken" in line for line in system_lines(run))


def test_a_failed_builds_explanation_is_printed_once_as_the_closing_paragraph(project):
    project.write(".cycleswap/build.sh", "echo one\necho broken >&2\nexit 1\n")
    run = project.test()
    assert run.exit_code == 1 and run.job.reason == "BUILD_FAILED"
    assert run.output.count("build failed: build.sh exited with code 1") == 1
    closing = run.output.rstrip().split("\n\n")[-1]
    assert closing.startswith("build failed: build.sh exited with code 1; no known cause recognised")
    last = run.output.split("[system] [build] ")[-1].split("\n")[0]  # stdout and stderr of one batch: either
    assert f"its output is above, as the [build] lines (the last: {last!r})" in closing and last in ("one", "broken")
    # the build's own output streams live, once: the explanation does not repeat it as `build output |` lines
    assert run.output.count("[build] broken") == 1 and "build output |" not in run.output


def test_a_pyproject_that_is_not_toml_is_named_with_its_line_and_column(project):
    """uv's parse failure (here its 0.13 wording, printed by a stand-in build.sh: the busybox image
    has no uv) was "no known cause recognised"."""
    project.write(".cycleswap/build.sh", """\
        echo 'error: Failed to parse: pyproject.toml' >&2
        echo '  cause: TOML parse error at line 2, column 8' >&2
        echo '  2 | name = x' >&2
        echo '    |        ^' >&2
        echo '  string values must be quoted, expected literal string' >&2
        exit 2
        """)
    run = project.test()
    assert run.exit_code == 2 and run.job.reason == "BUILD_FAILED"
    closing = run.output.rstrip().split("\n\n")[-1]
    assert closing.startswith("build failed: build.sh exited with code 2. Cause: pyproject.toml is not valid TOML: "
                              "line 2, column 8 (string values must be quoted, expected literal string)"), closing
    assert "Fix: Edit pyproject.toml in the project folder at line 2, column 8" in closing


def test_streams_are_stored_apart_in_order_with_timestamps(project):
    project.write(".cycleswap/run.sh", """\
        echo out-1
        sleep 0.2
        echo err-1 >&2
        sleep 0.2
        echo out-2
        """)
    run = project.test()
    job_lines = [(r.stream, r.text) for r in run.logs if r.stream is not Stream.SYSTEM]
    assert job_lines == [(Stream.STDOUT, "out-1"), (Stream.STDERR, "err-1"), (Stream.STDOUT, "out-2")]
    stamps = [r.ts_ns for r in run.logs]
    assert stamps == sorted(stamps) and all(stamps)
    system = system_lines(run)
    assert system[0].startswith(f"job {project.name}-1 created") and system[-1].startswith("job finished")
    assert any(line.startswith("job started on machine") for line in system)


def test_long_lines_are_joined_back(project):
    project.write(".cycleswap/run.sh", "printf '%040000d\\n' 7\necho after\n")
    run = project.test()
    stdout = [r.text for r in run.logs if r.stream is Stream.STDOUT]
    assert len(stdout[0]) == 40000 and stdout[0].endswith("7") and stdout[1] == "after"


def test_project_files_reach_app_but_not_git_jobs_or_ignored(project):
    project.write("main.py", "print('x')\n")
    project.write(".git/config", "[core]\n")
    project.write(".cycleswap/jobs/old/output.log", "old\n")
    project.write("secret/token", "t\n")
    project.write(".cycleignore", "secret\n")
    project.write(".cycleswap/run.sh", "find /app -path /app/.cycleswap/run.sh -o -print | sort\n")
    run = project.test()
    assert "/app/main.py" in run.output
    assert "/app/.git" not in run.output and "/app/.cycleswap/jobs" not in run.output and "secret" not in run.output


def test_a_cycleignore_matching_run_sh_never_runs_the_build_images_old_copy(project):
    """The build image holds run.sh as it was at its build, and the key does not cover run.sh:
    with `*.sh` in .cycleignore the job ran that old copy (printed OLD, exit 0)."""
    project.write(".cycleswap/run.sh", "echo OLD\n")
    assert "OLD" in project.test().output
    project.write(".cycleignore", "*.sh\n")
    project.write(".cycleswap/run.sh", "echo NEW\n")
    run = project.test()
    assert run.exit_code == 0 and "build cache hit" in run.output, run.output
    assert "NEW" in run.output and "OLD" not in run.output
    assert "note: .cycleignore matches .cycleswap/build.sh (pattern '*.sh'), .cycleswap/run.sh" in run.output


def test_artifacts_are_bound_to_the_machine_folder(project, home):
    project.write(".cycleswap/run.sh", "mkdir -p /artifacts/ckpt && echo weights > /artifacts/ckpt/step-1.pt\n")
    run = project.test()
    written = home / "machines" / "local-0" / "artifacts" / run.job.name / "ckpt" / "step-1.pt"
    assert written.read_text() == "weights\n"
    assert run.job.machine == "local-0"


def test_network_none_turns_networking_off(project):
    project.write(".cycleswap/run.sh", "ls /sys/class/net\n")
    run = project.test("--network", "none")
    interfaces = [line for line in run.output.splitlines() if line and not line.startswith(("[system]", "job "))]
    assert interfaces == ["lo"]


def _limits_script():
    return """\
        cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes
        cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max
        """


def test_limits_follow_the_platform_and_skip_limits_lifts_them(project, engine):
    project.write(".cycleswap/run.sh", _limits_script())
    run = project.test()
    values = [line for line in run.output.splitlines() if line[:1].isdigit() or line == "max"]
    expected_memory = int(runtime.engine_memory(engine) * 0.9)
    assert abs(int(values[0]) - expected_memory) < 2**20  # the kernel rounds to pages
    assert values[1] == "4096"
    lifted = project.test("--skip-limits")
    values = [line for line in lifted.output.splitlines() if line[:1].isdigit() or line == "max"]
    assert values[1] == "max" and int(values[0]) > expected_memory


def test_out_of_memory_fails_the_job_with_a_message(project, monkeypatch):
    monkeypatch.setenv("CYCLE_MEMORY_LIMIT", str(48 * 2**20))
    project.write(".cycleswap/run.sh", "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}\n")
    run = project.test()
    assert run.job.state is JobState.FAILED and run.job.reason == "OUT_OF_MEMORY"
    assert any(line.startswith("out of memory") for line in system_lines(run))
    assert run.exit_code != 0


def test_missing_base_image_is_a_clear_error_and_nothing_is_pulled(project, monkeypatch, docker_client):
    monkeypatch.setenv("CYCLE_BASE_IMAGE", "cycle/never-made:1")
    run = project.test()
    assert run.exit_code == 2  # bad input, like a manifest field: the manifest's [ubuntu] version has no image
    assert "never pulls implicitly" in run.output and "cycle emulator base-image" in run.output
    assert "Traceback" not in run.output
    assert run.job is None  # nothing was started
    assert not docker_client.images.list(name="cycle/never-made")
    # the engine already has the offline stand-in (the test set-up made it): mapping it is the way out
    assert "cycle/base:bookworm is already in this engine" in run.output, run.output


@pytest.mark.parametrize("reference", ["Ubuntu:24.04", "foo bar", "a/../b"])
def test_a_base_image_the_engine_cannot_parse_is_bad_input_not_a_traceback(project, monkeypatch, reference):
    monkeypatch.setenv("CYCLE_BASE_IMAGE", reference)
    run = project.test()
    assert run.exit_code == 2 and run.job is None, run.output
    assert f"`{reference}` is not an image reference the Docker engine accepts" in run.output
    assert "$CYCLE_BASE_IMAGE" in run.output  # which setting chose it


@pytest.mark.parametrize("host", ["ssh://builder@far-away", "tcp://10.1.2.3:2375"])
def test_an_engine_on_another_machine_is_refused_in_one_paragraph(project, monkeypatch, host):
    monkeypatch.setenv("DOCKER_HOST", host)
    run = project.test()
    assert run.exit_code == 2 and run.job is None, run.output
    assert f"DOCKER_HOST={host}" in run.output and "bind-mounts this machine's folders" in run.output


def test_an_engine_that_does_not_answer_at_docker_host_is_named_with_the_fix(project, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    run = project.test()
    assert run.exit_code == 1 and run.job is None, run.output
    assert f"No Docker engine answers at DOCKER_HOST=unix://{tmp_path}/no-engine.sock" in run.output
    assert "unset DOCKER_HOST" in run.output


def test_flattening_keeps_the_chain_under_the_depth_limit(project, monkeypatch, docker_client):
    monkeypatch.setenv("CYCLE_FLATTEN_DEPTH", "3")
    project.manifest(env={"GREETING": "a b $HOME it's"})  # a space, a `$` and a quote survive the flatten
    project.write(".cycleswap/build.sh", "echo x >> /layers\n")
    project.write(".cycleswap/run.sh", "wc -l < /layers\n")
    for _ in range(4):
        run = project.test("--rebuild")
        assert run.exit_code == 0, run.output
    assert any("flattening" in line for line in system_lines(run))
    assert job_stdout(run) == ["4"]  # four builds, each layered on the last: nothing lost
    image = docker_client.images.get(run.job.image)
    assert len(image.history()) < 3
    assert image.labels.get("cycleswap.build-key") and image.labels.get("cycleswap.project") == project.name
    config = image.attrs["Config"]
    assert "GREETING=a b $HOME it's" in config["Env"] and config["WorkingDir"] == "/app"


def test_sweep_removes_leftovers_of_dead_runs(project, home, docker_client):
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    stale = store.create_job(project.name)
    store.set_state(stale.id, JobState.RUNNING)
    leftover = docker_client.containers.create(
        "cycle/base:busybox", command=["sleep", "100"],
        labels={protocol.LABEL: "1", protocol.LABEL_HOME: protocol.home_label(home), protocol.LABEL_PID: "999999999",
                protocol.LABEL_JOB: str(stale.id), protocol.LABEL_KIND: "job"},
    )
    run = project.test()
    assert run.exit_code == 0
    assert store.job(stale.id).state is JobState.FAILED and store.job(stale.id).reason == "LOST"
    from docker.errors import NotFound
    with pytest.raises(NotFound):
        docker_client.containers.get(leftover.id)


def test_ctrl_c_cancels_the_job_and_removes_its_container(project, home, docker_client):
    project.write(".cycleswap/run.sh", "echo started; sleep 60\n")
    process = subprocess.Popen([sys.executable, "-m", "cycle", "project", "test", str(project.root)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    deadline = time.time() + 60
    while time.time() < deadline:
        jobs = store.jobs(limit=1)
        if jobs and jobs[0].state is JobState.RUNNING:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 130, output
    job = store.jobs(limit=1)[0]
    assert job.state is JobState.CANCELLED
    assert "Traceback" not in output
    filters = {"label": [f"{protocol.LABEL_JOB}={job.id}", f"{protocol.LABEL_HOME}={protocol.home_label(home)}"]}
    assert docker_client.containers.list(all=True, filters=filters) == []


def test_a_host_virtualenv_never_reaches_app_even_without_cycleignore(project):
    """build.sh's /app/.venv must survive the copy of the project: the host's venv is left out."""
    project.write("main.py", "print('x')\n")
    project.write(".venv/pyvenv.cfg", "home = /usr/bin\n")
    project.write(".venv/bin/python", "host\n")
    project.write("myenv/pyvenv.cfg", "home = /usr/bin\n")
    project.write("pkg/__pycache__/m.cpython-311.pyc", "x\n")
    project.write(".cycleswap/build.sh", "mkdir -p /app/.venv && echo built > /app/.venv/marker\n")
    project.write(".cycleswap/run.sh", "find /app -path /app/.cycleswap -prune -o -print | sort; cat "
                                       "/app/.venv/marker\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    assert "/app/main.py" in run.output and "/app/.venv/marker" in run.output and "built" in run.output
    assert "/app/.venv/bin" not in run.output and "pyvenv.cfg" not in run.output
    assert "/app/myenv" not in run.output and "__pycache__" not in run.output


def test_a_build_that_runs_a_missing_command_says_so_and_how_to_fix_it(project):
    project.write(".cycleswap/build.sh", "echo installing\nuv sync\n")
    run = project.test()
    assert run.exit_code == 127
    assert run.job.state is JobState.FAILED and run.job.reason == "BUILD_FAILED"
    events = [r.text for r in run.logs if r.stream is Stream.SYSTEM and r.text.startswith("build failed:")]
    assert len(events) == 1
    assert "uv: command not found" in events[0] and "Install it earlier in build.sh" in events[0]
    # the closing paragraph of `project test` is the explanation, after the job's summary
    closing = run.output.rstrip().split("\n\n")[-1]
    assert closing.startswith("build failed: build.sh exited with code 127. Cause: uv: command not found")


def test_a_reader_of_stdout_that_leaves_does_not_end_the_job(project, home):
    """`cycle project test | head -1`: the job goes on to its end, every line in its log (it ended
    LOST when the broken pipe cut its run and its clean-up short)."""
    from emulator.platform import EmulatorPlatform

    project.write(".cycleswap/run.sh", "for i in $(seq 1 3000); do echo line $i; done; sleep 1; echo done\n")
    run = subprocess.Popen([sys.executable, "-m", "cycle", "project", "test", str(project.root)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert run.stdout.readline() == b"line 1\n"
    run.stdout.close()  # as `head -1` does
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err.decode()
    assert b"the reader of stdout left: the job goes on" in err and b"Traceback" not in err
    platform = EmulatorPlatform()
    job = platform.jobs(limit=1)[0]
    assert job.state is JobState.FINISHED
    printed = [r.text for r in platform.logs(job.name) if r.stream is Stream.STDOUT]
    assert printed == [f"line {i}" for i in range(1, 3001)] + ["done"]
