"""Archived jobs in the artifact browser and the local store's sweep, without an engine."""

from __future__ import annotations

import dataclasses
import shutil


async def test_the_artifact_browser_says_a_job_is_archived(tmp_path):
    from test_tui import SIZE, make_app, open_job, until

    from cycle.tui.widgets.artifact_browser import ArtifactBrowser

    app, platform = make_app(tmp_path)
    platform._jobs[0] = dataclasses.replace(platform._jobs[0], archived=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await pilot.press("tab")
        browser = app.screen.query_one(ArtifactBrowser)
        await until(pilot, lambda: browser.archived and browser.query_one("#artifacts-archived").display)
        assert browser.rows == []
        assert browser.query_one("#artifacts-archived").display
        assert not browser.query_one("#artifact-table").display


def test_local_delete_sweeps_only_blobs_nothing_else_references(tmp_path):
    """Pure store logic: every version under the prefix goes; bytes a volume or another job shares stay."""
    from emulator.blobs import LocalStore, sha256_file

    store = LocalStore(tmp_path / "storage")

    def put(key: str, data: bytes) -> str:
        source = tmp_path / "source"
        source.write_bytes(data)
        snapshot = store.snapshot_dir / "snap"
        shutil.copyfile(source, snapshot)
        sha = sha256_file(source)
        store.put_snapshot(key, snapshot, sha, len(data))
        return sha

    old, new = put("jobs/a-1/artifacts/w.bin", b"first"), put("jobs/a-1/artifacts/w.bin", b"second")
    with_volume = put("jobs/a-1/artifacts/data.csv", b"shared with a volume")
    with_job = put("jobs/a-1/artifacts/common.txt", b"shared with a job")
    put(f"volumes/v/{with_volume}", b"shared with a volume")
    put("jobs/a-2/artifacts/common.txt", b"shared with a job")

    assert store.delete_prefix("jobs/a-1/artifacts/") == 3
    blobs = {sha: (store.root / "blobs" / "sha256" / sha[:2] / sha).exists()
             for sha in (old, new, with_volume, with_job)}
    assert blobs == {old: False, new: False, with_volume: True, with_job: True}
    assert store.list("jobs/a-1/") == []
    assert [o.key for o in store.list("jobs/a-2/")] == ["jobs/a-2/artifacts/common.txt"]


def test_a_home_a_newer_version_added_columns_to_still_lists_its_jobs(tmp_path):
    """A newer `cycle` adds columns to the jobs table on open; this version must still read the rows
    (it once failed with a TypeError traceback on `cycle job list`)."""
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    created = store.create_job("demo")
    with store._tx() as db:
        db.execute("ALTER TABLE jobs ADD COLUMN from_the_future TEXT DEFAULT 'x'")
    assert [job.name for job in StateStore(tmp_path / "state.db").jobs()] == [created.name]
