"""Bad input refused in one paragraph with exit code 2, before any job or machine is taken (issue 10, item 11)."""

from __future__ import annotations

import pytest

from emulator.platform import EmulatorPlatform

from helpers import FINAL


def assert_refused_cleanly(result, words, jobs_before: int) -> None:
    """Exit 2, one paragraph naming the problem, no traceback, no new job, nothing left running or held."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for word in words:
        assert word in result.output, result.output
    platform = EmulatorPlatform()
    jobs = platform.jobs()
    assert len(jobs) == jobs_before, [(j.name, j.state) for j in jobs]
    assert all(j.state in FINAL for j in jobs)
    assert all(m.job_id is None for m in platform.store.machines())


@pytest.fixture
def earlier_job(project):
    """A finished job with one stored artifact, to mount."""
    project.write(".cycleswap/run.sh", "echo w > /artifacts/weights\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    return run.job.name


@pytest.mark.parametrize("suffix, words", [
    (":/data:rw", ["read-only", ":rw"]),
    (":/data:ro:x", ["JOB:/container/path"]),
    (":/data:z", ["JOB:/container/path"]),
    ("://", ["/data/prev"]),
    (":/data//prev", ["/data/prev"]),
    (":/data/./prev", ["/data/prev"]),
    (":/" + "a" * 299, ["255"]),
    (":" + "/abc" * 1100, ["4095"]),
    (":/da\ta", ["control character"]),
], ids=["rw", "two-modes", "selinux-mode", "root-by-slashes", "double-slash", "dot", "300-char-name", "4400-char-path",
        "tab"])
def test_bad_mount_job_is_refused_before_a_job_starts(project, earlier_job, suffix, words):
    before = len(EmulatorPlatform().jobs())
    result = project.test("--mount-job", earlier_job + suffix)
    assert_refused_cleanly(result, words, before)


def test_mount_job_read_only_suffix_is_accepted(project, earlier_job):
    project.write(".cycleswap/run.sh", "cat /data/prev/weights\n")
    run = project.test("--mount-job", f"{earlier_job}:/data/prev:ro")
    assert run.exit_code == 0, run.output
    assert "w" in run.output


@pytest.mark.parametrize("env_table, words", [
    ('env_vars = { SECRET = "a\\u0000b" }', ["manifest.toml:", "SECRET", "NUL"]),
    ('env_vars = { BIG = "' + "x" * (300 * 1024) + '" }', ["manifest.toml:", "BIG", "MAX_ARG_STRLEN"]),
    ("env_vars = { " + ", ".join(f'V{i} = "1"' for i in range(20_000)) + " }", ["manifest.toml:", "20000", "4096"]),
], ids=["NUL", "300 KiB value", "20,000 vars"])
def test_environment_linux_cannot_pass_is_refused_before_a_job_starts(project, env_table, words):
    project.write(".cycleswap/manifest.toml", project.root.joinpath(".cycleswap/manifest.toml").read_text()
                  .replace("env_vars = {  }", env_table))
    result = project.test()
    assert_refused_cleanly_run(result, words)


def assert_refused_cleanly_run(run, words) -> None:
    assert run.exit_code == 2, run.output[-500:]
    assert "Traceback" not in run.output and len(run.output) < 2000, run.output[-500:]
    for word in words:
        assert word in run.output, run.output
    assert run.job is None
