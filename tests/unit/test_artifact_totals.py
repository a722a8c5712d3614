"""`job status` counts a job's stored files with one SQL aggregate (the store's artifact_totals),
not by reading every record and summing in Python. Real sqlite; no engine."""

from __future__ import annotations

import json
import os

from typer.testing import CliRunner

from cycle.cli import app
from emulator.models import Artifact, JobState

STATUS_KEYS = {"id", "name", "project", "state", "reason", "machine", "image", "exit_code", "created", "started",
               "finished", "upload_queue", "upload_queue_warning", "archived", "duration_seconds",
               "artifacts_stored", "artifacts_bytes", "moves"}


def stored(path: str, size: int) -> Artifact:
    return Artifact(path, f"jobs/x/artifacts/{path}", size, "0" * 64, 1, 2)


def add_versions(store, job_id: int) -> None:
    """Several paths, several versions of some (the newest counts, even when it is smaller)."""
    for path, size in (("a.pt", 1000), ("b.pt", 20), ("a.pt", 300), ("c/d.bin", 4), ("b.pt", 50_000),
                       ("a.pt", 7)):
        store.add_artifact(job_id, stored(path, size))


def test_totals_are_the_count_and_bytes_of_what_artifacts_lists(tmp_path):
    from emulator.store import StateStore

    store = StateStore(tmp_path / "s.db")
    job, other, empty = store.create_job("p"), store.create_job("p"), store.create_job("p")
    add_versions(store, job.id)
    store.add_artifact(other.id, stored("a.pt", 99))  # another job's file counts only there
    for each in (job, other, empty):
        listed = store.artifacts(each.id)
        assert store.artifact_totals(each.id) == (len(listed), sum(a.size for a in listed))
    assert store.artifact_totals(job.id) == (3, 7 + 50_000 + 4)
    assert store.artifact_totals(empty.id) == (0, 0)


def test_totals_are_one_sql_statement(tmp_path):
    from emulator.store import StateStore

    store = StateStore(tmp_path / "s.db")
    job = store.create_job("p")
    add_versions(store, job.id)
    statements: list[str] = []
    store._connection().set_trace_callback(statements.append)
    store.artifact_totals(job.id)
    assert len(statements) == 1 and statements[0].startswith("SELECT COUNT(*)"), statements


def test_status_reads_the_totals_not_every_record_and_keeps_its_json(home, monkeypatch):
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform()
    job = platform.store.create_job("demo", agent_pid=os.getpid())
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
    add_versions(platform.store, job.id)

    def every_record(self, name):
        raise AssertionError("job status read every artifact record")

    monkeypatch.setattr(EmulatorPlatform, "artifacts", every_record)
    result = CliRunner().invoke(app, ["job", "status", job.name, "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert set(info) == STATUS_KEYS
    assert (info["artifacts_stored"], info["artifacts_bytes"]) == (3, 50_011)
    text = CliRunner().invoke(app, ["job", "status", job.name]).stdout
    rows = dict(line.split(None, 1) for line in text.splitlines())
    assert rows["artifacts"] == "3 stored, 48.8 KiB"


def test_an_archived_jobs_status_counts_nothing(home):
    from cycle.api import StoredArtifacts
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform()
    job = platform.store.create_job("demo", agent_pid=os.getpid())
    add_versions(platform.store, job.id)
    platform.store.set_archived(job.id)
    assert platform.stored_artifacts(job.name) == StoredArtifacts(0, 0)
    info = json.loads(CliRunner().invoke(app, ["job", "status", job.name, "--json"]).stdout)
    assert (info["artifacts_stored"], info["artifacts_bytes"]) == (0, 0)


def test_a_moved_job_waiting_for_a_machine_is_not_shown_on_the_one_it_left(home):
    """A moved job waits PENDING with the machine it left still recorded (the next never takes it
    back): `job status` showed `machine local-0` as if it ran there."""
    from emulator.platform import EmulatorPlatform

    platform = EmulatorPlatform()
    job = platform.store.create_job("demo", agent_pid=os.getpid())
    platform.store.set_state(job.id, JobState.RUNNING, machine="local-0")
    platform.store.set_state(job.id, JobState.PENDING)  # moved off local-0, waiting for another
    text = CliRunner().invoke(app, ["job", "status", job.name]).stdout
    assert dict(line.split(None, 1) for line in text.splitlines())["machine"] == "- (left local-0)"
    assert json.loads(CliRunner().invoke(app, ["job", "status", job.name, "--json"]).stdout)["machine"] == "local-0"
