"""Pure rules of a job's life: which agents are dead, when a machine is free again, retries with
backoff, interrupts during the clean-up. No Docker, no sleeps."""

from __future__ import annotations

import os
import signal

import pytest

from emulator.models import JobState


def alive_only(*pids):
    return lambda pid: pid in pids


def test_dead_jobs_are_those_whose_agent_pid_is_gone():
    from emulator.reaper import dead_jobs

    unfinished = [(1, 100), (2, 200), (3, None)]
    assert dead_jobs(unfinished, alive_only(100)) == [(2, 200)]
    assert dead_jobs(unfinished, alive_only(100, 200)) == []


def test_a_job_without_a_pid_yet_is_never_reaped():
    from emulator.reaper import dead_jobs

    assert dead_jobs([(7, None)], alive_only()) == []


def test_a_machine_is_free_once_its_job_ended_or_its_agent_died():
    from emulator.reaper import holder_gone

    assert holder_gone("FINISHED", 5, alive_only(5))
    assert holder_gone("CANCELLED", 5, alive_only(5))
    assert holder_gone(None, None, alive_only())  # the job record is gone
    assert holder_gone("RUNNING", 5, alive_only())
    assert not holder_gone("RUNNING", 5, alive_only(5))
    assert not holder_gone("PENDING", None, alive_only())


def test_a_machine_held_by_a_dead_agent_is_claimed_by_the_next_job(tmp_path):
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(["local-0"], None)
    first = store.create_job("p", agent_pid=111)
    second = store.create_job("p", agent_pid=222)
    assert store.claim_machine(first.id, agent_pid=111, alive=alive_only(111, 222)).name == "local-0"
    assert store.claim_machine(second.id, agent_pid=222, alive=alive_only(111, 222)) is None
    claimed = store.claim_machine(second.id, agent_pid=222, alive=alive_only(222))  # 111 died
    assert claimed.name == "local-0" and store.machine("local-0").job_id == second.id


def test_a_machine_held_by_an_ended_job_is_free(tmp_path):
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(["local-0"], None)
    first, second = store.create_job("p", agent_pid=1), store.create_job("p", agent_pid=2)
    store.claim_machine(first.id, agent_pid=1, alive=alive_only(1, 2))
    store.set_state(first.id, JobState.CANCELLED)
    assert store.claim_machine(second.id, agent_pid=2, alive=alive_only(1, 2)).name == "local-0"


def test_an_abandoned_job_is_ended_once_and_its_machines_freed(tmp_path):
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    store.ensure_machines(["local-0", "local-1"], None)
    job = store.create_job("p", agent_pid=42)
    store.claim_machine(job.id, agent_pid=42, alive=alive_only(42))
    assert not store.end_abandoned(job.id, JobState.FAILED, "LOST", "gone", pid=43)  # not its agent
    assert store.end_abandoned(job.id, JobState.FAILED, "LOST", "gone", pid=42)
    assert not store.end_abandoned(job.id, JobState.FAILED, "LOST", "gone", pid=42)  # someone was first
    ended = store.job(job.id)
    assert (ended.state, ended.reason) == (JobState.FAILED, "LOST") and ended.finished_ns
    assert [r.text for r in store.logs(job.id)] == ["gone"]
    assert all(m.job_id is None for m in store.machines())
    assert store.unfinished_agents() == []


def test_the_creators_pid_covers_the_window_before_the_agent_records_its_own(tmp_path):
    from emulator.pids import pid_alive
    from emulator.reaper import dead_jobs
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p", agent_pid=os.getpid())
    assert store.unfinished_agents() == [(job.id, os.getpid())]
    assert dead_jobs(store.unfinished_agents(), pid_alive) == []


def test_backoff_doubles_and_leaves_one_wait_fewer_than_attempts():
    from emulator.job.move import backoff_delays

    assert backoff_delays(5, 1.0) == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delays(1, 1.0) == []


