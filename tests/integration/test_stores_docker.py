"""Where artifacts live: archive deletes a job's own bytes (and only those), every artifact record
names its store, and a project name belongs to one folder. Against the real engine and the real
moto S3 server (issue 10, items 4, 5 and 14)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from emulator.blobs import S3Store
from emulator.platform import EmulatorPlatform
from emulator.storage import DEFAULT_BUCKET, start_server, stop_server

from helpers import cli

SHARED = "bytes-two-jobs-share " * 500


@pytest.fixture(params=["local", "s3"])
def store_kind(request, monkeypatch) -> str:
    monkeypatch.setenv("CYCLE_STABILITY_MS", "200")
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


@pytest.fixture
def own_s3(home: Path):
    """A moto server of this test's own (config.toml points at it), so the test can stop it."""
    host = start_server(home)
    yield host
    stop_server(home)


def s3_keys(host: str, prefix: str) -> list[str]:
    """What the bucket holds under `prefix`, asked of the server itself."""
    store = S3Store(host, DEFAULT_BUCKET, Path("/tmp"))
    answer = store.client.list_objects_v2(Bucket=DEFAULT_BUCKET, Prefix=prefix)
    return [o["Key"] for o in answer.get("Contents", [])]


def project_usage(project_name: str) -> int:
    report = json.loads(cli("emulator", "usage", "--json").output)
    return next(row["artifacts"] for row in report["projects"] if row["project"] == project_name)


def pulled(project, job_name: str) -> Path:
    return project.root / ".cycleswap" / "jobs" / job_name / "artifacts"


def test_archive_deletes_the_jobs_own_bytes_and_keeps_what_another_job_shares(project, home, store_kind, request):
    project.write(".cycleswap/run.sh", f"""\
        printf '%s' '{SHARED}' > /artifacts/shared.txt
        head -c 4096 /dev/urandom > /artifacts/own.bin
        sleep 1.5
        head -c 4096 /dev/urandom > /artifacts/own.bin
        """)
    first = project.test()
    assert first.exit_code == 0, first.output
    project.write(".cycleswap/run.sh", f"printf '%s' '{SHARED}' > /artifacts/shared.txt\n")
    second = project.test()
    assert second.exit_code == 0, second.output
    archived, kept = first.job.name, second.job.name
    platform = EmulatorPlatform()
    own = {v.sha256 for v in platform.artifact_versions(archived) if v.path == "own.bin"}
    shared = {v.sha256 for v in platform.artifact_versions(kept)}
    assert len(own) == 2 and len(shared) == 1  # both versions of own.bin were stored
    usage_before = project_usage(project.name)

    assert list(home.glob(f"machines/*/artifacts/{archived}/own.bin"))  # the working copy on its machine
    result = cli("job", "archive", archived)
    assert result.exit_code == 0, result.output
    assert list(home.glob(f"machines/*/artifacts/{archived}")) == []  # gone with the stored bytes
    assert list(home.glob(f"machines/*/artifacts/{kept}/shared.txt"))  # another job's stays

    if store_kind == "local":  # the store itself, not its records: a job's small files are in its packs
        packs = home / "storage" / "packs" / "jobs"
        assert not (packs / archived).exists()
        assert SHARED.encode() in b"".join(pack.read_bytes() for pack in (packs / kept).glob("*.pack"))
        assert not (home / "storage" / "manifests" / "jobs" / f"{archived}.jsonl").exists()
    else:
        host = request.getfixturevalue("s3_storage")
        assert s3_keys(host, f"jobs/{archived}/") == []
        assert s3_keys(host, f"jobs/{kept}/") == [f"jobs/{kept}/artifacts/shared.txt"]

    result = cli("job", "pull", kept)
    assert result.exit_code == 0, result.output
    assert (pulled(project, kept) / "shared.txt").read_text() == SHARED

    result = cli("job", "pull", archived)
    assert result.exit_code == 1, result.output
    assert f"job {archived} is archived" in result.output and "Traceback" not in result.output
    folder = pulled(project, archived)
    assert not folder.exists() or list(folder.iterdir()) == []
    assert (folder.parent / "output.log").exists()  # the log stays and is saved
    tailed = cli("job", "tail", archived)
    assert tailed.exit_code == 0 and f"job {archived} is archived" in tailed.output
    assert not folder.exists() or list(folder.iterdir()) == []

    status = json.loads(cli("job", "status", archived, "--json").output)
    assert status["archived"] is True
    assert "archived" in cli("job", "status", archived).output
    first_bytes = sum(a.size for a in EmulatorPlatform().store.artifacts(first.job.id))
    assert project_usage(project.name) == usage_before - first_bytes


