"""Artifacts of real Docker jobs, uploaded to the real S3 server (moto) while the job runs."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

from emulator.blobs import S3Store
from emulator.models import JobState, Stream
from emulator.platform import EmulatorPlatform
from emulator.storage import start_server, stop_server


def s3(host):
    return S3Store(host, "cycleswap", Path("/tmp"))


def stored(host, job, rel, tmp_path) -> bytes:
    out = tmp_path / "got.bin"
    s3(host).get_to(f"jobs/{job}/artifacts/{rel}", out)
    return out.read_bytes()


def machine_files(home: Path, job: str) -> dict[str, bytes]:
    root = home / "machines" / "local-0" / "artifacts" / job
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_growing_checkpoints_every_100ms_all_reach_s3_byte_identical(project, home, s3_storage, tmp_path):
    project.write(".cycleswap/run.sh", """\
        mkdir -p /artifacts/checkpoints
        for i in $(seq 1 25); do
            head -c $((i * 4096)) /dev/urandom > /artifacts/checkpoints/step-$i.ckpt
            echo "step $i" >> /artifacts/progress.log
            sleep 0.1
        done
        """)
    run = project.test()
    assert run.exit_code == 0, run.output
    local = machine_files(home, run.job.name)
    assert len(local) == 26
    listed = {o.key.split("/artifacts/", 1)[1]: o.size for o in s3(s3_storage).list(f"jobs/{run.job.name}/")}
    assert listed == {rel: len(data) for rel, data in local.items()}
    for rel, data in local.items():
        assert stored(s3_storage, run.job.name, rel, tmp_path) == data, rel
    recorded = EmulatorPlatform().store.artifacts(run.job.id)
    assert {a.path: a.sha256 for a in recorded} == {rel: hashlib.sha256(d).hexdigest() for rel, d in local.items()}


def test_lifo_uploads_the_newest_checkpoint_before_older_queued_ones(project, home, s3_storage):
    project.manifest(extra='artifact_upload_order = "LIFO"')
    project.write(".cycleswap/run.sh", """\
        head -c 200000000 /dev/zero > /artifacts/big.bin
        sleep 0.7
        for i in 1 2 3 4 5; do echo $i > /artifacts/ckpt-$i; sleep 0.02; done
        sleep 1
        """)
    run = project.test()
    assert run.exit_code == 0, run.output
    versions = EmulatorPlatform().store.artifact_versions(run.job.id)
    order = [a.path for a in versions]
    # big.bin was in flight while all five became stable: the newest goes first, then the older ones
    assert order == ["big.bin", "ckpt-5", "ckpt-4", "ckpt-3", "ckpt-2", "ckpt-1"], order


def test_slow_writer_in_a_container_is_never_uploaded_half_written(project, home, s3_storage, tmp_path):
    project.write(".cycleswap/run.sh", """\
        for i in 1 2 3 4 5 6; do
            printf 'chunk-%d;' $i >> /artifacts/slow.txt
            sleep 0.3
        done
        """)
    run = project.test()
    versions = [a for a in EmulatorPlatform().store.artifact_versions(run.job.id) if a.path == "slow.txt"]
    assert len(versions) == 1 and versions[0].size == len("chunk-1;") * 6
    assert stored(s3_storage, run.job.name, "slow.txt", tmp_path) == b"".join(b"chunk-%d;" % i for i in range(1, 7))


def test_deleted_files_stay_in_storage(project, home, s3_storage, tmp_path):
    project.write(".cycleswap/run.sh",
                  "echo temporary > /artifacts/scratch.txt; sleep 1.2; rm /artifacts/scratch.txt\n")
    run = project.test()
    assert run.job.state is JobState.FINISHED
    assert "scratch.txt" not in machine_files(home, run.job.name)
    assert stored(s3_storage, run.job.name, "scratch.txt", tmp_path) == b"temporary\n"


def test_symlink_escape_from_the_container_is_skipped(project, home, s3_storage, tmp_path):
    """Links out are skipped; links to a file inside, relative or absolute as the job sees its
    folder (`/artifacts/ok.txt`), are stored as that file's bytes."""
    project.write(".cycleswap/run.sh", """\
        echo fine > /artifacts/ok.txt
        ln -s /etc/passwd /artifacts/passwd-link
        ln -s ../../../../../../../../etc/hostname /artifacts/up-link
        ln -s ok.txt /artifacts/ok-link
        ln -s /artifacts/ok.txt /artifacts/abs-link
        """)
    run = project.test()
    assert run.exit_code == 0, run.output
    keys = {o.key.rsplit("/", 1)[1] for o in s3(s3_storage).list(f"jobs/{run.job.name}/")}
    assert keys == {"ok.txt", "ok-link", "abs-link"}
    assert stored(s3_storage, run.job.name, "abs-link", tmp_path) == b"fine\n"
    system = [r.text for r in run.logs if r.stream is Stream.SYSTEM]
    assert any("'passwd-link'" in line and "outside /artifacts" in line for line in system)
    assert any("'up-link'" in line for line in system)