def test_with_retries_waits_between_attempts_then_gives_the_last_error():
    from emulator.blobs import StorageError
    from emulator.job.move import with_retries

    waits, told = [], []

    def always_down():
        raise StorageError(f"down {len(waits)}")

    with pytest.raises(StorageError, match="down 2"):
        with_retries(always_down, [0.5, 1.0], lambda e, attempt, delay: told.append((attempt, delay)),
                     sleep=waits.append)
    assert waits == [0.5, 1.0] and told == [(1, 0.5), (2, 1.0)]
    answers = iter([OSError("refused"), "ok"])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(flaky, [0.1, 0.1], lambda *a: None, sleep=waits.append) == "ok"


def test_with_retries_does_not_retry_other_errors():
    from emulator.job.move import with_retries

    with pytest.raises(ValueError):
        with_retries(lambda: int("x"), [1.0], lambda *a: pytest.fail("retried"), sleep=lambda s: pytest.fail("slept"))


def test_restore_settings_come_from_the_environment(monkeypatch):
    from emulator.job.move import RESTORE_ATTEMPTS, RESTORE_BACKOFF_SECONDS, restore_settings

    monkeypatch.delenv("CYCLE_RESTORE_ATTEMPTS", raising=False)
    monkeypatch.delenv("CYCLE_RESTORE_BACKOFF_SECONDS", raising=False)
    assert restore_settings() == (RESTORE_ATTEMPTS, RESTORE_BACKOFF_SECONDS)
    monkeypatch.setenv("CYCLE_RESTORE_ATTEMPTS", "2")
    monkeypatch.setenv("CYCLE_RESTORE_BACKOFF_SECONDS", "0.1")
    assert restore_settings() == (2, 0.1)


def test_a_second_interrupt_during_the_clean_up_is_only_noted(capfd):
    from emulator.job.guard import Interrupts

    before = signal.getsignal(signal.SIGINT)
    cleaned = False
    with pytest.raises(KeyboardInterrupt):
        with Interrupts():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                pytest.fail("the first interrupt did not interrupt")
            except KeyboardInterrupt:
                os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, then `cycle job cancel`'s SIGTERM
                os.kill(os.getpid(), signal.SIGTERM)
                cleaned = True
                raise
    assert cleaned
    assert capfd.readouterr().err.count("cleaning up") == 1
    assert signal.getsignal(signal.SIGINT) is before