def test_a_job_on_a_stopped_s3_server_says_which_store_to_start(project, home, own_s3):
    project.write(".cycleswap/run.sh", "echo kept-on-s3 > /artifacts/a.txt\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    [artifact] = EmulatorPlatform().artifacts(run.job.name)
    assert artifact.store == f"s3://{own_s3}/{DEFAULT_BUCKET}"

    assert cli("emulator", "storage", "stop").exit_code == 0  # back to the local store
    result = cli("job", "pull", run.job.name)
    assert result.exit_code not in (0, None) and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "FileNotFoundError" not in result.output
    assert own_s3 in result.output and "cycle emulator storage start" in result.output
    assert not (pulled(project, run.job.name) / "a.txt").exists()

    assert start_server(home) == own_s3  # restarted where the records look for it
    result = cli("job", "pull", run.job.name)  # moto forgot the object: still one paragraph, no traceback
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output


def test_a_local_job_stays_readable_after_switching_to_s3_and_back(project, home):
    project.write(".cycleswap/run.sh", "head -c 20000 /dev/urandom > /artifacts/weights.bin\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    [artifact] = EmulatorPlatform().artifacts(run.job.name)
    assert artifact.store == "local"
    target = pulled(project, run.job.name) / "weights.bin"

    host = start_server(home)
    try:
        result = cli("job", "pull", run.job.name)
        assert result.exit_code == 0, result.output
        assert hashlib.sha256(target.read_bytes()).hexdigest() == artifact.sha256
        project.write(".cycleswap/run.sh", "cmp /data/weights.bin /data/weights.bin && wc -c < /data/weights.bin\n")
        mounted = project.test("--mount-job", f"{run.job.name}:/data")  # read from the record's store, not S3
        assert mounted.exit_code == 0, mounted.output
        assert "20000" in mounted.output
        assert EmulatorPlatform().blob_store().name == f"s3://{host}/{DEFAULT_BUCKET}"
    finally:
        stop_server(home)
    target.unlink()
    result = cli("job", "pull", run.job.name)
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(target.read_bytes()).hexdigest() == artifact.sha256


def copy_project(project, to: Path) -> Path:
    shutil.copytree(project.root, to, ignore=shutil.ignore_patterns("jobs"))
    return to


def test_a_second_folder_with_the_same_project_name_is_refused(project, tmp_path):
    assert project.test().exit_code == 0
    other = copy_project(project, tmp_path / "other-checkout")
    jobs_before = len(EmulatorPlatform().jobs())
    for args in ([], ["--detach"]):
        result = cli("project", "test", str(other), *args)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert str(project.root) in text and str(other / ".cycleswap" / "manifest.toml") in text
        assert "[main] name" in text
    assert len(EmulatorPlatform().jobs()) == jobs_before  # no job, no machine held


def test_a_refused_run_claims_no_project_name(project, tmp_path):
    """A run refused for its input (a volume never uploaded, a job to mount that does not exist)
    must not make its folder the owner of the project's name: another folder may still run it."""
    clean = copy_project(project, tmp_path / "clean-checkout")
    project.write(".cycleswap/manifest.toml", (project.root / ".cycleswap/manifest.toml").read_text().replace(
        "[main]\n", "[main]\nvolumes = [\"never-uploaded\"]\n", 1))
    assert cli("project", "test", str(project.root)).exit_code == 2
    assert cli("project", "test", str(clean), "--mount-job", "nosuch-1:/data").exit_code == 2
    result = cli("project", "test", str(clean))
    assert result.exit_code == 0, result.output


def test_a_moved_project_takes_its_name_over_and_old_jobs_keep_their_folder(project, tmp_path):
    project.write(".cycleswap/run.sh", "echo a > /artifacts/a.txt\n")
    first = project.test()
    assert first.exit_code == 0
    moved = tmp_path / "moved"
    shutil.move(project.root, moved)
    result = cli("project", "test", str(moved))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"moved from {project.root}" in text
    second = EmulatorPlatform().jobs(limit=1)[0]
    assert second.project_root == str(moved)

    assert cli("job", "pull", second.name).exit_code == 0
    assert (moved / ".cycleswap" / "jobs" / second.name / "artifacts" / "a.txt").exists()
    result = cli("job", "pull", first.job.name)  # its own folder is gone: never written into another one
    assert result.exit_code == 2 and str(project.root) in result.output
    assert not (moved / ".cycleswap" / "jobs" / first.job.name).exists()


def test_storage_use_keeps_an_s3_api_that_answers(home, s3_host):
    """`use s3` records a host once it answers (one that does not: tests/unit/test_storage_use_input.py)."""
    result = cli("emulator", "storage", "use", "s3", "--host", s3_host, "--bucket", "my-bucket")
    assert result.exit_code == 0, result.output
    text = (home / "config.toml").read_text()
    assert f'localstack_host = "{s3_host}"' in text and 'bucket = "my-bucket"' in text


def test_mount_job_of_objects_the_server_lost_is_refused_before_a_job_is_made(project, home, own_s3):
    """moto forgot the earlier job's objects: `--mount-job` of it made a job that ended FAILED
    (AGENT_ERROR), one more each try. A run in the terminal now fetches the mount first and is
    refused with the missing object named, before any job exists."""
    project.write(".cycleswap/run.sh", "echo kept-on-s3 > /artifacts/a.txt\n")
    earlier = project.test()
    assert earlier.exit_code == 0, earlier.output
    stop_server(home)
    assert start_server(home) == own_s3  # the same address; moto forgot the object
    jobs_before = len(EmulatorPlatform().jobs())
    project.write(".cycleswap/run.sh", "cat /data/a.txt\n")
    refused = project.test("--mount-job", f"{earlier.job.name}:/data")
    assert refused.exit_code == 1, refused.output
    assert f"jobs/{earlier.job.name}/artifacts/a.txt" in refused.output and "Traceback" not in refused.output
    assert len(EmulatorPlatform().jobs()) == jobs_before


def test_pull_inside_the_projects_moved_folder_saves_there(project, home, tmp_path, monkeypatch):
    """The project folder was moved after the job ran: pull from inside the moved folder (the same
    [main] name) asked for --project-dir; it now saves there and says so. Elsewhere it still asks."""
    project.write(".cycleswap/run.sh", "echo weights > /artifacts/w.txt\n")
    run = project.test()
    assert run.exit_code == 0, run.output
    moved = tmp_path / "moved-project"
    shutil.move(project.root, moved)
    monkeypatch.chdir(tmp_path)
    elsewhere = cli("job", "pull", run.job.name)
    assert elsewhere.exit_code == 2 and "is not here" in elsewhere.output, elsewhere.output
    monkeypatch.chdir(moved / ".cycleswap")  # anywhere inside the project
    pulled = cli("job", "pull", run.job.name)
    assert pulled.exit_code == 0, pulled.output
    assert f"saving into {moved}" in pulled.output
    assert (moved / ".cycleswap" / "jobs" / run.job.name / "artifacts" / "w.txt").read_text() == "weights\n"


def test_storage_start_with_its_server_running_points_the_home_at_it_again(home, own_s3):
    """`storage use local` leaves cycle's moto server running; a `storage start` then said artifacts
    go to S3 while config.toml kept them local, and every job used the local store."""
    from emulator.storage import open_blob_store

    assert cli("emulator", "storage", "use", "local").exit_code == 0
    assert open_blob_store(home).name == "local"
    started = cli("emulator", "storage", "start")
    assert started.exit_code == 0 and own_s3 in started.output, started.output
    assert open_blob_store(home).name == f"s3://{own_s3}/{DEFAULT_BUCKET}"