def test_a_link_to_a_checkpoint_rewritten_every_epoch_is_stored_with_its_newest_bytes(project, home, s3_storage,
                                                                                       tmp_path):
    """`latest.pt -> ckpt.pt` made once, then only ckpt.pt rewritten: storage's latest.pt follows it
    while the job runs (v2: the job writes it once v1 of the link is stored, and v3 once v2 is) and
    at its end (v3, written last, no pause: the end-of-job rescan)."""
    project.write(".cycleswap/run.sh", """\
        echo v1 > /artifacts/ckpt.pt
        ln -s ckpt.pt /artifacts/latest.pt
        for i in $(seq 600); do [ -e /artifacts/go-2 ] && break; sleep 0.1; done  # at most 60 s: then it fails
        echo v2 > /artifacts/ckpt.pt
        for i in $(seq 600); do [ -e /artifacts/go-3 ] && break; sleep 0.1; done
        echo v3 > /artifacts/ckpt.pt
        """)
    wanted = [hashlib.sha256(b"v%d\n" % i).hexdigest() for i in (1, 2, 3)]
    done = threading.Event()

    def go_once_stored() -> None:
        """Tell the job to write the next version once the link's current one is stored (a go file in
        its /artifacts folder on the host): no pause the machine's load could outrun."""
        for step in (2, 3):
            while not done.is_set():
                jobs = EmulatorPlatform().jobs(limit=1)
                versions = [] if not jobs else [a.sha256 for a in EmulatorPlatform().store.artifact_versions(
                    jobs[0].id) if a.path == "latest.pt"]
                if versions == wanted[:step - 1]:
                    for folder in home.glob(f"machines/*/artifacts/{jobs[0].name}"):
                        (folder / f"go-{step}").touch()
                    break
                time.sleep(0.1)

    helper = threading.Thread(target=go_once_stored, daemon=True)
    helper.start()
    try:
        run = project.test()
    finally:
        done.set()
        helper.join(timeout=10)
    assert run.exit_code == 0, run.output
    assert stored(s3_storage, run.job.name, "latest.pt", tmp_path) == b"v3\n"
    versions = [a.sha256 for a in EmulatorPlatform().store.artifact_versions(run.job.id) if a.path == "latest.pt"]
    assert versions == wanted


def test_upload_error_when_storage_dies_and_the_script_succeeds(project, home, monkeypatch, tmp_path_factory):
    server_home = tmp_path_factory.mktemp("dying-s3")
    host = start_server(server_home)
    monkeypatch.setenv("CYCLE_STORAGE", "s3")
    monkeypatch.setenv("LOCALSTACK_HOST", host)
    monkeypatch.setenv("CYCLE_UPLOAD_RETRIES", "2")
    monkeypatch.setenv("CYCLE_UPLOAD_BACKOFF", "0.1")
    project.write(".cycleswap/run.sh", "echo one > /artifacts/first.txt; sleep 3; echo two > /artifacts/second.txt; "
                                       "exit 0\n")

    def kill_after_first_upload():
        store = EmulatorPlatform().store
        deadline = time.time() + 60
        while time.time() < deadline:
            jobs = store.jobs(limit=1)
            if jobs and store.artifacts(jobs[0].id):
                stop_server(server_home)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_first_upload)
    killer.start()
    run = project.test()
    killer.join()
    assert run.job is not None, run.output
    assert run.job.state is JobState.FAILED and run.job.reason == "UPLOAD_ERROR"
    assert run.exit_code != 0
    system = [r.text for r in run.logs if r.stream is Stream.SYSTEM]
    assert any("UPLOAD_ERROR" in line and "second.txt" in line for line in system)


def test_script_failure_wins_over_upload_failure(project, home, monkeypatch):
    monkeypatch.setenv("CYCLE_STORAGE", "s3")
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:9")
    run = project.test()
    assert run.exit_code == 1 and "cycle emulator storage start" in run.output  # refused before the job starts


def test_local_store_is_the_default_and_needs_no_server(project, home, tmp_path):
    project.write(".cycleswap/run.sh", "echo weights > /artifacts/model.bin\n")
    run = project.test()
    assert run.job.state is JobState.FINISHED
    from emulator.blobs import LocalStore

    out = tmp_path / "m.bin"
    LocalStore(home / "storage").get_to(f"jobs/{run.job.name}/artifacts/model.bin", out)
    assert out.read_bytes() == b"weights\n"