def test_the_last_safety_net_ends_a_job_the_clean_up_left_unfinished(tmp_path):
    from emulator.job.runner import JobRunner
    from emulator.logship import LogShipper
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    runner = JobRunner(tmp_path, store, None, lambda *record: None, None)
    interrupted, failed, done = (store.create_job("p", agent_pid=os.getpid()) for _ in range(3))
    store.set_state(done.id, JobState.RUNNING)
    store.set_state(done.id, JobState.FINISHED)
    for job, was_interrupted in ((interrupted, True), (failed, False), (done, False)):
        runner.shipper = LogShipper(store, job.id, lambda *record: None)
        runner._never_left_unfinished(job, was_interrupted)
    ended = store.job(interrupted.id)
    assert (ended.state, ended.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
    assert (store.job(failed.id).state, store.job(failed.id).reason) == (JobState.FAILED, "AGENT_ERROR")
    assert any("stopped before the job ended" in r.text for r in store.logs(failed.id))
    assert store.job(done.id).state is JobState.FINISHED and store.logs(done.id) == []


def test_disarm_clears_special_bits_and_removes_special_files(tmp_path):
    import stat

    from emulator.hostsafety import disarm

    (tmp_path / "sub").mkdir()
    setuid = tmp_path / "sub" / "sb"
    setuid.write_bytes(b"x")
    os.chmod(setuid, 0o4755)
    plain = tmp_path / "plain"
    plain.write_bytes(b"y")
    os.chmod(plain, 0o644)
    os.mkfifo(tmp_path / "fifo")
    os.symlink("/etc/passwd", tmp_path / "link")
    touched = disarm(tmp_path)
    assert sorted(touched) == ["fifo", "sub/sb"]
    assert stat.S_IMODE(os.lstat(setuid).st_mode) == 0o755
    assert stat.S_IMODE(os.lstat(plain).st_mode) == 0o644
    assert not os.path.lexists(tmp_path / "fifo") and os.path.islink(tmp_path / "link")


def test_files_a_dead_agent_stored_but_had_not_recorded_are_recorded_when_it_is_reaped(tmp_path):
    """An agent records a local store's small files in batches: killed between a batch's puts and
    its record, it left files in storage that pull, `job status` and the TUI (which read the
    records) never showed. Reaping the job records them from the store's manifest, once."""
    import hashlib

    from cycle.api.keys import artifact_prefix
    from emulator.blobs import LocalStore
    from emulator.models import Artifact
    from emulator.reaper import reap
    from emulator.store import StateStore

    home = tmp_path / "home"
    home.mkdir()
    store = StateStore(home / "state.db")
    job = store.create_job("p", agent_pid=42)
    blobs = LocalStore(home / "storage")
    prefix = artifact_prefix(job.name)
    bodies = {"a.txt": b"first", "b/c.bin": b"second", "a.txt#2": b"first, rewritten"}
    for name, body in bodies.items():
        blobs.put_bytes(prefix + name.split("#")[0], body, hashlib.sha256(body).hexdigest())
    recorded = Artifact("b/c.bin", prefix + "b/c.bin", 6, hashlib.sha256(b"second").hexdigest(), 1, 1, "local")
    store.add_artifacts(job.id, [recorded])  # the batch holding a.txt (twice) never reached the record

    assert reap(store, home, alive=alive_only()) == [job.id]
    found = {a.path: (a.size, a.sha256, a.store) for a in store.artifacts(job.id)}
    rewritten = b"first, rewritten"
    assert found == {"a.txt": (len(rewritten), hashlib.sha256(rewritten).hexdigest(), "local"),
                     "b/c.bin": (6, recorded.sha256, "local")}
    assert all(a.uploaded_ns > 0 for a in store.artifacts(job.id))
    assert len(store.artifact_versions(job.id)) == 2  # the recorded file is not recorded twice
    assert reap(store, home, alive=alive_only()) == []  # ended once, recovered once
    assert [r.text for r in store.logs(job.id)][-1].startswith("1 stored file(s) the dead process had not recorded")


def test_a_path_whose_newest_stored_bytes_match_an_older_record_is_recorded_again(tmp_path):
    """A then B recorded, A again stored but not recorded: readers must see A, not B."""
    import hashlib

    from cycle.api.keys import artifact_prefix
    from emulator.blobs import LocalStore
    from emulator.models import Artifact
    from emulator.reaper import reap
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p", agent_pid=42)
    blobs, key = LocalStore(tmp_path / "storage"), artifact_prefix(job.name) + "ckpt"
    for body in (b"A", b"B", b"A"):
        blobs.put_bytes(key, body, hashlib.sha256(body).hexdigest())
    store.add_artifacts(job.id, [Artifact("ckpt", key, 1, hashlib.sha256(body).hexdigest(), 1, 1, "local")
                                 for body in (b"A", b"B")])
    reap(store, tmp_path, alive=alive_only())
    assert [a.sha256 for a in store.artifacts(job.id)] == [hashlib.sha256(b"A").hexdigest()]


def test_reaping_a_job_makes_no_store_where_there_was_none(tmp_path):
    from emulator.reaper import reap
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p", agent_pid=42)
    assert reap(store, tmp_path, alive=alive_only()) == [job.id]
    assert not (tmp_path / "storage").exists() and store.artifacts(job.id) == []


def _a_job_with_a_lost_batch(home):
    """A job whose agent (pid 42) stored two files and recorded none (killed before its batch)."""
    import hashlib

    from cycle.api.keys import artifact_prefix
    from emulator.blobs import LocalStore
    from emulator.store import StateStore

    store = StateStore(home / "state.db")
    job = store.create_job("p", agent_pid=42)
    store.set_state(job.id, JobState.RUNNING, machine="local-0")
    blobs = LocalStore(home / "storage")
    for name in ("a", "b"):
        blobs.put_bytes(artifact_prefix(job.name) + name, name.encode(), hashlib.sha256(name.encode()).hexdigest())
    return store, job


def test_the_start_up_sweep_of_a_dead_runs_container_records_what_it_stored(tmp_path):
    """`cycle project test` sweeps dead runs' containers and ends their jobs LOST itself: when
    that comes before any read, the files the dead agent stored must be recorded there too."""
    from emulator.engine.fake import FakeRuntime
    from emulator.engine.protocol import LABEL_JOB, ContainerSpec
    from emulator.job.container import sweep

    store, job = _a_job_with_a_lost_batch(tmp_path)
    engine = FakeRuntime()
    engine.create(ContainerSpec(image="i", command=["bash"], labels={LABEL_JOB: str(job.id)}))
    sweep(engine, tmp_path, store)
    assert store.job(job.id).reason == "LOST"
    assert [a.path for a in store.artifacts(job.id)] == ["a", "b"]


def test_a_failing_recovery_is_an_event_not_an_error_of_the_read(tmp_path, monkeypatch):
    """The read that notices a dead agent (`job list`) must not fail with the recovery's error,
    and the job's containers are removed first."""
    import emulator.reaper
    from emulator.reaper import reap

    store, job = _a_job_with_a_lost_batch(tmp_path)
    removed = []
    monkeypatch.setattr(emulator.reaper, "remove_job_containers", lambda home, job_id: removed.append(job_id))

    def locked(job_id, artifacts):
        raise __import__("sqlite3").OperationalError("database is locked")

    monkeypatch.setattr(store, "add_artifacts", locked)
    assert reap(store, tmp_path, alive=alive_only()) == [job.id]
    assert removed == [job.id] and store.job(job.id).reason == "LOST"
    assert "could not be recorded from the manifest: database is locked" in [r.text for r in store.logs(job.id)][-1]


def test_reaping_a_job_removes_the_snapshots_its_dead_agent_left_and_no_one_elses(tmp_path):
    """An agent killed while it copied or sent a snapshot left it in tmp/ for good (a checkpoint's
    copy is as big as the checkpoint); snapshots carry their process's pid, so the reap of the dead
    agent's job removes its own and never a live agent's."""
    from emulator.blobs import snapshot_file
    from emulator.reaper import reap
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p", agent_pid=42)
    store.set_state(job.id, JobState.RUNNING, machine="local-0")
    source = tmp_path / "ckpt.pt"
    source.write_bytes(b"w" * 5000)
    dead = []
    for folder in (tmp_path / "storage" / "tmp", tmp_path / "tmp"):
        folder.mkdir(parents=True)
        dead.append(folder / f"snap-42-{folder.parent.name}")
        dead[-1].write_bytes(b"x" * 1000)
    live, _sha, _size = snapshot_file(source, tmp_path / "tmp")  # this (live) process's, in flight
    assert live.name.startswith(f"snap-{os.getpid()}-")

    assert reap(store, tmp_path, alive=alive_only()) == [job.id]
    assert not any(path.exists() for path in dead) and live.exists()
    assert any(r.text == "removed 2 temporary snapshot file(s), 2000 bytes, the dead process left"
               for r in store.logs(job.id))


def test_a_job_start_removes_every_dead_processs_snapshots_not_only_reaped_agents(tmp_path):
    """A `cycle volume upload` killed mid-copy, or an agent killed after its job had ended, left a
    snapshot no reap ever saw; the next job's start removes those whose process is dead."""
    from emulator.recovery import remove_orphan_snapshots

    for folder in (tmp_path / "storage" / "tmp", tmp_path / "tmp"):
        folder.mkdir(parents=True)
    (tmp_path / "tmp" / "snap-42-abc").write_bytes(b"x" * 100)  # dead
    (tmp_path / "storage" / "tmp" / "snap-43-def").write_bytes(b"y" * 10)  # dead
    (tmp_path / "tmp" / "snap-44-ghi").write_bytes(b"z")  # alive
    (tmp_path / "tmp" / f"snap-{os.getpid()}-own").write_bytes(b"w")  # this process's
    (tmp_path / "tmp" / "snap-old-format").write_bytes(b"v")  # no pid: unknown, kept
    assert remove_orphan_snapshots(tmp_path, alive=alive_only(44)) == (2, 110)
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == sorted([f"snap-{os.getpid()}-own", "snap-44-ghi",
                                                                           "snap-old-format"])  # whatever our pid
