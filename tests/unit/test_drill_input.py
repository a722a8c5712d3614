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


def test_drill_refuses_flags_that_each_choose_the_move_times(tmp_path, home):
    """A user test: `--every 3 --at 4` silently ignored --every (README: `[--every S | --at T1,T2 | --seed N]`)."""
    for flags, named in ((["--every", "3", "--at", "4"], "--every and --at"),
                         (["--seed", "1", "--at", "4"], "--at and --seed"),
                         (["--seed", "1", "--every", "3"], "--every and --seed"),
                         (["--every", "3", "--at", "4", "--seed", "1"], "--every, --at and --seed")):
        result = cli("drill", str(tmp_path), *flags)
        assert result.exit_code == 2, (flags, result.output)
        assert f"{named} cannot be given together" in result.output and "Traceback" not in result.output


def test_drill_refuses_moves_that_disagree_with_at_and_an_empty_at(tmp_path, home):
    result = cli("drill", str(tmp_path), "--moves", "2", "--at", "4")
    assert result.exit_code == 2 and "--moves 2 and --at '4' disagree" in result.output
    result = cli("drill", str(tmp_path), "--at", "")
    assert result.exit_code == 2 and "--at '' must list positive seconds" in result.output


def test_drill_refuses_an_empty_progress_glob_before_it_starts(tmp_path, home):
    """A user test: `--progress-glob ''` ran a whole drill, then FAILed (no file matches it)."""
    for glob in ("", "  "):
        result = cli("drill", str(tmp_path), "--progress-glob", "*.pt", "--progress-glob", glob)
        assert result.exit_code == 2, result.output
        assert f"--progress-glob {glob!r} is empty" in result.output
    assert not (home / "state.db").exists()  # nothing started
