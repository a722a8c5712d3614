"""Reassignment and drills against the real engine and the real S3 server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform

from helpers import FINAL, TEST_PROJECT_PREFIX, cli, wait_state

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/integration/../..)


def start(project) -> str:
    result = cli("project", "test", str(project.root), "--detach")
    assert result.exit_code == 0, result.output
    return result.output.strip()


@pytest.fixture
def fast_logs(monkeypatch):
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")


def test_move_restores_exactly_the_uploaded_files_and_records_the_lost_ones(project, home, s3_storage, fast_logs,
                                                                            monkeypatch):
    monkeypatch.setenv("CYCLE_STABILITY_MS", "1500")  # a wide window, so the last file is surely still waiting
    project.write(".cycleswap/run.sh", """\
        if [ -f /artifacts/a.bin ]; then
            (cd /artifacts && find . -type f | sort) > /tmp/seen && mv /tmp/seen /artifacts/seen-after-move.txt
            echo restarted; sleep 2; exit 0
        fi
        head -c 300000 /dev/urandom > /artifacts/a.bin
        mkdir -p /artifacts/sub && head -c 1000 /dev/urandom > /artifacts/sub/b.bin
        sleep 3
        echo late > /artifacts/c.txt
        sleep 60
        """)
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    platform = EmulatorPlatform()
    first_machine = job.machine
    folder_a = home / "machines" / first_machine / "artifacts" / name
    deadline = time.time() + 30
    while time.time() < deadline and not (folder_a / "c.txt").exists():
        time.sleep(0.02)
    uploaded = {a.path: a.sha256 for a in platform.artifacts(name)}
    assert set(uploaded) == {"a.bin", "sub/b.bin"}
    result = cli("job", "reassign", name)
    assert result.exit_code == 0, result.output
    move = platform.moves(name)[0]
    assert move.from_machine == first_machine and move.to_machine != first_machine
    assert move.lost == ["c.txt"] and sorted(move.restored) == ["a.bin", "sub/b.bin"]
    assert move.restored_bytes == 301000
    done = wait_state(name, FINAL)
    assert done.state is JobState.FINISHED and done.machine == move.to_machine
    folder_b = home / "machines" / move.to_machine / "artifacts" / name
    assert (folder_b / "seen-after-move.txt").read_text().split() == ["./a.bin", "./sub/b.bin"]
    for rel, sha in uploaded.items():
        assert hashlib.sha256((folder_b / rel).read_bytes()).hexdigest() == sha
    assert not (folder_b / "c.txt").exists()
    events = [r.text for r in platform.logs(name) if r.stream is Stream.SYSTEM]
    assert any("were lost: c.txt" in e for e in events)
    assert any(e.startswith("restored 2 file(s), 301000 bytes") for e in events)
    assert any(e.startswith("container restarted on machine") for e in events)
    # the restored files were not uploaded again
    assert [v.path for v in platform.artifact_versions(name)].count("a.bin") == 1
    # the closing count names the machine and the job's total, not the last machine's uploads alone
    closing = [e for e in events if e.startswith("artifacts: ") and "upload(s)" in e][-1]
    assert closing == (f"artifacts: 1 upload(s), {len('./a.bin ./sub/b.bin') + 1} bytes stored on {move.to_machine}; "
                       f"the job has 3 file(s), {301000 + len('./a.bin ./sub/b.bin') + 1} bytes in all"), closing


def test_a_move_removes_the_jobs_folder_on_the_machine_it_left(project, home, tmp_path, fast_logs):
    """The old machine's /artifacts folder stayed forever (many drills filled the disk); the
    platform wipes the machine. Removed even with a setuid file and an unreadable, unsearchable
    folder in it, and a link out of it is not followed: what it points to stays."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the job's")
    project.write(".cycleswap/run.sh", f"""\
        if [ -f /artifacts/a.bin ]; then echo after > /artifacts/after.txt; exit 0; fi
        head -c 100000 /dev/urandom > /artifacts/a.bin
        cp /bin/busybox /artifacts/sb && chmod 4755 /artifacts/sb
        mkdir -p /artifacts/locked/deeper && echo x > /artifacts/locked/deeper/f && chmod 000 /artifacts/locked/deeper
        chmod 000 /artifacts/locked
        ln -s {outside} /artifacts/link-out && ln -s {outside}/keep.txt /artifacts/link-file
        echo ready > /artifacts/ready
        sleep 60
        """)
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    platform = EmulatorPlatform()
    deadline = time.time() + 30
    while "ready" not in {a.path for a in platform.artifacts(name)}:
        assert time.time() < deadline, "ready was never uploaded"
        time.sleep(0.05)
    uploaded = {a.path: a.sha256 for a in platform.artifacts(name)}
    old_folder = home / "machines" / job.machine / "artifacts" / name
    assert old_folder.is_dir()
    assert cli("job", "reassign", name).exit_code == 0
    done = wait_state(name, FINAL)
    assert done.state is JobState.FINISHED and done.machine != job.machine
    assert not os.path.lexists(old_folder), sorted(os.listdir(old_folder))
    assert (outside / "keep.txt").read_text() == "not the job's"
    stored = {a.path: a.sha256 for a in platform.artifacts(name)}
    assert {path: stored[path] for path in uploaded} == uploaded and "after.txt" in stored
    new_folder = home / "machines" / done.machine / "artifacts" / name
    for path, sha in uploaded.items():
        assert hashlib.sha256((new_folder / path).read_bytes()).hexdigest() == sha, path
    events = [r.text for r in platform.logs(name) if r.stream is Stream.SYSTEM]
    assert not any("could not be removed" in e for e in events), events


