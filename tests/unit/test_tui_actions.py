"""`cycle tui` acts on the job or file the user sees (issue 13, items 1-4): selections follow
identity across refreshes and filters, confirmations default to the safe answer, `r` asks first,
and the log takes keys the moment a job opens."""

from __future__ import annotations

import pytest
from test_tui import SIZE, artifacts_shown, job_opened, jobs_listed, make_app, open_job, settle, until

from cycle.api import JobState
from cycle.tui.screens.job import REQUESTER
from cycle.tui.widgets.log_view import LogView


def highlighted(app) -> str:
    """The job name (row key) under the jobs table's cursor."""
    table = app.screen.query_one("#jobs")
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


async def test_a_new_job_above_the_selection_keeps_enter_and_c_on_the_same_job():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await jobs_listed(pilot)
        await pilot.press("j")  # trainer-3
        platform.add_job("trainer-5")
        await pilot.press("r")  # refresh now
        table = app.screen.query_one("#jobs")
        await until(pilot, lambda: table.row_count == 5)
        assert highlighted(app) == "trainer-3"
        await pilot.press("enter")
        await job_opened(pilot)
        assert app.screen.job_name == "trainer-3"


async def test_a_filter_keeps_the_selected_job():
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await jobs_listed(pilot)
        await pilot.press("j", "j")  # sweep-2, the third row
        await pilot.press("slash", *"sweep", "enter")
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 2)
        assert highlighted(app) == "sweep-2"  # now the first row
        await pilot.press("escape")
        assert highlighted(app) == "sweep-2"


async def test_a_new_artifact_above_the_selection_keeps_the_selected_file():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        browser = await artifacts_shown(pilot)
        await pilot.press("G")
        assert browser.selected().name == "zz-notes.txt"
        platform.add_artifact("aa-first.txt")
        await until(pilot, lambda: len(browser.rows) == 5)  # a poll brings the new file in, sorted above
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
        await until(pilot, lambda: type(app.screen).__name__ == "JobScreen")
        await settle(pilot)
        assert platform.cancelled == []
        await pilot.press("c", "y")  # tui2: the TUI names itself as the requester, as on reassign
        await until(pilot, lambda: platform.cancelled)
        assert platform.cancel_requesters == ["`cycle tui`"]


async def test_r_on_the_job_screen_asks_first_and_names_the_tui_as_requester():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)  # trainer-4, RUNNING
        await pilot.press("r")
        assert type(app.screen).__name__ == "ConfirmScreen" and platform.reassigned == []
        await pilot.press("enter")  # the safe answer
        await until(pilot, lambda: type(app.screen).__name__ == "JobScreen")
        await settle(pilot)
        assert platform.reassigned == []
        await pilot.press("r", "y")
        await until(pilot, lambda: platform.reassigned)
        assert platform.reassigned == [("trainer-4", "`cycle tui`")]


def footer_actions(app) -> set[str]:
    return {key.action for key in app.screen.query("FooterKey")}


JOB_KEYS = {"toggle_follow", "cancel_job", "reassign_job"}  # f, c, r: they act on the job's run


def test_follow_and_cancel_apply_until_the_job_ends_and_reassign_only_while_it_runs():
    from cycle.tui.jobinfo import applies

    live = {JobState.PENDING, JobState.RUNNING}
    assert {state for state in JobState if applies("cancel_job", state)} == live
    assert {state for state in JobState if applies("toggle_follow", state)} == live
    assert {state for state in JobState if applies("reassign_job", state)} == {JobState.RUNNING}
    assert all(applies("toggle_wrap", state) for state in JobState)  # not about the run: always


@pytest.mark.parametrize("row", [1, 2, 3], ids=["FINISHED", "FAILED", "CANCELLED"])
async def test_an_ended_job_lists_no_follow_cancel_or_reassign_key_and_they_do_nothing(row):
    """mendtui 1: an ended job's footer listed f, c and r, and c then said it had ended."""
    app, platform = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await jobs_listed(pilot)
        await pilot.press(*"j" * row, "enter")
        log = await job_opened(pilot)
        await until(pilot, lambda: log.ended and "toggle_wrap" in footer_actions(app))
        await settle(pilot)
        assert not JOB_KEYS & footer_actions(app), footer_actions(app)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Cancel job" not in titles and "Reassign" not in titles and "Follow" not in titles
        await pilot.press("c", "r", "f")
        await settle(pilot)
        assert type(app.screen).__name__ == "JobScreen" and not app._notifications
        assert platform.cancelled == [] and platform.reassigned == []


