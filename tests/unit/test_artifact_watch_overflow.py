"""inotify's queue overflowing (a job writing more files at once than the kernel queues) dropped the
events of thousands of files: they waited, unseen, until the job's end, reported neither queued
nor stored, and a move listed them as lost. The watcher now rescans /artifacts."""

from __future__ import annotations

import inspect
import logging
import time
from pathlib import Path

from emulator.artifacts import ArtifactPipeline, PipelineSettings
from emulator.artifacts import watch as watch_module
from emulator.blobs import LocalStore


def test_the_installed_watchdog_logs_an_overflow_where_the_watcher_listens():
    from watchdog.observers import inotify_c

    assert inotify_c.logger.name.startswith(watch_module.OVERFLOW_LOGGER + ".")
    assert f'logger.warning("{watch_module.OVERFLOW_MESSAGE}' in inspect.getsource(inotify_c)


def test_files_whose_events_inotify_dropped_are_found_by_a_rescan_while_the_job_runs(tmp_path: Path, monkeypatch):
    root = tmp_path / "artifacts"
    root.mkdir()
    stored, events = [], []
    pipeline = ArtifactPipeline(root, "job-1", LocalStore(tmp_path / "store"), "FIFO", events.append, stored.extend,
                                PipelineSettings(stability=0.05, retries=2, backoff=0.01))
    pipeline.start()
    try:
        monkeypatch.setattr(watch_module.Watching, "touch", lambda self, path: None)  # their events are lost
        for n in range(50):
            (root / f"f-{n}.txt").write_text(str(n))
        time.sleep(0.5)
        assert stored == []
        monkeypatch.undo()
        logging.getLogger(watch_module.OVERFLOW_LOGGER + ".inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost")  # as watchdog says it
        deadline = time.monotonic() + 10
        while len(stored) < 50 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(a.path for a in stored) == sorted(f"f-{n}.txt" for n in range(50))  # before the job's end
        assert any("inotify's queue overflowed" in e and "50 more file(s) found" in e for e in events)
    finally:
        pipeline.finish()
