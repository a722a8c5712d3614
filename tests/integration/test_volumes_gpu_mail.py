"""Volumes, GPU scheduling, emails, job chaining and storage usage, against the real engine and S3."""

from __future__ import annotations

import json
import os
import time

from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform

from helpers import cli


def test_volume_upload_versions_and_unchanged_reupload(home, s3_storage, tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.bin").write_bytes(os.urandom(50_000))
    (data / "sub" / "b.txt").write_text("b")
    first = cli("volume", "upload", "train-data", str(data))
    assert first.exit_code == 0 and "version 1" in first.output and "50001 new bytes" in first.output
    again = cli("volume", "upload", "train-data", str(data))
    assert "unchanged: still version 1 (no bytes stored)" in again.output
    (data / "c.txt").write_text("new")
    third = cli("volume", "upload", "train-data", str(data))
    assert "version 2" in third.output and "3 new bytes stored" in third.output  # a.bin and b.txt not stored again
    listed = json.loads(cli("volume", "list", "--json").output)
    assert listed == [{"name": "train-data", "version": 2, "files": 3, "bytes": 50004, "new_bytes": 3}]
    versions = json.loads(cli("volume", "versions", "train-data", "--json").output)
    assert [v["version"] for v in versions] == [1, 2]
    objects = EmulatorPlatform().blob_store().list("volumes/train-data/")
    assert len(objects) == 3 and sum(o.size for o in objects) == 50004
    bad = cli("volume", "upload", "builtin/x", str(data))
    assert bad.exit_code == 2 and "built-in" in bad.output


def test_volume_is_mounted_read_only(project, home, s3_storage, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.csv").write_text("a,b\n")
    assert cli("volume", "upload", "labels", str(data)).exit_code == 0
    project.manifest(extra="")
    text = (project.root / ".cycleswap" / "manifest.toml").read_text().replace(
        "build_files = []", 'build_files = []\nvolumes = ["labels"]')
    (project.root / ".cycleswap" / "manifest.toml").write_text(text)
    project.write(".cycleswap/run.sh", """\
        cat /volumes/labels/labels.csv
        if echo x > /volumes/labels/labels.csv; then echo WROTE; fi
        if touch /volumes/labels/new; then echo WROTE; fi
        """)
    run = project.test()
    assert run.exit_code == 0, run.output
    assert "a,b" in run.output and "WROTE" not in run.output and "Read-only file system" in run.output
    assert (data / "labels.csv").read_text() == "a,b\n"


def test_a_volume_that_was_never_uploaded_is_a_clear_error(project, home):
    text = (project.root / ".cycleswap" / "manifest.toml").read_text().replace(
        "build_files = []", 'build_files = []\nvolumes = ["ghost"]')
    (project.root / ".cycleswap" / "manifest.toml").write_text(text)
    run = project.test()
    assert run.exit_code == 2 and "volume 'ghost'" in run.output and "cycle volume upload ghost DIR" in run.output


def cuda_project(project, version="12.2"):
    project.manifest(extra=f'cuda = "{version}"')
    project.write(".cycleswap/run.sh", "echo ran\n")


def test_gpu_job_gets_the_gpus_as_a_device_request(project, home, fake_gpu, engine, docker_client):
    from cycle.api.manifest import load_manifest
    from emulator.blobs import LocalStore
    from emulator.engine.runtime import DockerRuntime
    from emulator.job.context import RunOptions
    from emulator.job.runner import JobRunner
    from emulator.store import StateStore

    cuda_project(project)
    store = StateStore(home / "state.db")
    runner = JobRunner(home, store, DockerRuntime(engine), lambda *r: None, LocalStore(home / "storage"))
    from emulator.logship import LogShipper

    job = store.create_job(project.name)
    runner.shipper = LogShipper(store, job.id, lambda *r: None)
    manifest = load_manifest(project.root)
    container = docker_client.containers.get(
        runner._create(manifest, job, "cycle/base:busybox", RunOptions(), "local-0"))
    try:
        requests = container.attrs["HostConfig"]["DeviceRequests"]
        assert requests == [{"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}]
        plain = docker_client.containers.get(
            runner._create(manifest, job, "cycle/base:busybox", RunOptions(cpu=True), "local-0"))
        assert not plain.attrs["HostConfig"].get("DeviceRequests")
        plain.remove(force=True)
    finally:
        container.remove(force=True)
        runner.shipper.close()


def test_gpu_job_without_an_nvidia_runtime_fails_with_a_clear_message(project, home, fake_gpu):
    cuda_project(project)
    run = project.test()
    assert run.job.state is JobState.FAILED and run.job.reason == "START_FAILED"
    events = [r.text for r in run.logs if r.stream is Stream.SYSTEM]
    assert any("NVIDIA container toolkit" in e and "--cpu" in e for e in events)


def test_no_machine_with_the_cuda_version(project, home, fake_gpu, monkeypatch):
    cuda_project(project, "13.0")
    run = project.test()
    assert run.exit_code == 1, run.output
    assert "needs a machine whose driver supports CUDA 13.0" in run.output and "--cpu" in run.output
    anyway = project.test("--cpu")
    assert anyway.exit_code == 0 and "ran" in anyway.output
    name = cli("project", "test", str(project.root), "--detach").output.strip()
    platform = EmulatorPlatform()
    deadline = time.time() + 30
    while time.time() < deadline and platform.job(name).reason != "NO_MACHINE_WITH_CUDA_13.0":
        time.sleep(0.1)
    job = platform.job(name)
    assert job.state is JobState.PENDING and job.reason == "NO_MACHINE_WITH_CUDA_13.0"
    assert cli("job", "cancel", name).exit_code == 0


def test_emails_go_to_the_outbox(project, home):
    project.manifest(extra="")
    manifest = project.root / ".cycleswap" / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("email_on_success = false", "email_on_success = true")
                        .replace("email_on_failure = false", "email_on_failure = true"))
    project.write(".cycleswap/run.sh", "echo the last words; exit 3\n")
    run = project.test()
    assert run.job.state is JobState.FAILED
    mails = json.loads(cli("emulator", "outbox", "--json").output)
    assert len(mails) == 1
    assert mails[0]["subject"] == f"[cycle] job {run.job.name} FAILED (EXIT_CODE_3)"
    assert "State:    FAILED" in mails[0]["body"] and "the last words" in mails[0]["body"]
    project.write(".cycleswap/run.sh", "true\n")
    project.test()
    assert len(json.loads(cli("emulator", "outbox", "--json").output)) == 2


def test_no_email_unless_asked(project, home):
    project.test()
    assert json.loads(cli("emulator", "outbox", "--json").output) == []


def test_job_chaining_mounts_artifacts_read_only(project, home, s3_storage):
    project.write(".cycleswap/run.sh", "mkdir -p /artifacts/w && echo weights-v1 > /artifacts/w/model.bin\n")
    first = project.test()
    assert first.exit_code == 0
    project.write(".cycleswap/run.sh", "cat /data/prev/w/model.bin; touch /data/prev/x || echo read-only\n")
    second = project.test("--mount-job", f"{first.job.name}:/data/prev")
    assert second.exit_code == 0, second.output
    assert "weights-v1" in second.output and "read-only" in second.output
    for bad, words in [(f"{first.job.name}:/app/x", "collides with /app"), (f"{first.job.name}:relative", "absolute"),
                       (f"{first.job.name}:/", "absolute"), ("nope-1:/data", "No job named"),
                       ("no-colon", "JOB:/container/path")]:
        result = project.test("--mount-job", bad)
        assert result.exit_code == 2 and words in result.output, (bad, result.output)
    project.write(".cycleswap/run.sh", "true\n")
    empty = project.test()
    result = project.test("--mount-job", f"{empty.job.name}:/data/prev")
    assert result.exit_code == 2 and "no stored artifacts" in result.output


def test_usage_and_the_soft_quota(project, home, monkeypatch):
    """The warning shows in the foreground run, before its final line (it was logged only after
    the job ended, so only `job logs` showed it), and the log keeps it."""
    project.write(".cycleswap/run.sh", "head -c 5000 /dev/zero > /artifacts/blob.bin; echo hi\n")
    monkeypatch.setenv("CYCLE_STORAGE_QUOTA_BYTES", "1000")
    run = project.test()
    assert run.job.state is JobState.FINISHED  # never rejected
    shown = run.output.strip().splitlines()
    assert any("exceeds the soft quota of 1000 bytes" in line for line in shown[:-1]), run.output
    report = json.loads(cli("emulator", "usage", "--json").output)
    row = next(r for r in report["projects"] if r["project"] == project.name)
    assert row["artifacts"] == 5000 and row["logs"] > 0 and report["quota"] == 1000
    texts = [r.text for r in EmulatorPlatform().logs(run.job.name)]
    assert any("exceeds the soft quota of 1000 bytes" in t for t in texts)
    assert "over" in cli("emulator", "usage").output


def test_project_upload_then_queue_runs_the_uploaded_version(project, home, s3_storage, monkeypatch):
    monkeypatch.setenv("CYCLE_SCHEDULER_SECONDS", "2")
    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    project.write("data.txt", "version one\n")
    project.write(".cycleignore", "secret.txt\n")
    project.write("secret.txt", "do not upload\n")
    project.write(".cycleswap/run.sh", "cat data.txt; ls\n")
    first = cli("project", "upload", str(project.root))
    assert first.exit_code == 0 and "uploaded version 1" in first.output, first.output
    again = cli("project", "upload", str(project.root))  # unchanged: no v2 of the same files, as volumes
    assert again.exit_code == 0 and "project unchanged: still version 1" in again.output, again.output
    assert [v for v, _ in EmulatorPlatform().store.project_versions(project.name)] == [1]
    project.write("data.txt", "changed locally, not uploaded\n")
    monkeypatch.chdir(project.root)
    queued = cli("job", "queue")
    assert queued.exit_code == 0, queued.output
    name = queued.stdout.strip()
    assert "(data.txt changed); this job runs version 1" in queued.stderr  # it runs the upload, and says so
    platform = EmulatorPlatform()
    assert platform.job(name).state is JobState.PENDING
    deadline = time.time() + 60
    while time.time() < deadline and not platform.job(name).state.is_final:
        time.sleep(0.1)
    job = platform.job(name)
    texts = [r.text for r in platform.logs(name)]
    assert job.state is JobState.FINISHED, texts
    assert "version one" in texts and "secret.txt" not in texts
    assert any(t.startswith("queued: the scheduler looks for pending jobs every 2 s") for t in texts)
    missing = cli("job", "queue", "never-uploaded")
    assert missing.exit_code == 2 and "cycle project upload" in missing.output


def test_emails_are_also_sent_to_a_configured_smtp_server(project, home, monkeypatch):
    """A real SMTP conversation with a server on 127.0.0.1 (the standard library's smtpd)."""
    import threading
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import asyncore
        import smtpd

    received = []

    class Sink(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            received.append((rcpttos, data))

    server = Sink(("127.0.0.1", 0), None)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("CYCLE_SMTP_HOST", f"127.0.0.1:{port}")
        monkeypatch.setenv("CYCLE_EMAIL_TO", "ml-team@example.test")
        manifest = project.root / ".cycleswap" / "manifest.toml"
        manifest.write_text(manifest.read_text().replace("email_on_success = false", "email_on_success = true"))
        run = project.test()
        assert run.job.state is JobState.FINISHED
        deadline = time.time() + 10
        while time.time() < deadline and not received:
            time.sleep(0.05)
        assert received and received[0][0] == ["ml-team@example.test"]
        body = received[0][1].decode() if isinstance(received[0][1], bytes) else received[0][1]
        assert f"[cycle] job {run.job.name} FINISHED" in body
    finally:
        server.close()
