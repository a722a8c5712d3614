"""A project without .cycleswap/run.sh or build.sh (or with a folder in their place) is refused
where the project is checked, before any job exists (badinput 3): `project test`, `--detach` and
`project upload` exit 2 naming the file; nothing is created, built or uploaded."""

from __future__ import annotations

import pytest

from emulator.platform import EmulatorPlatform

from helpers import cli


@pytest.fixture
def refused(project, home):
    """Runs a command on the project and checks it was refused up front: exit 2, the file named, no job."""
    def check(script: str, problem: str, *command: str, line: int | None = None) -> str:
        result = cli(*command, str(project.root))
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == 2, result.output
        where = f"{project.root / '.cycleswap' / script}" + (f":{line}" if line else "")
        assert f"{where}: {problem}" in result.output, result.output
        assert "Traceback" not in result.output
        platform = EmulatorPlatform()
        assert platform.jobs() == [] and platform.store.project_versions(project.name) == []
        assert platform.store.project_root(project.name) is None  # the name was not even claimed
        return result.output

    return check


@pytest.mark.parametrize("command", [("project", "test"), ("project", "test", "--detach"), ("project", "upload")])
def test_a_missing_run_sh_is_refused_before_any_job(project, refused, command):
    (project.root / ".cycleswap" / "run.sh").unlink()
    output = refused("run.sh", "does not exist", *command)
    assert "exit 127" in output and "uv run main.py" in output


def test_a_folder_named_run_sh_is_refused_before_any_job(project, refused):
    (project.root / ".cycleswap" / "run.sh").unlink()
    (project.root / ".cycleswap" / "run.sh").mkdir()
    assert "exit 126" in refused("run.sh", "is a folder, not a script", "project", "test")


@pytest.mark.parametrize("command", [("project", "test"), ("project", "upload")])
def test_a_missing_build_sh_is_refused_before_any_build(project, refused, command):
    """The spec makes build.sh part of every project (it is hashed into the build key and run on a
    cache miss): missing, the build failed with exit 127. An empty one is the way to build nothing."""
    (project.root / ".cycleswap" / "build.sh").unlink()
    assert "an empty build.sh means no build step" in refused("build.sh", "does not exist", *command)


def test_both_missing_are_named_together(project, refused):
    (project.root / ".cycleswap" / "run.sh").unlink()
    (project.root / ".cycleswap" / "build.sh").unlink()
    output = refused("run.sh", "does not exist", "project", "test")
    assert f"{project.root / '.cycleswap' / 'build.sh'}: does not exist" in output


@pytest.mark.parametrize("command", [("project", "test"), ("project", "upload")])
def test_a_run_sh_that_is_a_link_is_refused_as_uploads_copy_no_links(project, refused, command):
    """Uploads copy files, never links: a linked run.sh passed the check and left a queued job
    without it (exit 127 after its build)."""
    script = project.root / ".cycleswap" / "run.sh"
    (project.root / "run-real.sh").write_text(script.read_text())
    script.unlink()
    script.symlink_to("../run-real.sh")
    assert "cp --remove-destination" in refused("run.sh", "is a link", *command)


@pytest.mark.parametrize("script", ["run.sh", "build.sh"])
def test_a_script_with_windows_line_endings_is_refused_before_any_job(project, refused, script):
    """A user test: a run.sh saved with CRLF failed in the job (`$'\\r': command not found`, exit 2),
    a build.sh with a diagnosis that blamed a missing command named `$'\\r'`."""
    path = project.root / ".cycleswap" / script
    path.write_bytes(b"set -e\necho hello\r\necho again\r\n")  # most lines CRLF: named at the first
    output = refused(script, "has Windows line endings (CRLF)", "project", "test", line=2)
    assert f"sed -i 's/\\r$//' {path}" in output, output


def test_a_script_saved_with_a_byte_order_mark_is_refused(project, refused):
    path = project.root / ".cycleswap" / "run.sh"
    path.write_bytes(b"\xef\xbb\xbfecho hello\n")
    assert "UTF-8 without BOM" in refused("run.sh", "starts with a byte-order mark", "project", "test")


def test_a_manifest_saved_with_a_byte_order_mark_says_so(project, home):
    """A user test: tomllib said `Empty key` at 1:1, of a comment line."""
    path = project.root / ".cycleswap" / "manifest.toml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = cli("project", "test", str(project.root))
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"{path}:1:1: the file starts with a byte-order mark" in result.output, result.output
    assert "Empty key" not in result.output and EmulatorPlatform().jobs() == []
