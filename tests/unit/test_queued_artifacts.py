"""One definition of "queued" artifacts (emulator/rules/upload_queue.py), recorded by the job's
agent and read back by every reader: Job.queue_len (`cycle job status`, the TUI's list) and
queued_artifacts (the TUI's artifact browser) come from the same record through the same rule."""

from __future__ import annotations

from emulator.models import JobState
from emulator.rules.upload_queue import QueueChange, has_upload_queue, queue_change, queued_paths
from emulator.store import StateStore


def test_a_file_is_queued_while_it_waits_for_stability_in_the_queue_or_in_flight():
    assert queued_paths(["b.txt", "a.txt"], ["c.ckpt", "a.txt"], "d.log") == {"a.txt", "b.txt", "c.ckpt", "d.log"}
    assert queued_paths([], [], "only.bin") == {"only.bin"}
    assert queued_paths(["x"], [], None) == {"x"}
    assert queued_paths([], [], None) == set()


def test_only_the_difference_is_recorded_and_nothing_when_unchanged():
    assert queue_change({"a", "b"}, {"a", "b"}) is None
    assert queue_change({"a", "b"}, {"b", "c"}) == QueueChange(frozenset({"c"}), frozenset({"a"}), 2)
    assert queue_change(set(), {"a"}) == QueueChange(frozenset({"a"}), frozenset(), 1)
    assert queue_change({"a"}, set()) == QueueChange(frozenset(), frozenset({"a"}), 0)


def test_only_a_running_job_has_an_upload_queue():
    assert [state for state in JobState if has_upload_queue(state)] == [JobState.RUNNING]


def test_queue_length_and_queued_files_are_one_record(tmp_path):
    store = StateStore(tmp_path / "state.db")
    job = store.create_job("proj")
    store.ensure_machines(["local-0"], None)
    store.set_state(job.id, JobState.RUNNING, machine="local-0")

    recorded: set[str] = set()

    def record(now: set[str], warning: bool) -> None:
        nonlocal recorded
        store.record_queue(job.id, queue_change(recorded, now) or QueueChange(frozenset(), frozenset(), len(now)),
                           warning)
        recorded = now

    record({"metrics.json", "ckpt/step-2.pt"}, False)
    assert store.queued_paths(job.id) == ["ckpt/step-2.pt", "metrics.json"]
    assert store.job(job.id).queue_len == 2

    record({"metrics.json", "ckpt/step-3.pt", "ckpt/step-4.pt"}, False)
    assert store.queued_paths(job.id) == ["ckpt/step-3.pt", "ckpt/step-4.pt", "metrics.json"]
    assert store.job(job.id).queue_len == 3

    record(set(), True)
    assert store.queued_paths(job.id) == [] and store.job(job.id).queue_len == 0
    assert store.job(job.id).queue_warning

    record({"left.bin"}, True)
    store.set_state(job.id, JobState.FAILED, reason="UPLOAD_ERROR")
    assert store.queued_paths(job.id) == [] and store.job(job.id).queue_len == 0  # ended: nothing waits
    assert store.job_by_name(job.name).queue_len == 0
