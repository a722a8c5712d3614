"""`cycle drill`: bad flags are refused before anything reaches the engine."""

from __future__ import annotations

from helpers import cli


def test_drill_bad_input(tmp_path, home):
    result = cli("drill", str(tmp_path), "--at", "soon")
    assert result.exit_code == 2 and "--at" in result.output


def test_drill_refuses_rebuild_with_clean_and_a_bad_mount(tmp_path, home):
    result = cli("drill", str(tmp_path), "--rebuild", "--clean")
    assert result.exit_code == 2 and "--rebuild and --clean" in result.output
    result = cli("drill", str(tmp_path), "--mount-job", "nojob")
    assert result.exit_code == 2 and "JOB:/container/path" in result.output