def test_a_move_ships_the_log_of_the_machine_it_left(project, monkeypatch):
    """A user test: after `cycle job reassign`, `cycle job logs` showed none of the lines the job
    had printed on the machine it left until the next 600 s shipment, though the README said the
    log reaches storage when the job moves. The platform's cadence (600 s) here, no fast_logs."""
    monkeypatch.delenv("CYCLE_LOG_CADENCE_SECONDS", raising=False)
    project.write(".cycleswap/run.sh", """\
        if [ -f /artifacts/moved.txt ]; then echo "on the new machine"; sleep 60; exit 0; fi
        for i in 1 2 3; do echo "printed before the move $i"; done
        echo "to stderr before the move" >&2
        echo moved > /artifacts/moved.txt
        sleep 60
        """)
    name = start(project)
    wait_state(name, (JobState.RUNNING,))
    platform = EmulatorPlatform()
    deadline = time.time() + 30
    while time.time() < deadline and not platform.artifacts(name):
        time.sleep(0.1)
    result = cli("job", "reassign", name)
    assert result.exit_code == 0, result.output
    logs = cli("job", "logs", name)
    lines = logs.stdout.splitlines()
    for text in ("printed before the move 1", "printed before the move 3", "to stderr before the move"):
        assert any(text in line for line in lines), logs.output
    assert any("reassignment: job leaves machine" in line for line in lines), logs.output
    assert any("container restarted on machine" in line for line in lines), logs.output
    cli("job", "cancel", name)


def test_reassign_to_a_chosen_machine_with_grace(project, s3_storage, fast_logs):
    project.write(".cycleswap/run.sh", """\
        trap 'echo got-sigterm; exit 0' TERM
        echo running; sleep 60 & wait
        """)
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    target = "local-3" if job.machine != "local-3" else "local-2"
    time.sleep(0.5)
    result = cli("job", "reassign", name, "--to", target, "--grace", "5")
    assert result.exit_code == 0, result.output
    assert EmulatorPlatform().job(name).machine == target
    cli("job", "cancel", name)
    texts = [r.text for r in EmulatorPlatform().logs(name)]
    assert "got-sigterm" in texts and any("SIGTERM, 5 s grace" in t for t in texts)


