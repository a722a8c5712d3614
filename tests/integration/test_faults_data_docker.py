"""Issue 10, data items: nothing the job printed or wrote is lost, nothing hangs, nothing escapes.

Against the real Docker engine and, where storage matters, the real moto S3 server."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from emulator.models import JobState, Stream


def test_last_line_without_newline_reaches_live_output_and_stored_log(project):
    # the pause lets the follow stream attach while the job runs: that is when the last frame was dropped
    project.write(".cycleswap/run.sh", "echo first; echo err-first >&2; sleep 0.5; printf 'err-done' >&2; printf "
                                       "'done'\n")
    missing = []
    for attempt in range(10):
        run = project.test()
        assert run.exit_code == 0, run.output
        stored = {(r.stream, r.text) for r in run.logs}
        for stream, text in ((Stream.STDOUT, "done"), (Stream.STDERR, "err-done")):
            if (stream, text) not in stored:
                missing.append(f"run {attempt}: stored log lacks {stream.value} {text!r}")
        shown_lines = [line.strip() for line in run.output.splitlines()]
        if "done" not in shown_lines or "err-done" not in shown_lines:
            missing.append(f"run {attempt}: live output lacks a last line: {run.output[-300:]!r}")
        stdout = [r.text for r in run.logs if r.stream is Stream.STDOUT]
        if stdout != ["first", "done"]:
            missing.append(f"run {attempt}: stdout lines {stdout}")
    assert not missing, "\n".join(missing)


def _detached(project, *args: str) -> str:
    from helpers import cli

    result = cli("project", "test", str(project.root), "--detach", *args)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _ended(name: str, timeout: float = 90.0):
    """The job once it ended; a job still running at the deadline is cancelled and the test fails."""
    from helpers import FINAL, cli, wait_state

    try:
        return wait_state(name, FINAL, timeout=timeout)
    except AssertionError:
        cli("job", "cancel", name)
        raise


def test_artifact_named_with_invalid_utf8_is_stored_and_pulled_with_its_exact_bytes(project, s3_storage):
    from emulator.platform import EmulatorPlatform

    from helpers import cli

    project.write(".cycleswap/run.sh", "echo raw > \"/artifacts/a$(printf '\\377\\376')b\"; sleep 1; echo after > "
                                       "/artifacts/after.txt\n")
    name = _detached(project)
    job = _ended(name)
    logs = "\n".join(r.text for r in EmulatorPlatform().logs(name))
    assert job.state is JobState.FINISHED, logs
    assert len(EmulatorPlatform().artifacts(name)) == 2, logs
    pulled = cli("job", "pull", name)
    assert pulled.exit_code == 0, pulled.output
    folder = os.fsencode(project.root / ".cycleswap" / "jobs" / name / "artifacts")
    assert set(os.listdir(folder)) == {b"a\xff\xfeb", b"after.txt"}
    with open(os.path.join(folder, b"a\xff\xfeb"), "rb") as f:
        assert f.read() == b"raw\n"


def test_a_255_byte_artifact_name_survives_a_move_and_a_pull(project, monkeypatch):
    from emulator.platform import EmulatorPlatform

    from helpers import cli, wait_state

    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "1")
    long_name = "n" * 251 + ".bin"  # 255 bytes, the longest name Linux allows
    project.write(".cycleswap/run.sh", f"""\
        if [ -f /artifacts/{long_name} ]; then echo restarted; exit 0; fi
        echo weights > /artifacts/{long_name}
        sleep 60
        """)
    name = _detached(project)
    wait_state(name, (JobState.RUNNING,))
    platform = EmulatorPlatform()
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not platform.artifacts(name):
            time.sleep(0.05)
        assert [a.path for a in platform.artifacts(name)] == [long_name]
        moved = cli("job", "reassign", name)
        assert moved.exit_code == 0, moved.output
    finally:
        job = _ended(name)
    texts = [r.text for r in platform.logs(name)]
    assert job.state is JobState.FINISHED and "restarted" in texts, texts
    pulled = cli("job", "pull", name)
    assert pulled.exit_code == 0 and "1 artifact(s) downloaded" in pulled.output, pulled.output
    folder = project.root / ".cycleswap" / "jobs" / name / "artifacts"
    assert os.listdir(folder) == [long_name]
    assert (folder / long_name).read_text() == "weights\n"


@pytest.fixture
def small_home(tmp_path, monkeypatch):
    """An emulator home on a 40 MB filesystem of the test's own (tmpfs; the tests run as root)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount_point)], check=True)
    try:
        home = mount_point / "cycle-home"
        home.mkdir()
        monkeypatch.setenv("CYCLE_HOME", str(home))
        yield home
    finally:
        from emulator.platform import EmulatorPlatform

        from helpers import cli

        for job in EmulatorPlatform().jobs(limit=10):
            if not job.state.is_final:
                cli("job", "cancel", job.name)
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_under_the_home_fails_the_job_with_the_folder_and_space_needed(project, small_home):
    from emulator.platform import EmulatorPlatform

    project.write(".cycleswap/run.sh", "head -c 31457280 /dev/zero > /artifacts/big.bin; echo written\n")
    started = time.monotonic()
    name = _detached(project)
    job = _ended(name, timeout=120)
    assert time.monotonic() - started < 120
    events = [r.text for r in EmulatorPlatform().logs(name) if r.stream is Stream.SYSTEM]
    assert job.state is JobState.FAILED and job.reason == "DISK_FULL", events
    ending = [e for e in events if e.startswith("job failed (DISK_FULL): out of disk space")]
    assert ending, events
    assert str(small_home) in ending[0] and "31457280 bytes" in ending[0] and "big.bin" in ending[0]
    assert "\n" not in ending[0]


