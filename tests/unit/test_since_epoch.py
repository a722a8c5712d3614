"""`cycle job logs JOB --since` takes seconds since the epoch as `docker logs --since` does
(1700000000, 1700000000.123456789), read in integer ns: no float rounding. No Docker."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from cycle.cli.job import LATEST_NS, parse_since
from cycle.errors import CycleError
from emulator.models import JobState, Stream


@pytest.mark.parametrize(("since", "ns"), [
    ("1700000000", 1_700_000_000_000_000_000),
    ("1700000000.123456789", 1_700_000_000_123_456_789),
    ("1700000000.000000001", 1_700_000_000_000_000_001),  # a float keeps ~16 digits: this was ...000 through one
    ("1795496887.087079296", 1_795_496_887_087_079_296),
    ("1700000000.5", 1_700_000_000_500_000_000),
    ("1700000000.", None), ("0", 0), ("0.000000001", 1), (" 1700000000 ", 1_700_000_000_000_000_000),
])
def test_a_bare_number_is_seconds_since_the_epoch_in_exact_ns(since, ns):
    if ns is None:  # no digits after the point: not a number docker takes either
        with pytest.raises(CycleError) as refused:
            parse_since(since)
        assert refused.value.exit_code == 2
    else:
        assert parse_since(since) == ns


def test_an_epoch_time_past_2262_means_no_line():
    assert parse_since("99999999999") == LATEST_NS
    assert parse_since("9223372036.854775808") == LATEST_NS  # one ns past sqlite's last integer
    assert parse_since("9223372036.854775807") == LATEST_NS
    assert parse_since("1" + "0" * 5000) == LATEST_NS  # Python reads at most 4,300 digits: was a traceback
    assert parse_since("0" * 5000 + "1700000000") == 1_700_000_000_000_000_000


def test_ages_are_read_in_integer_ns_too():
    import time

    before = time.time_ns()
    since = parse_since("1.000000001s")
    assert before - 1_000_000_001 - 5 * 10**9 < since <= time.time_ns() - 1_000_000_001
    assert parse_since("99999999999999999999s") == 0  # older than 1970: every line
    assert parse_since("9" * 5000 + "d") == 0


@pytest.mark.parametrize("since", ["1700000000.1234567891", "-1700000000", "1.7e9", "0x10"])
def test_a_number_docker_would_not_take_is_one_paragraph_and_exit_2(since):
    with pytest.raises(CycleError) as refused:
        parse_since(since)
    error = str(refused.value)
    assert refused.value.exit_code == 2 and "\n" not in error
    assert "--since" in error and "epoch" in error and "1700000000.123456789" in error, error


def test_job_logs_since_an_epoch_time_starts_at_that_ns(tmp_path, monkeypatch):
    """The line at 1790000000.000000005 and the ones after it; not the one a ns before."""
    from cycle.cli.root import app
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    store = EmulatorPlatform().store
    made = store.create_job("epoch", agent_pid=os.getpid())
    store.set_state(made.id, JobState.RUNNING, machine="local-0")
    store.set_state(made.id, JobState.FINISHED, exit_code=0)
    store.append_logs(made.id, [(1_790_000_000_000_000_000 + i, Stream.STDOUT, f"line {i}") for i in range(10)])
    result = CliRunner().invoke(app, ["job", "logs", made.name, "--since", "1790000000.000000005"])
    assert result.exit_code == 0, result.output
    assert [line.split("] ", 1)[1] for line in result.stdout.splitlines()] == [f"line {i}" for i in range(5, 10)]
    assert "seconds since the epoch" in CliRunner().invoke(app, ["job", "logs", "--help"]).stdout


@pytest.mark.parametrize(("since", "noted"), [("90", True), ("20261124", True), ("1700000000", False)])
def test_an_epoch_time_before_2001_is_read_so_with_a_note_on_what_was_maybe_meant(since, noted, capsys):
    assert parse_since(since) == int(since) * 10**9  # as docker reads it
    note = capsys.readouterr().err
    assert (f"for an age write {since}s" in note) is noted and ("2026-11-24" in note) is noted