def test_a_job_that_ignores_sigterm_is_said_killed_when_its_grace_runs_out(project, s3_storage, fast_logs):
    """A user test: the log said "container stopped (SIGTERM, 2 s grace)" for a job that ignored
    SIGTERM and was killed when the grace ran out, so nothing told the user its handler never ran."""
    project.write(".cycleswap/run.sh", """\
        trap '' TERM
        echo running; sleep 60
        """)
    name = start(project)
    wait_state(name, (JobState.RUNNING,))
    time.sleep(0.5)
    result = cli("job", "reassign", name, "--grace", "1")
    assert result.exit_code == 0, result.output
    cli("job", "cancel", name)
    texts = [r.text for r in EmulatorPlatform().logs(name)]
    assert any("container killed (SIGKILL) when its 1 s grace after SIGTERM ran out" in t for t in texts), texts
    assert not any("SIGTERM, 1 s grace" in t for t in texts)


def test_a_checkpoint_saved_on_sigterm_within_the_grace_period_is_stored_and_restored(project, s3_storage, fast_logs):
    """A user test: a file written in the SIGTERM handler could never wait out its 500 ms window
    before the move went on, so `--grace` could not save a final checkpoint: it was always lost."""
    project.write(".cycleswap/run.sh", """\
        if [ -f /artifacts/emergency.bin ]; then echo resumed-with-emergency; fi
        trap 'head -c 3000000 /dev/urandom > /artifacts/emergency.bin; echo saved; exit 0' TERM
        echo running; sleep 60 & wait
        """)
    name = start(project)
    wait_state(name, (JobState.RUNNING,))
    time.sleep(0.5)
    result = cli("job", "reassign", name, "--grace", "10")
    assert result.exit_code == 0, result.output
    move = EmulatorPlatform().moves(name)[0]
    assert move.lost == [] and move.restored == ["emergency.bin"], (move.lost, move.restored)
    deadline = time.monotonic() + 30
    texts: list[str] = []
    while time.monotonic() < deadline and "resumed-with-emergency" not in texts:
        time.sleep(0.2)
        texts = [r.text for r in EmulatorPlatform().logs(name)]
    cli("job", "cancel", name)
    texts = [r.text for r in EmulatorPlatform().logs(name)]
    assert "resumed-with-emergency" in texts
    assert any("into its 10 s grace period; its waiting files were stored in the time left" in t for t in texts)


def test_bad_reassignments_are_refused(project, s3_storage, fast_logs):
    project.write(".cycleswap/run.sh", "sleep 60\n")
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    bad = cli("job", "reassign", name, "--to", "gpu-9")
    assert bad.exit_code == 2 and "not a machine" in bad.output
    same = cli("job", "reassign", name, "--to", job.machine)
    assert same.exit_code == 2 and "already runs on" in same.output
    cli("job", "cancel", name)
    ended = cli("job", "reassign", name)
    assert ended.exit_code == 2 and "only a RUNNING job can be reassigned" in ended.output


def test_a_reassign_to_an_offline_or_busy_machine_is_refused_and_touches_nothing(project, s3_storage, fast_logs):
    """`job reassign --to local-3` with local-3 offline (or running another job) said "moved local-1 ->
    local-2": the job was killed, its queue lost, and moved where nobody asked."""
    project.write(".cycleswap/run.sh", "echo up; sleep 60\n")
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    other = start(project)
    busy = wait_state(other, (JobState.RUNNING,)).machine
    offline = next(m for m in ("local-0", "local-1", "local-2", "local-3") if m not in (job.machine, busy))
    try:
        assert cli("emulator", "machine", offline, "offline").exit_code == 0
        refused = cli("job", "reassign", name, "--to", offline)
        assert refused.exit_code == 2, refused.output
        assert f"job {name} cannot move to {offline}: {offline} is offline. Free now: " in refused.output
        assert "`cycle emulator machines`" in refused.output and "Traceback" not in refused.output
        taken = cli("job", "reassign", name, "--to", busy)
        assert taken.exit_code == 2 and f"{busy} is busy running job {other}." in taken.output, taken.output
        platform = EmulatorPlatform()
        assert platform.moves(name) == [] and platform.job(name).state is JobState.RUNNING
        assert platform.job(name).machine == job.machine
        events = [r.text for r in platform.logs(name) if r.stream is Stream.SYSTEM]
        assert not any(e.startswith("reassignment") for e in events), events
    finally:
        cli("emulator", "machine", offline, "available")
        cli("job", "cancel", name)
        cli("job", "cancel", other)


