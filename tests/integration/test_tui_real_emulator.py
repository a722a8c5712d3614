"""`cycle tui` against the real emulator with a running job (the pilot and snapshot tests on fakes
are in tests/unit/test_tui.py)."""

from __future__ import annotations

import time

from cycle.tui.app import CycleApp
from cycle.tui.widgets.artifact_browser import ArtifactBrowser
from cycle.tui.widgets.log_view import LogView

SIZE = (110, 32)


async def test_tui_against_the_real_emulator_with_a_running_job(project, home, monkeypatch):
    from typer.testing import CliRunner

    from cycle.cli import app as cli_app
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_LOG_CADENCE_SECONDS", "0.5")
    project.write(".cycleswap/run.sh", """\
        for i in $(seq 1 200); do
            echo "tick $i"; [ $((i % 20)) = 0 ] && echo "e$i" >&2 && echo $i > /artifacts/ckpt-$i; sleep 0.05
        done
        sleep 30
        """)
    name = CliRunner().invoke(cli_app, ["project", "test", str(project.root), "--detach"]).output.strip()
    platform = EmulatorPlatform()
    deadline = time.time() + 30
    while time.time() < deadline and platform.job(name).state.value != "RUNNING":
        time.sleep(0.1)
    app = CycleApp(platform)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(1.0)
        assert app.screen.query_one("#jobs").row_count >= 1
        await pilot.press("enter")
        await pilot.pause(0.5)
        log = app.screen.query_one(LogView)
        deadline = time.time() + 30
        while time.time() < deadline and not any(t == "tick 200" for t in log.texts):
            await pilot.pause(0.3)
        assert "tick 200" in log.texts and log.is_vertical_scroll_end
        assert any(log.stream_name(i) == "stderr" for i in range(log.line_count))
        await pilot.press("tab")
        await pilot.pause(1.5)
        browser = app.screen.query_one(ArtifactBrowser)
        assert {e.name for e in browser.rows} >= {"ckpt-20", "ckpt-200"}
        # the modified column comes from the platform's artifact record: the file's mtime, before its upload
        records = {a.path: a for a in platform.artifacts(name)}
        assert all(0 < a.mtime_ns <= a.uploaded_ns for a in records.values())
        assert browser.mtimes == {path: a.mtime_ns for path, a in records.items()}
        await pilot.press("s", "s")  # newest first: ckpt-200, the last one written, on top
        assert browser.sort_by == "time" and browser.rows[0].name == "ckpt-200"
        await pilot.press("tab", "c", "y")
        deadline = time.time() + 30
        while time.time() < deadline and platform.job(name).state.value != "CANCELLED":
            await pilot.pause(0.2)
        assert platform.job(name).state.value == "CANCELLED"
