"""tui8 item 3: a notice about work under way (a move) goes when the work answers, replaced by its
outcome; and the job screen's notices leave the log's last lines, the ones a user follows, in sight."""

from __future__ import annotations

import pytest
from rich.text import Text
from test_tui import SIZE, make_app, open_job, settle, until
from textual.geometry import Region

from cycle.errors import CycleError


def notices(app) -> list[str]:
    return [Text.from_markup(n.message).plain if n.markup else n.message for n in app._notifications]


async def test_the_moving_notice_goes_when_the_move_answers():
    """The "moving trainer-4 to another machine …" toast stayed up under the "moved …" one."""
    app, platform = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_job(pilot)  # trainer-4, RUNNING
        await pilot.press("r", "y")
        await until(pilot, lambda: any(n.startswith("moved ") for n in notices(app)))
        await settle(pilot)
        assert notices(app) == ["moved local-1 -> local-2, restored 0 file(s)"]
        await until(pilot, lambda: len(app.screen.query("Toast")) == 1)


async def test_a_failed_move_replaces_the_moving_notice_with_the_error():
    app, platform = make_app()

    def refuse(name, **_):
        raise CycleError("no other machine is available: every machine is busy or offline")

    platform.reassign = refuse
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_job(pilot)
        await pilot.press("r", "y")
        await until(pilot, lambda: any("no other machine" in n for n in notices(app)))
        await settle(pilot)
        assert len(app._notifications) == 1 and next(iter(app._notifications)).severity == "error"


def log_bottom(app) -> Region:
    """The lower half of the log: its last lines, where a followed log's new lines arrive."""
    log = app.screen.query_one("LogView").region
    return Region(log.x, log.y + log.height // 2, log.width, log.height - log.height // 2)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_notices_on_the_job_screen_leave_the_logs_last_lines_and_the_header_in_sight(size):
    """Toasts sat over the log's bottom lines, the ones a user follows."""
    app, _ = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await open_job(pilot)
        app.notify("trainer-4: moved local-1 -> local-2, restored 3 file(s), a notice long enough to wrap")
        app.notify("trainer-4: CANCELLED")
        await until(pilot, lambda: len(app.screen.query("Toast")) == 2
                    and all(toast.region.height for toast in app.screen.query("Toast")))
        await settle(pilot)
        for toast in app.screen.query("Toast"):
            assert not toast.region.overlaps(log_bottom(app)), (toast.region, log_bottom(app))
            for kept in ("#job-header", "#log-status", "KeyFooter"):
                assert not toast.region.overlaps(app.screen.query_one(kept).region), (kept, toast.region)
