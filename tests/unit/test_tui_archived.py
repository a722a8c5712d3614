"""tui8 items 1-2: an archived job (`cycle job archive`: its artifacts deleted, record and log kept)
reads as archived in the jobs list and the job header, and its Artifacts tab offers no key that
cannot work there; pressing one anyway says why."""

from __future__ import annotations

from rich.text import Text
from test_tui import NOW, artifacts_shown, job_opened, jobs_listed, make_app, settle, until

from cycle.api import JobState, JobSummary
from cycle.tui.screens.jobs import job_row

from tui_fakes import FakePlatform

ARCHIVE_ONLY_KEYS = {"open", "up", "toggle_sort", "download"}  # they act on stored files: there are none


def test_the_jobs_list_says_archived_where_it_counts_stored_and_queued_files():
    """The column read `0 / 0`, as a job that stored nothing."""
    platform = FakePlatform()
    platform.archive("trainer-3")
    assert job_row(JobSummary(platform.job("trainer-3"), 0), NOW)[-1] == "archived"
    assert job_row(JobSummary(platform.job("sweep-2"), 0), NOW)[-1] == "0 / 0"  # stored nothing, not archived


async def test_the_jobs_list_shows_archived_in_its_files_column():
    app, platform = make_app()
    platform.archive("trainer-3")
    async with app.run_test(size=(160, 45)) as pilot:
        await jobs_listed(pilot)
        table = app.screen.query_one("#jobs")
        await until(pilot, lambda: table.get_cell("trainer-3", "files") == "archived")
        assert table.get_cell("trainer-4", "files") == "5 / 3"


async def open_archived(pilot, platform) -> None:
    """Open trainer-3 (the second row), archived."""
    platform.archive("trainer-3")
    await jobs_listed(pilot)
    await pilot.press("j", "enter")
    await job_opened(pilot)


def header(app) -> str:
    return str(app.screen.query_one("#job-header").render())


async def test_the_job_header_says_archived_at_any_width():
    app, platform = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_archived(pilot, platform)
        await until(pilot, lambda: "FINISHED · archived ·" in header(app))
        await pilot.resize_terminal(160, 45)
        await until(pilot, lambda: "machine local-0" in header(app))
        assert "FINISHED · archived ·" in header(app)


def footer_actions(app) -> set[str]:
    return {key.action for key in app.screen.query("FooterKey") if key.display}


def notices(app) -> list[str]:
    return [Text.from_markup(n.message).plain if n.markup else n.message for n in app._notifications]


async def test_an_archived_jobs_artifacts_tab_offers_no_file_keys_and_says_why_when_one_is_pressed():
    from cycle.tui.widgets.artifact_browser import ARCHIVED_TEXT

    app, platform = make_app()
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await open_archived(pilot, platform)
        await pilot.press("2")
        label = app.screen.query_one("#artifacts-archived")
        await until(pilot, lambda: label.display and label.region.height)
        assert "`cycle job archive`" in ARCHIVED_TEXT and "record and log" in ARCHIVED_TEXT
        await until(pilot, lambda: "next_tab" in footer_actions(app))
        await settle(pilot)
        assert not ARCHIVE_ONLY_KEYS & footer_actions(app), footer_actions(app)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert not {"Open", "Sort", "Download"} & titles, titles
        for key in ("d", "s", "enter"):
            app.clear_notifications()
            await pilot.press(key)
            await until(pilot, lambda: app._notifications)
            [notice] = notices(app)
            assert "trainer-3 is archived" in notice and "`cycle job archive`" in notice, notice
        assert platform.downloaded == []


async def test_a_job_archived_while_its_artifacts_tab_shows_drops_the_file_keys():
    app, platform = make_app()
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await artifacts_shown(pilot)  # trainer-4, its files listed
        await until(pilot, lambda: {"open", "toggle_sort", "download"} <= footer_actions(app))
        platform.end("trainer-4")
        platform.archive("trainer-4")
        await until(pilot, lambda: not ARCHIVE_ONLY_KEYS & footer_actions(app) and "next_tab" in footer_actions(app))
        await pilot.press("d")  # the keys still reach the browser, which says why
        await until(pilot, lambda: app._notifications)
        assert "trainer-4 is archived" in notices(app)[0]


def test_a_moved_job_waiting_for_a_machine_is_not_listed_on_the_one_it_left():
    """A PENDING job's recorded machine is the one a move took it from: the list showed it as if the
    job ran there."""
    platform = FakePlatform()
    platform.add_job("trainer-5", JobState.PENDING)  # recorded on local-0, the machine it left
    row = job_row(JobSummary(platform.job("trainer-5"), 0), NOW)
    assert row[4] == "- (left local-0)"
    assert job_row(JobSummary(platform.job("trainer-4"), 0), NOW)[4] == "local-1"  # a running job's own
