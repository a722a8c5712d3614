"""benchmarks/summary.py: the rows every benchmark records and the one table run.sh ends with."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SUMMARY = Path(__file__).resolve().parents[2] / "benchmarks" / "summary.py"


def load_summary():
    spec = importlib.util.spec_from_file_location("bench_summary", SUMMARY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_checks_the_goal_and_appends_a_row_only_when_asked(tmp_path, monkeypatch):
    summary = load_summary()
    monkeypatch.delenv(summary.RESULTS_ENV, raising=False)
    assert summary.record("alone", "1 s", "2 s", 2.0, "<= 1.5") is False  # printed run: nothing written
    rows = tmp_path / "rows.jsonl"
    monkeypatch.setenv(summary.RESULTS_ENV, str(rows))
    assert summary.record("ratio", "0.21 s", "0.30 s", 1.43, "<= 1.5") is True
    assert summary.record("throughput", "7.7 s", "13.3 s", 0.58, ">= 0.95") is False
    assert summary.record("paint", "-", "57 ms", 57.0, "< 200 ms") is True
    written = [json.loads(line) for line in rows.read_text().splitlines()]
    assert [(row["figure"], row["met"]) for row in written] == [("ratio", True), ("throughput", False), ("paint", True)]


def test_the_table_has_one_row_per_figure_with_met_or_not():
    summary = load_summary()
    table = summary.table([
        {"figure": "a", "baseline": "1 s", "measured": "1.2 s", "value": 1.2, "goal": "<= 1.5", "met": True},
        {"figure": "b", "baseline": "1 s", "measured": "3 s", "value": 3.0, "goal": "<= 1.5", "met": False},
    ]).splitlines()
    assert table[0] == "| figure | baseline | measured | ratio or value | goal | met |"
    assert table[2:] == ["| a | 1 s | 1.2 s | 1.2 | <= 1.5 | yes |", "| b | 1 s | 3 s | 3 | <= 1.5 | NO |"]


def test_a_figure_recorded_twice_is_one_row_in_its_first_place_with_its_last_measurement(tmp_path, capsys):
    summary = load_summary()
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(row) + "\n" for row in (
        {"figure": "g", "baseline": "-", "measured": "40 ms", "value": 40.0, "goal": "< 100 ms", "met": True},
        {"figure": "search", "baseline": "-", "measured": "700 ms", "value": 700.0, "goal": "< 1000 ms", "met": True},
        {"figure": "g", "baseline": "-", "measured": "34 ms", "value": 34.0, "goal": "< 100 ms", "met": True},
    )))
    summary.main(str(rows))
    body = capsys.readouterr().out.splitlines()[2:]
    assert body == ["| g | - | 34 ms | 34 | < 100 ms | yes |", "| search | - | 700 ms | 700 | < 1000 ms | yes |"]