def _swap_for_link(path, target):
    """Put a symlink to `target` where `path` was; returns where the original file went."""
    aside = path.with_name(path.name + ".aside")
    os.replace(path, aside)
    os.symlink(target, path)
    return aside


def test_an_in_place_upload_never_sends_a_file_swapped_in_by_a_link(tmp_path, s3_host):
    """Between hashing and sending, the job swaps its checkpoint for a link to a host secret of the
    same size (and swaps it back before the final check): the bucket must never hold the secret."""
    from emulator.artifacts import ArtifactPipeline, PipelineSettings
    from emulator.blobs import S3Store

    secret = tmp_path / "host-secret"
    secret.write_bytes(b"S" * (9 * 1024 * 1024))
    swaps = []

    class SwapBeforeSending(S3Store):
        def put_in_place(self, key, source, size, still_same):
            if swaps:  # once: the swap-back changes the file's ctime, so that upload is sent again
                return super().put_in_place(key, source, size, still_same)
            path = root / "ckpt.bin"
            aside = _swap_for_link(path, secret)
            swaps.append(key)

            def swap_back_then_check():
                os.replace(aside, path)  # same inode, size and mtime as judged; the rename changes its ctime
                return still_same()

            return super().put_in_place(key, source, size, swap_back_then_check)

    store = SwapBeforeSending(s3_host, "swap-bucket", tmp_path / "snap")
    root = tmp_path / "artifacts"
    root.mkdir()
    events = []
    pipeline = ArtifactPipeline(root, "job-1", store, "FIFO", events.append, lambda a: None,
                                PipelineSettings(stability=0.05))
    pipeline.start()
    data = os.urandom(9 * 1024 * 1024)
    (root / "ckpt.bin").write_bytes(data)
    report = pipeline.finish()
    assert swaps, "the in-place upload was not used"
    stored = store.client.get_object(Bucket="swap-bucket", Key="jobs/job-1/artifacts/ckpt.bin")["Body"].read()
    assert stored != secret.read_bytes(), "the bucket holds the host file the link pointed to"
    assert stored == data
    assert [a.size for a in report.uploaded] == [len(data)]
