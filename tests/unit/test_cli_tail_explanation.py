"""`cycle job tail` of a job whose build failed closes with the build's explanation, after the job's
state, as a foreground `cycle project test` does (D6); output.log still holds the whole log.
The job is a store row (its agent is this process); no Docker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from emulator.models import JobState, Stream

CYCLE = [sys.executable, "-c", "from cycle.cli import main; main()"]
EXPLANATION = ["build failed: build.sh exited with code 2; the last 2 line(s) of its output:",
               "build output | pip: no such package",
               "build output | exit 2"]


def test_tail_prints_a_failed_builds_explanation_last(tmp_path: Path, monkeypatch) -> None:
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path / "home"))
    store = EmulatorPlatform().store
    job = store.create_job("broken", agent_pid=os.getpid())
    now = time.time_ns()
    store.append_logs(job.id, [(now, Stream.STDOUT, "installing"), (now + 1, Stream.SYSTEM, "an older event")]
                      + [(now + 2 + i, Stream.SYSTEM, text) for i, text in enumerate(EXPLANATION)])
    store.set_state(job.id, JobState.FAILED, reason="BUILD_FAILED", exit_code=2)
    (tmp_path / "project").mkdir()
    done = subprocess.run([*CYCLE, "job", "tail", job.name, "--project-dir", str(tmp_path / "project")],
                          capture_output=True, text=True, timeout=60, env=os.environ)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-5:] == [f"job {job.name}: FAILED (BUILD_FAILED)", "", *EXPLANATION]
    assert "installing" in done.stdout and "build failed" not in done.stdout  # once, where it belongs
    saved = (tmp_path / "project" / ".cycleswap" / "jobs" / job.name / "output.log").read_text()
    assert all(text in saved for text in EXPLANATION)  # the saved log is the whole log


def test_build_explanation_is_the_last_failure_and_the_output_after_it() -> None:
    """The one rule `project test` and `job tail` close with (pure)."""
    from cycle.cli.output import build_explanation

    first = ["build failed: build.sh exited with code 1; the last 1 line(s) of its output:", "build output | old"]
    assert build_explanation([]) == []
    assert build_explanation(["building", "build output | before any failure"]) == []
    assert build_explanation(EXPLANATION) == EXPLANATION
    assert build_explanation([*first, "rebuilding", *EXPLANATION[:2], "an unrelated event", EXPLANATION[2]]) \
        == EXPLANATION