def test_a_machine_going_offline_moves_its_job(project, s3_storage, fast_logs):
    project.write(".cycleswap/run.sh", "echo up; sleep 60\n")
    name = start(project)
    job = wait_state(name, (JobState.RUNNING,))
    try:
        assert cli("emulator", "machine", job.machine, "offline").exit_code == 0
        deadline = time.time() + 30
        while time.time() < deadline and not EmulatorPlatform().moves(name):
            time.sleep(0.05)
        moves = EmulatorPlatform().moves(name)
        assert moves and moves[0].trigger == f"machine {job.machine} went offline"
        wait_state(name, (JobState.RUNNING,))
        assert EmulatorPlatform().job(name).machine != job.machine
    finally:
        cli("emulator", "machine", job.machine, "available")
        cli("job", "cancel", name)


def fixture_copy(tmp_path: Path, kind: str, steps: int) -> Path:
    target = tmp_path / kind
    shutil.copytree(ROOT / "fixtures" / f"{kind}-trainer", target)
    manifest = target / ".cycleswap" / "manifest.toml"
    unique = f"{TEST_PROJECT_PREFIX}{kind}-{time.time_ns() % 10**8}"
    text = manifest.read_text().replace(f'name = "{kind}-trainer"', f'name = "{unique}"')
    manifest.write_text(text.replace('STEPS = "24"', f'STEPS = "{steps}"'))
    return target


