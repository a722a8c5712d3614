"""A moved job's folder on the machine it left is removed (emulator/job/move.py remove_tree and
RecoveryStrategy.wipe): whatever modes the job left, never following a link, and a removal that
fails is a system event. Modes matter only to a user other than root, so when the tests run as
root those parts run in a forked child that became `nobody` (uid 65534). No Docker."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from emulator.job.context import job_folder
from emulator.job.move import RecoveryStrategy, remove_tree

NOBODY = 65534


def as_nobody(action: Callable[[], object]) -> object:
    """`action()` in a forked child running as `nobody` when the tests run as root (root ignores
    modes), else in a child as ourselves; its JSON result, or its traceback as an AssertionError."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            os.close(reading)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            answer = {"result": action()}
        except BaseException:  # noqa: BLE001 - the parent reports it
            answer = {"error": traceback.format_exc()}
        os.write(writing, json.dumps(answer).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        answer = json.loads(pipe.read() or '{"error": "the child wrote nothing"}')
    os.waitpid(child, 0)
    assert "error" not in answer, answer["error"]
    return answer["result"]


@pytest.fixture
def shared(tmp_path_factory) -> Path:
    """A folder `nobody` can reach (pytest's own temporary folders sit under a root-only one)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cycle-wipe-"))
    os.chmod(folder, 0o777)
    yield folder
    for base, dirs, _files in os.walk(folder):  # what a failed test left locked
        for name in dirs:
            os.chmod(os.path.join(base, name), 0o700)
    shutil.rmtree(folder)


def open_to_all(*folders: Path) -> None:
    for folder in folders:
        os.chmod(folder, 0o777)


def make_a_jobs_mess(root: Path, outside: Path) -> None:
    """What a job may leave: a setuid file, folders without read or search permission, links out."""
    (root / "locked" / "deeper").mkdir(parents=True)
    (root / "locked" / "deeper" / "f").write_text("x")
    (root / "sb").write_text("#!")
    os.chmod(root / "sb", 0o4755)
    (root / "no-search").mkdir()
    (root / "no-search" / "g").write_text("y")
    os.chmod(root / "no-search", 0o600)  # readable, not searchable: its entries cannot be removed as they are
    os.chmod(root / "locked" / "deeper", 0)
    os.chmod(root / "locked", 0)
    os.symlink(outside, root / "link-out")
    os.symlink(outside / "keep.txt", root / "link-file")


def test_remove_tree_removes_unreadable_folders_and_setuid_files_and_follows_no_link(shared):
    outside = shared / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the job's")
    open_to_all(outside, outside / "keep.txt")  # a followed link could change or delete them
    home = shared / "home"
    root = job_folder(home, "local-0", "demo-1")
    root.parent.mkdir(parents=True)
    open_to_all(home, home / "machines", home / "machines" / "local-0", root.parent)

    def mess_then_remove() -> bool:
        root.mkdir()
        make_a_jobs_mess(root, outside)
        remove_tree(root)
        return os.path.lexists(root)

    assert as_nobody(mess_then_remove) is False
    assert (outside / "keep.txt").read_text() == "not the job's"
    assert os.lstat(outside).st_mode & 0o7777 == 0o777 and os.lstat(outside / "keep.txt").st_mode & 0o7777 == 0o777


def test_remove_tree_of_nothing_or_of_a_link_removes_only_the_link(tmp_path):
    remove_tree(tmp_path / "absent")  # a machine that never held the job's folder: nothing to do
    target = tmp_path / "target"
    target.mkdir()
    (target / "f").write_text("stays")
    (tmp_path / "folder").symlink_to(target)
    remove_tree(tmp_path / "folder")
    assert not os.path.lexists(tmp_path / "folder") and (target / "f").read_text() == "stays"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a folder another user owns: made as root")
def test_a_folder_that_cannot_be_removed_is_a_system_event_and_the_move_goes_on(shared):
    """A file root left in a root-owned folder: `nobody` can neither open it up nor remove it."""
    home = shared / "home"
    folder = job_folder(home, "local-0", "demo-1")
    (folder / "roots").mkdir(parents=True)
    (folder / "roots" / "f").write_text("root's")
    open_to_all(home, home / "machines", home / "machines" / "local-0", folder.parent, folder)

    def wipe() -> list[str]:
        events: list[str] = []
        ctx = SimpleNamespace(home=home, job=SimpleNamespace(name="demo-1"), event=events.append)
        RecoveryStrategy(ctx).wipe("local-0")
        return events

    events = as_nobody(wipe)
    assert len(events) == 1 and events[0].startswith(f"machine local-0: the job's folder {folder} could not be "
                                                     "removed (") and "stays on disk" in events[0], events
    assert (folder / "roots" / "f").exists()


def test_a_restore_of_an_object_the_store_lost_fails_at_once_without_retries(tmp_path):
    """ObjectMissing is a StorageError, so a move's restore waited out every backoff (~15 s) for an
    object that cannot come back, then wrapped its paragraph in "check that the store answers"."""
    from types import SimpleNamespace

    import pytest

    from emulator.blobs import ObjectMissing
    from emulator.job.context import RestoreFailed
    from emulator.job.move import RecoveryStrategy

    class LostStore:
        def get_to(self, key, path, known=None):
            raise ObjectMissing(f"no object {key} in s3://bucket: the S3 server was restarted")

    events, sleeps = [], []
    ctx = SimpleNamespace(event=events.append, blobs=SimpleNamespace(description="s3://bucket"))
    recovery = RecoveryStrategy(ctx, sleep=sleeps.append)
    artifact = SimpleNamespace(path="ckpt.pt", key="jobs/j/artifacts/ckpt.pt", size=3, sha256="ab" * 32, store="s3")
    stores = SimpleNamespace(get=lambda name: LostStore())
    with pytest.raises(RestoreFailed) as failed:
        recovery._download(stores, artifact, tmp_path / "ckpt.pt", "local-1", [1.0, 2.0, 4.0])
    assert sleeps == [] and events == []
    assert "ckpt.pt" in str(failed.value) and "restarted" in str(failed.value)
    assert "Check that the store answers" not in str(failed.value)


def test_a_cancel_during_a_moves_restore_ends_it_at_once_and_removes_what_it_restored(tmp_path, monkeypatch):
    """The restore read every file before the agent looked for requests again: an interrupted
    `cycle drill` (which asks for a cancel) waited for a whole restore, then the job's run.sh
    started once more on the new machine before the cancel was taken."""
    import hashlib

    import emulator.job.move as move_module
    from emulator.blobs import LocalStore
    from emulator.job.context import CancelRequested
    from emulator.models import Artifact
    from emulator.settings import Settings
    from emulator.store import StateStore

    monkeypatch.setattr(move_module, "CANCEL_POLL_SECONDS", 0.0)  # look before every file
    store, blobs = StateStore(tmp_path / "state.db"), LocalStore(tmp_path / "blobs")
    job = store.create_job("demo")
    for i in range(50):
        body = f"checkpoint {i}".encode()
        key = f"jobs/{job.name}/artifacts/step-{i}.pt"
        blobs.put_bytes(key, body, hashlib.sha256(body).hexdigest())
        store.add_artifact(job.id, Artifact(f"step-{i}.pt", key, len(body), hashlib.sha256(body).hexdigest(), 1, 2,
                                            blobs.name))
    events, read = [], []
    real_get_to = blobs.get_to

    def get_to(key, dest, progress=None, known=None):
        read.append(key)
        if len(read) == 5:
            store.request_cancel(job.id, "`cycle drill`")  # Ctrl-C in the drill, mid-restore
        return real_get_to(key, dest, progress, known)

    monkeypatch.setattr(blobs, "get_to", get_to)
    ctx = SimpleNamespace(home=tmp_path / "home", store=store, blobs=blobs, job=job, event=events.append,
                          settings=Settings())
    with pytest.raises(CancelRequested) as cancelled:
        RecoveryStrategy(ctx).restore("local-1")
    assert cancelled.value.by == "`cycle drill`" and len(read) == 5
    assert not job_folder(ctx.home, "local-1", job.name).exists()  # no half-restored folder left on the machine
