"""`cycle tui` acts on the job or file the user sees (issue 13, items 1-4): selections follow
identity across refreshes and filters, confirmations default to the safe answer, `r` asks first,
and the log takes keys the moment a job opens."""

from __future__ import annotations

from cycle.tui.widgets.artifact_browser import ArtifactBrowser
from cycle.tui.widgets.log_view import LogView
from emulator.models import JobState
from test_tui import SIZE, make_app, open_job


def highlighted(app) -> str:
    """The job name (row key) under the jobs table's cursor."""
    table = app.screen.query_one("#jobs")
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


async def test_a_new_job_above_the_selection_keeps_enter_and_c_on_the_same_job():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("j")  # trainer-3
        platform.add_job("trainer-5")
        await pilot.press("r")  # refresh now
        await pilot.pause(0.3)
        table = app.screen.query_one("#jobs")
        assert table.row_count == 5 and highlighted(app) == "trainer-3"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen.job_name == "trainer-3"


async def test_a_filter_keeps_the_selected_job():
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("j", "j")  # sweep-2, the third row
        await pilot.press("slash", *"sweep", "enter")
        await pilot.pause(0.1)
        assert highlighted(app) == "sweep-2"  # now the first row
        await pilot.press("escape")
        assert highlighted(app) == "sweep-2"


async def test_a_new_artifact_above_the_selection_keeps_the_selected_file():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await pilot.press("tab")
        await pilot.pause(0.3)
        browser = app.screen.query_one(ArtifactBrowser)
        await pilot.press("G")
        assert browser.selected().name == "zz-notes.txt"
        platform.add_artifact("aa-first.txt")
        await pilot.pause(1.0)  # a poll brings the new file in, sorted above
        assert browser.rows[2].name == "aa-first.txt"
        assert browser.selected().name == "zz-notes.txt"


async def test_the_cancel_question_has_no_focused_and_enter_answers_no():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await pilot.press("c")
        assert type(app.screen).__name__ == "ConfirmScreen"
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "JobScreen" and platform.cancelled == []