def test_ten_moves_in_a_row_on_the_resuming_trainer(tmp_path, home, docker_client, s3_storage, fast_logs):
    folder = fixture_copy(tmp_path, "resuming", steps=70)
    result = cli("drill", str(folder), "--moves", "10", "--every", "1.5", "--timeout", "180",
                 "--json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0, result.output
    assert report["verdict"] == "PASS" and report["final_state"] == "FINISHED" and len(report["moves"]) == 10
    logs = [r.text for r in EmulatorPlatform().logs(report["job"])]
    assert "training done: final step 70" in logs
    assert sum(1 for t in logs if t.startswith("resuming from checkpoint")) >= 9
    final = EmulatorPlatform().job(report["job"]).machine  # the machines it left keep nothing of it
    assert sorted(home.glob(f"machines/*/artifacts/{report['job']}")) == [home / "machines" / final / "artifacts" /
                                                                          report["job"]]


def test_the_naive_trainer_fails_the_drill_with_the_fix(tmp_path, home, docker_client, s3_storage, fast_logs):
    folder = fixture_copy(tmp_path, "naive", steps=24)
    result = cli("drill", str(folder), "--moves", "1", "--at", "3", "--json", "-")
    assert result.exit_code == 1
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["verdict"] == "FAIL" and report["final_state"] == "FINISHED"
    assert any("it started over (or went back to an older checkpoint)" in r for r in report["reasons"])
    assert "Load the newest checkpoint" in report["hint"]


def test_drill_takes_project_tests_build_flags(project, home, fast_logs):
    project.write(".cycleswap/run.sh", "sleep 2\n")
    assert project.test().exit_code == 0  # the build image now exists: a plain drill would hit the cache
    result = cli("drill", str(project.root), "--moves", "1", "--at", "1", "--timeout", "60", "--rebuild",
                 "--skip-limits", "--json", "-")
    report = json.loads(result.stdout[result.stdout.index("{"):])
    system = [r.text for r in EmulatorPlatform().logs(report["job"], stream=Stream.SYSTEM)]
    assert any(t.startswith("--rebuild: key") for t in system), system
    assert any(t.startswith("--skip-limits: no memory or process limit") for t in system), system
    # the move is the drill's, in its report and in the job's events (it was `cycle job reassign`'s)
    assert [m["trigger"] for m in report["moves"]] == ["requested by `cycle drill`"], report["moves"]
    assert any(t.startswith("reassignment: job leaves machine") and t.endswith("(requested by `cycle drill`)")
               for t in system), system


def test_a_job_that_overwrites_one_checkpoint_passes_the_drill_with_a_warning(project, home, fast_logs):
    """A user test: `torch.save(state, "checkpoint.pt")` every epoch, resumed from after a move, and
    the drill said FAIL, "it started over": resuming and starting over both overwrite that file
    with new bytes. The drill now says it could not judge (a warning; a FAIL with --strict)."""
    project.write(".cycleswap/run.sh", """\
        cd /artifacts && epoch=0
        if [ -f checkpoint.pt ]; then epoch=$(head -1 checkpoint.pt); echo "resuming from epoch $epoch"; fi
        while [ "$epoch" -lt 8 ]; do
            epoch=$((epoch + 1)); sleep 1
            printf '%s\\n%s\\n' "$epoch" "$(date +%s%N)" > checkpoint.pt.tmp && mv checkpoint.pt.tmp checkpoint.pt
        done
        """)
    result = cli("drill", str(project.root), "--moves", "1", "--at", "3.5", "--timeout", "90", "--json", "-")
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["final_state"] == "FINISHED" and report["moves"][0]["restored_files"] == 1, report
    assert result.exit_code == 0 and report["verdict"] == "PASS" and report["reasons"] == [], report
    [warning] = report["warnings"]
    assert "overwrote checkpoint.pt" in warning and "could not judge whether it resumed" in warning, warning
    assert "checkpoint-<step>.pt" in report["hint"]
    assert any(r.text.startswith("resuming from epoch") for r in EmulatorPlatform().logs(report["job"]))


def test_a_strict_drill_fails_a_job_that_a_move_left_with_half_a_checkpoint(project, home, s3_storage, fast_logs):
    """A user test: the drill said PASS for a job that resumed "from step 5" with step-5.json but not
    step-5.pt, lost in the upload queue with the machine. Here the .json is stored and the .pt, whose
    save takes longer than the stay, is still being written when the move comes: the same split."""
    project.write(".cycleswap/run.sh", """\
        cd /artifacts && mkdir -p checkpoints
        if [ -f checkpoints/step-5.json ]; then  # trusts the metadata: resumes "from step 5"
            echo "resuming from $(cat checkpoints/step-5.json)"
            head -c 2000 /dev/urandom > checkpoints/step-6.pt && echo '{"step": 6}' > checkpoints/step-6.json
            sleep 1; exit 0
        fi
        echo '{"step": 5}' > checkpoints/step-5.json
        for i in $(seq 150); do head -c 50000 /dev/urandom >> checkpoints/step-5.pt; sleep 0.2; done
        """)
    result = cli("drill", str(project.root), "--moves", "1", "--at", "4", "--timeout", "90", "--strict",
                 "--json", "-")
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["final_state"] == "FINISHED" and len(report["moves"]) == 1, report
    assert report["moves"][0]["files_lost"] == ["checkpoints/step-5.pt"], report["moves"]
    assert report["moves"][0]["restored_files"] == 1, report["moves"]  # step-5.json alone
    assert result.exit_code == 1 and report["verdict"] == "FAIL", report
    assert report["reasons"] == [
        f"move 1 ({report['moves'][0]['from']} -> {report['moves'][0]['to']}) split a checkpoint: "
        "checkpoints/step-5.json restored, checkpoints/step-5.pt lost in the upload queue and never written again: "
        "a job resuming from it had half a checkpoint."], report["reasons"]
    assert "resume only from a checkpoint whose every file is present" in report["hint"]