async def test_a_pending_job_lists_cancel_and_follow_but_not_reassign():
    app, platform = make_app()
    platform.add_job("queued-5", JobState.PENDING)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_job(pilot)  # queued-5, the newest
        await until(pilot, lambda: {"toggle_follow", "cancel_job"} <= footer_actions(app))
        assert "reassign_job" not in footer_actions(app)


async def test_the_footer_drops_the_job_keys_when_the_open_job_ends():
    app, platform = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await open_job(pilot)  # trainer-4, RUNNING
        await until(pilot, lambda: JOB_KEYS <= footer_actions(app))
        platform.end("trainer-4", JobState.FAILED)
        await until(pilot, lambda: "FAILED" in str(app.screen.query_one("#job-header").render()))
        await until(pilot, lambda: not JOB_KEYS & footer_actions(app) and "toggle_wrap" in footer_actions(app))


async def test_the_log_has_focus_the_moment_a_job_opens():
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        assert isinstance(app.focused, LogView)


def test_the_tui_names_itself_in_the_cancel_and_move_lines_as_the_cli_does_in_backticks():
    """tui8: the log read `requested by cycle tui` beside ``requested by `cycle job cancel` ``."""
    from emulator.job.finish import cancel_line
    from emulator.models import JobState
    from emulator.rules.moves import request_trigger

    assert cancel_line(REQUESTER, JobState.RUNNING, had_container=True) == \
        "job cancelled (requested by `cycle tui`); container removed"
    assert request_trigger(None, REQUESTER) == "requested by `cycle tui`"
    assert request_trigger(None, None) == "requested by `cycle job reassign`"  # the CLI's, for comparison


def test_a_reassign_request_carries_its_requester_into_the_move_trigger(tmp_path):
    from emulator.rules.moves import request_trigger
    from emulator.store import StateStore

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("demo")
    store.request_move(job.id, None, None, requester=REQUESTER)
    taken = store.take_request(job.id)
    assert request_trigger(taken.target, taken.requester) == "requested by `cycle tui`"
    store.request_move(job.id, "local-2", None)  # the CLI names no requester
    taken = store.take_request(job.id)
    assert request_trigger(taken.target, taken.requester) == "requested by `cycle job reassign`: to local-2"


def test_the_readme_keys_table_is_the_one_generated_from_the_bindings():
    from pathlib import Path

    from cycle.tui.app import CycleApp
    from cycle.tui.keys import markdown_table

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- keys:start -->\n", 1)[1].split("\n<!-- keys:end -->", 1)[0]
    assert table == markdown_table(CycleApp.key_sections()), (
        "regenerate it: python -c 'from cycle.tui.app import CycleApp; from cycle.tui.keys import markdown_table; "
        "print(markdown_table(CycleApp.key_sections()))'"
    )


async def test_help_shows_the_keys_from_the_bindings():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await jobs_listed(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.query(".help-column"))
        from rich.console import Console

        console = Console(width=200, record=True, file=open("/dev/null", "w"))
        for static in app.screen.query(".help-column"):
            console.print(static.content)
        text = console.export_text()
        assert (
            "Reassign the running job to another machine (asks first)" in text
            and "The first line of the whole log" in text
        )


async def test_the_log_has_focus_on_opening_a_job_of_the_real_emulator_store(tmp_path, monkeypatch):
    """With the emulator's Platform (slower than the fake) the log pane became focusable only after
    mount, and nothing had focus: PageUp / g did nothing until Tab twice."""
    from cycle.tui.app import CycleApp
    from emulator.models import Stream
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    platform = EmulatorPlatform(tmp_path)
    job = platform.store.create_job("demo")
    platform.store.append_logs(job.id, [(i, Stream.STDOUT, f"line {i}") for i in range(1, 200_001)])
    app = CycleApp(platform)
    async with app.run_test(size=(160, 45)) as pilot:
        await jobs_listed(pilot)
        await pilot.press("enter")
        await job_opened(pilot)  # the log shows its last page
        assert isinstance(app.focused, LogView)
        await pilot.press("g")
        await until(pilot, lambda: app.focused.ids and app.focused.ids[0] == 1 and not app.focused.fetching)
        await settle(pilot)
        assert app.focused.texts[app.focused.top_index] == "line 1"
