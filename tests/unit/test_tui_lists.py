"""`cycle tui` lists (issue 13, items 10, 11, 15): the jobs list's reason and project columns,
short times, columns that give way at 80 columns, hints when nothing is listed; the artifacts'
natural sort and sort by modified time; one summary query per refresh that touches only the
cells that changed, so 10,000 jobs stay smooth."""

from __future__ import annotations

import time

import pytest
from test_tui import NOW, SIZE, make_app, open_job, until

from cycle.api import JobState
from cycle.api.keys import natural_key
from cycle.tui.screens.jobs import COLUMNS, JobsScreen, fit_columns
from cycle.tui.timefmt import short_time, short_time_valid_until
from cycle.tui.widgets.artifact_browser import ArtifactBrowser, Entry, row_times_valid_until, sort_entries
from emulator.models import Artifact
from emulator.store import StateStore

from tui_fakes import T0, FakePlatform, job

MINUTE = 60_000_000_000


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC for the test (short_time shows local clock times and dates)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def column_labels(app) -> list[str]:
    return [column.label for column in app.screen.query_one("#jobs").table_columns]


def cells(app, name: str) -> dict[str, str]:
    table = app.screen.query_one("#jobs")
    return {column.key: table.get_cell(name, column.key) for column in table.table_columns}


# item 15: one summary query ------------------------------------------------------------------------


def test_job_summaries_reads_every_job_and_its_stored_file_count_in_one_query(tmp_path):
    store = StateStore(tmp_path / "state.db")
    first, second, third = (store.create_job(p) for p in ("alpha", "alpha", "beta"))
    for path in ("a.pt", "a.pt", "b.pt"):  # two versions of a.pt are one file
        store.add_artifact(first.id, Artifact(path, f"k/{path}", 1, "0" * 64, 5, 6))
    store.add_artifact(third.id, Artifact("c.pt", "k/c.pt", 1, "0" * 64, 5, 6))
    store.set_archived(third.id)  # its files were deleted from storage: none to show
    statements = []
    store._connection().set_trace_callback(statements.append)
    summaries = store.job_summaries()
    store._connection().set_trace_callback(None)
    assert [(s.job.name, s.artifacts) for s in summaries] == [("beta-1", 0), ("alpha-2", 0), ("alpha-1", 2)]
    assert len(statements) == 1 and "GROUP BY" in statements[0]
    assert [s.job.name for s in store.job_summaries(limit=2)] == ["beta-1", "alpha-2"]
    assert summaries[2].job == store.job(first.id) and second.id < third.id


async def test_the_jobs_screen_asks_one_summary_per_refresh_and_never_each_jobs_artifacts():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 4)
        await pilot.press("r")
        await until(pilot, lambda: platform.summary_calls >= 2)
        assert platform.artifact_calls == []
        assert cells(app, "trainer-4")["files"] == "5 / 3"  # 5 stored, 3 waiting in the upload queue


def many_jobs(count: int) -> FakePlatform:
    platform = FakePlatform()
    platform._jobs = [job(i, f"proj{i % 7}-{i}", JobState.RUNNING if i % 500 == 0 else JobState.FINISHED,
                          f"local-{i % 4}", finished=i % 500 != 0) for i in range(count, 0, -1)]
    return platform


@pytest.fixture(scope="module")
def ten_thousand() -> FakePlatform:
    return many_jobs(10_000)


async def test_a_refresh_of_ten_thousand_jobs_updates_changed_cells_and_keeps_the_selected_job(ten_thousand):
    from cycle.tui.app import CycleApp

    clock = [NOW]
    app = CycleApp(ten_thousand, clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        table = screen.query_one("#jobs")
        await until(pilot, lambda: table.row_count == 10_000)
        await pilot.press("j", "j", "j")
        rebuilds = []
        original = table.set_rows
        table.set_rows = lambda *args: rebuilds.append(args) or original(*args)
        clock[0] += 5_000_000_000  # five seconds later: only the 20 running jobs' durations change
        running, selected = ten_thousand._jobs[0].name, ten_thousand._jobs[3].name
        before = cells(app, running)["duration"]
        screen._show(screen.listing())
        assert rebuilds == [] and cells(app, running)["duration"] != before
        assert screen.selected_name() == selected
        ten_thousand.add_job("fresh-1")  # a new job at the top: the table is rebuilt, the selection stays
        try:
            screen._show(screen.listing())
            assert rebuilds and screen.shown[0].name == "fresh-1" and screen.selected_name() == selected
        finally:
            ten_thousand._jobs.pop(0)


# item 10: columns, short times, hints, 80x24 -----------------------------------------------------


def test_short_times_read_as_a_list_shows_them(utc):
    now = 1_795_000_000_000_000_000  # 2026-11-18 11:06:40 UTC
    assert short_time(now - 45_000_000_000, now) == "45s ago"
    assert short_time(now - 3 * MINUTE, now) == "3m ago"
    assert short_time(now - 120 * MINUTE, now) == "09:06"
    assert short_time(now - 3 * 24 * 60 * MINUTE, now) == "Nov 15"
    assert short_time(now - 400 * 24 * 60 * MINUTE, now) == "2025-10"
    assert short_time(None, now) == "-"


def test_short_times_are_in_the_zone_given_and_rows_change_at_that_zone_s_midnight():
    """The list names its zone in the header; every short time is in that zone, not the process's."""
    from datetime import timedelta, timezone

    now = 1_795_000_000_000_000_000  # 2026-11-18 11:06:40 UTC
    kolkata = timezone(timedelta(hours=5, minutes=30))
    assert short_time(now - 120 * MINUTE, now, timezone.utc) == "09:06"
    assert short_time(now - 120 * MINUTE, now, kolkata) == "14:36"
    # 23:06 yesterday in UTC is 04:36 today in Kolkata
    assert (short_time(now - 12 * 60 * MINUTE, now, timezone.utc), short_time(now - 12 * 60 * MINUTE, now, kolkata)) \
        == ("Nov 17", "04:36")
    # a row read at 11:06:40 UTC (16:36:40 in Kolkata) stays right until that zone's midnight
    assert short_time_valid_until(now - 120 * MINUTE, now, kolkata) == now + (7 * 3600 + 23 * 60 + 20) * 10**9



def test_a_short_time_read_again_at_the_same_instant_in_another_zone_is_in_that_zone(monkeypatch):
    """Today's date is cached per instant: the cache must not hand one zone's date to another."""
    import time as clock

    now = 1_795_000_000_000_000_000 - 9 * 3600 * 10**9  # 2026-11-18 02:06:40 UTC, Nov 17 21:06:40 in New York
    then = now - 3600 * 10**9  # 01:06:40 UTC: 20:06:40 in New York, the same day there too
    monkeypatch.setenv("TZ", "UTC")
    clock.tzset()
    assert short_time(then, now) == "01:06"
    monkeypatch.setenv("TZ", "America/New_York")
    clock.tzset()
    try:
        assert short_time(then, now) == "20:06"
    finally:
        monkeypatch.setenv("TZ", "UTC")
        clock.tzset()


def test_a_row_read_on_the_day_the_clocks_change_is_due_at_that_zone_s_midnight():
    """The day clocks go back has 25 hours: the next midnight is its timestamp, not 24 wall-clock hours on."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    now = int(datetime(2026, 10, 25, 1, 0, tzinfo=berlin).timestamp()) * 10**9  # the clocks go back at 03:00
    midnight = int(datetime(2026, 10, 26, 0, 0, tzinfo=berlin).timestamp()) * 10**9
    assert short_time_valid_until(now - 2 * 3600 * 10**9, now, berlin) == midnight


def test_columns_give_way_by_priority_and_never_the_name_or_state():
    widths = {c.key: 10 for c in COLUMNS}
    assert fit_columns(widths, 200) == tuple(c.key for c in COLUMNS)
    assert fit_columns(widths, 75) == ("name", "state", "reason", "project", "started", "duration")
    assert fit_columns(widths, 40) == ("name", "state", "reason")
    assert fit_columns(widths, 5) == ("name", "state")


async def test_the_jobs_list_shows_reason_and_project_and_short_start_times():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 4)
        assert column_labels(app) == [c.label for c in COLUMNS]
        sweep = cells(app, "sweep-2")
        assert (sweep["reason"], sweep["project"], sweep["started"]) == ("EXIT_CODE_1", "sweep", "1m ago")
        await pilot.press("slash", *"exit_code", "enter")  # the filter reads the reason too
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 1)


async def test_at_80x24_columns_give_way_and_the_footer_keeps_the_most_used_keys():
    app, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 4)
        labels = column_labels(app)
        assert labels[:3] == ["name", "state", "reason"] and "duration" in labels and "stored / queued" not in labels
        shown = [key.key for key in app.screen.query("FooterKey") if key.display]
        assert shown[:4] == ["enter", "slash", "question_mark", "q"]  # cycle.tui.keys.FOOTER_ORDER
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) is False)
        await pilot.pause(0.1)
        header = str(app.screen.query_one("#job-header").render())
        assert header.index("1:39") < 60 and header.index("follow on") < 70  # not cut at 80 columns
        await until(pilot, lambda: "question_mark" in [key.key for key in app.screen.query("FooterKey") if key.display])


LONG_NAME = "utbash-a-very-long-project-name-from-the-user-tester-that-goes-on-and-on-13"


def rendered_row(app, name: str) -> str:
    table = app.screen.query_one("#jobs")
    row = table.get_row_index(name)
    return table.render_line(row + 1 - int(table.scroll_offset.y)).text


@pytest.mark.parametrize("width", [80, 60])
async def test_a_long_job_or_project_name_is_shortened_so_state_and_reason_stay(width):
    """tui2 M3: one long name pushed the reason off every row at 80x24 and cut the state at 60."""
    app, platform = make_app()
    platform.add_job(LONG_NAME, JobState.RUNNING)
    async with app.run_test(size=(width, 24)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 5)
        assert column_labels(app)[:4] == ["name", "state", "reason", "started"]
        line = rendered_row(app, LONG_NAME)
        assert "…" in line and " RUNNING " in line and len(line.rstrip()) <= width
        assert " EXIT_CODE_1 " in rendered_row(app, "sweep-2")
        await pilot.press("slash", *"goes-on-and-on-13", "enter")  # the filter still reads the full name
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, JobsScreen))
        assert app.screen.job_name == LONG_NAME


async def test_an_empty_list_says_how_to_start_a_job_and_a_filter_says_esc_clears():
    app, platform = make_app()
    platform._jobs = []
    async with app.run_test(size=SIZE) as pilot:
        hint = app.screen.query_one("#jobs-hint")
        await until(pilot, lambda: platform.summary_calls >= 1 and hint.display)
        assert "No jobs yet" in str(hint.render()) and "cycle project test" in str(hint.render())
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        hint = app.screen.query_one("#jobs-hint")
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 4)
        assert not hint.display
        await pilot.press("slash", *"nothing-like-this")
        await until(pilot, lambda: hint.display)
        assert "No job matches 'nothing-like-this'" in str(hint.render()) and "Esc clears" in str(hint.render())
        await pilot.press("escape")
        await until(pilot, lambda: not hint.display)


async def test_an_empty_home_stays_empty_until_a_job_starts_elsewhere(tmp_path, monkeypatch):
    """`cycle tui` only reads: on a home where no job ran it shows the hint and writes no state.db,
    then lists the first job started by another command while it is open."""
    import os

    from cycle.platform import reading_platform
    from cycle.tui.app import CycleApp
    from emulator.platform import EmulatorPlatform

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    app = CycleApp(reading_platform(), clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        hint = app.screen.query_one("#jobs-hint")
        await until(pilot, lambda: hint.display)
        assert not (tmp_path / "state.db").exists()
        EmulatorPlatform(tmp_path).store.create_job("demo", agent_pid=os.getpid())
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 1, timeout=15)
        assert not hint.display


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_snapshot_jobs_list(snap_compare, size):
    app, platform = make_app()
    platform._jobs[2] = job(2, "sweep-2", JobState.FAILED, "local-2", reason="OUT_OF_MEMORY")

    async def run_before(pilot):
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count == 4)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# item 11: artifacts ------------------------------------------------------------------------------


def test_natural_sort_puts_step_9_before_step_10_and_time_sort_puts_the_newest_first():
    names = ["step-10.pt", "step-9.pt", "Step-100.pt", "step-9a.pt", "notes"]
    assert sorted(names, key=natural_key) == ["notes", "step-9.pt", "step-9a.pt", "step-10.pt", "Step-100.pt"]
    entries = [Entry(f"step-{n}.pt", False, 1, False, f"step-{n}.pt", mtime) for n, mtime in ((9, 3), (10, 2), (11, 9))]
    entries.append(Entry("old", True, 1, False, "old", 1))
    assert [e.name for e in sort_entries(entries, "name")] == ["old", "step-9.pt", "step-10.pt", "step-11.pt"]
    assert [e.name for e in sort_entries(entries, "time")] == ["old", "step-11.pt", "step-9.pt", "step-10.pt"]


async def artifacts_tab(pilot, opened: bool = False):
    """Open the first job's Artifacts tab (`opened`: the job is open already): its browser and the
    browser's table."""
    if not opened:
        await open_job(pilot)
    await pilot.press("tab")
    browser = pilot.app.screen.query_one(ArtifactBrowser)
    return browser, browser.query_one("#artifact-table")


async def open_checkpoints(pilot, app) -> ArtifactBrowser:
    browser, _table = await artifacts_tab(pilot)
    await until(pilot, lambda: len(browser.rows) == 4)
    await pilot.press("enter")
    await until(pilot, lambda: browser.folder == "checkpoints")
    return browser


def sixty_steps():
    """An app whose job has many/step-1.pt .. step-60.pt, step-60 the largest and the newest."""
    app, platform = make_app()
    for n in range(1, 61):
        platform.add_artifact(f"many/step-{n}.pt", size=n, mtime_ns=T0 - (100 - n) * MINUTE)
    return app


async def at_the_last_step(pilot):
    """sixty_steps' folder open, step-60 selected at the end of the name order (scrolled down)."""
    browser, table = await artifacts_tab(pilot)
    await until(pilot, lambda: any(e.name == "many" for e in browser.rows))
    browser.folder = "many"
    await until(pilot, lambda: len(browser.rows) == 61)
    await pilot.press("G")
    await until(pilot, lambda: table.scroll_y > 0)
    return browser, table


async def test_a_new_sort_order_shows_the_top_of_the_list_and_keeps_the_selection_only_if_shown():
    """tui2 L5: after a sort change the view stayed scrolled to the end, the list's start (the
    newest file) out of view."""
    app = sixty_steps()
    async with app.run_test(size=(80, 24)) as pilot:
        browser, table = await at_the_last_step(pilot)
        await pilot.press("s", "s")  # by size, then time: step-60 first, on screen: it stays selected
        await until(pilot, lambda: browser.sort_by == "time")
        await pilot.pause(0.1)
        assert table.scroll_y == 0 and browser.selected().name == "step-60.pt"
        await pilot.press("s")  # by name again: step-60 is last, off screen: the first row is selected
        await until(pilot, lambda: browser.sort_by == "name")
        await pilot.pause(0.1)
        assert table.scroll_y == 0 and table.cursor_row == 0


async def test_a_new_sort_order_shows_the_top_even_while_a_relayout_hides_the_scrollbar(monkeypatch):
    """The test above failed ~1 run in 8 under load with the table scrolled one row down: Textual
    skips an unforced scroll while a relayout has the scrollbar hidden (allow_vertical_scroll
    False), so the sort's scroll to the top was dropped and `..` stayed under the header. Here
    the scrollbar is hidden for the sort on purpose."""
    app = sixty_steps()
    async with app.run_test(size=(80, 24)) as pilot:
        browser, table = await at_the_last_step(pilot)
        monkeypatch.setattr(type(table), "allow_vertical_scroll", property(lambda self: False))
        browser.sort_by = "size"  # step-60 first: row 1, on the first screen
        assert table.scroll_y == 0 and browser.selected().name == "step-60.pt"


@pytest.mark.parametrize(("keys", "selected"), [
    (("s", "s"), "step-60.pt"),  # by size, then time: step-60 first, on the first screen: it stays selected
    (("s", "s", "s"), ".."),  # by name again: step-60 last, off the first screen: the first row
    (("s", "G"), "step-1.pt"),  # the user's own move after the sort: it stands (the end of the size order)
], ids=["shown", "not-shown", "moved-after"])
async def test_a_sort_typed_before_the_table_is_laid_out_keeps_the_selection_if_shown_once_it_is(keys, selected):
    """The first test above failed under load (pytest -n 2) with `..` selected: keys reached the
    browser before the screen's update laid out the just-shown tab, and the sort judged "shown"
    against a table of no height (every row but the first off screen). The layout is held off here
    (batch_update) while the tab opens and the keys come, as the load did."""
    app = sixty_steps()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_job(pilot)  # the log tab shows, laid out
        with app.batch_update():
            browser, table = await artifacts_tab(pilot, opened=True)
            browser.folder = "many"
            await until(pilot, lambda: len(browser.rows) == 61)
            await pilot.press("G", *keys)
            assert table.size.height == 0  # not laid out yet
        await until(pilot, lambda: table.size.height > 0)
        await pilot.pause()
        assert browser.selected().name == selected
        assert (table.scroll_y == 0) == (selected != "step-1.pt")  # the top shows, or the user's row at the end
        assert table.cursor_row - table.scroll_y < table.rows_shown  # the selection shows


async def test_artifacts_sort_by_modified_time_newest_first_keeping_the_selected_file():
    app, platform = make_app()
    platform.add_artifact("checkpoints/step-9.ckpt", mtime_ns=T0 - 10 * MINUTE)  # the newest
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_checkpoints(pilot, app)
        names = [e.name for e in browser.rows]
        assert names == ["..", "step-9.ckpt", "step-000100.ckpt", "step-000200.ckpt", "step-000300.ckpt"]
        await pilot.press("j", "j")
        assert browser.selected().name == "step-000100.ckpt"
        await pilot.press("s", "s")
        assert browser.sort_by == "time"
        assert [e.name for e in browser.rows] == ["..", "step-9.ckpt", "step-000200.ckpt", "step-000100.ckpt",
                                                  "step-000300.ckpt"]  # queued: no time yet, last
        assert browser.selected().name == "step-000100.ckpt"  # the same file, now one row lower
        table = browser.query_one("#artifact-table")
        assert [str(c.label) for c in table.columns.values()] == ["name", "size", "modified", "status"]
        assert table.get_cell("checkpoints/step-9.ckpt", "modified") == "11m ago"
        await pilot.press("s")
        assert browser.sort_by == "name"


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_snapshot_artifacts_sorted_by_time(snap_compare, size):
    app, platform = make_app()
    platform.add_artifact("checkpoints/step-9.ckpt", size=52_428_000, mtime_ns=T0 - 10 * MINUTE)

    async def run_before(pilot):
        browser = await open_checkpoints(pilot, app)
        await pilot.press("s", "s")
        await until(pilot, lambda: browser.sort_by == "time")

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_artifact_times_count_up_in_place_keeping_the_cursor_and_the_scroll():
    """tuitimes 1: the modified column's "5s ago" was drawn once per listing change, so on a finished
    job it stayed "5s ago" forever. As the clock moves the time cells change in place: the table is
    not rebuilt, the cursor and the scroll stay where they were."""
    from datetime import timezone

    from cycle.tui.app import CycleApp

    clock = [NOW]
    platform = FakePlatform()
    for n in range(60):  # more than the screen shows: the view scrolls
        platform.add_artifact(f"many/step-{n:02}.pt", mtime_ns=NOW - 5_000_000_000)
    app = CycleApp(platform, clock=lambda: clock[0], zone=timezone.utc)
    async with app.run_test(size=SIZE) as pilot:
        browser, table = await artifacts_tab(pilot)
        await until(pilot, lambda: len(browser.rows) == 5)
        await pilot.press("j", "enter")  # many/
        await until(pilot, lambda: browser.folder == "many")
        await pilot.press("G")
        await until(pilot, lambda: table.scroll_y > 0)
        assert table.get_cell("many/step-59.pt", "modified") == "5s ago"
        row, scroll = table.cursor_row, table.scroll_y
        redraws = []
        redraw = browser.redraw
        browser.redraw = lambda *args, **kwargs: (redraws.append(args), redraw(*args, **kwargs))
        clock[0] += 10_000_000_000
        await until(pilot, lambda: table.get_cell("many/step-59.pt", "modified") == "15s ago")
        clock[0] += 120_000_000_000
        await until(pilot, lambda: table.get_cell("many/step-00.pt", "modified") == "2m ago")
        assert table.get_cell("..", "modified") == ""
        assert (table.cursor_row, table.scroll_y, browser.selected().name) == (row, scroll, "step-59.pt")
        assert redraws == []  # the cells changed in place


def test_shown_artifact_times_are_rechecked_when_the_first_of_them_can_change():
    """Once a second while one reads in seconds, at the next whole minute of age while the newest
    reads in minutes, never for rows without a time (`..`, queued files)."""
    def entry(name: str, age_s: int | None) -> Entry:
        return Entry(name, False, 1, age_s is None, name, 0 if age_s is None else NOW - age_s * 1_000_000_000)

    assert min(row_times_valid_until([entry("a", 5), entry("b", 600)], NOW)) == NOW + 1_000_000_000
    assert min(row_times_valid_until([entry("b", 630), entry("c", 1800)], NOW)) == NOW + 30_000_000_000
    assert min(row_times_valid_until([Entry("..", True, 0, False, ""), entry("q", None)], NOW)) == 2**63


async def test_the_artifact_list_moves_by_arrows_pages_and_edges_and_a_double_click_opens_a_folder():
    """The list became a RowTable (a DataTable laid out every row: seconds for a folder of 40,000
    files): the keys a file list answers to, and the mouse, still work as they did."""
    app, platform = make_app()
    for n in range(1, 61):
        platform.add_artifact(f"many/step-{n}.pt", size=n)
    async with app.run_test(size=(80, 24)) as pilot:
        browser, table = await artifacts_tab(pilot)
        await until(pilot, lambda: any(e.name == "many" for e in browser.rows))
        first = browser.rows[0].name
        await pilot.press("down")
        assert browser.selected().name == browser.rows[1].name != first
        await pilot.press("up")
        assert browser.selected().name == first
        many = next(i for i, e in enumerate(browser.rows) if e.name == "many")
        await pilot.click(table, offset=(2, many + 1), times=2)  # + the header line
        await until(pilot, lambda: browser.folder == "many")
        await until(pilot, lambda: len(browser.rows) == 61)
        await pilot.press("end")
        assert browser.selected().name == "step-60.pt" and table.scroll_y > 0
        await pilot.press("pageup")
        assert 0 < table.cursor_row < 60
        await pilot.press("home")
        assert browser.selected().name == ".." and table.scroll_y == 0
        await pilot.press("pagedown")
        assert browser.selected().name == f"step-{table.cursor_row}.pt" and table.cursor_row > 10


async def test_the_jobs_list_shows_its_first_job_again_after_the_last():
    """Going back up to the first job scrolled its line just into view: under the header line,
    which covers the top line, so the first job stayed hidden while selected."""
    from tui_fakes import job

    app, platform = make_app()
    platform._jobs = [job(n, f"run-{n}", JobState.FINISHED, "local-0") for n in range(100, 0, -1)]
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#jobs")
        await until(pilot, lambda: table.row_count == 100)
        await pilot.press("G")
        await until(pilot, lambda: table.scroll_y > 0)
        await pilot.press("g")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("G", "k")
        assert table.cursor_row == 98
        for _ in range(98):
            await pilot.press("up")
        assert table.cursor_row == 0 and table.scroll_y == 0


async def test_a_click_on_the_header_line_selects_no_row_and_a_click_on_the_selected_row_opens_it():
    """The header line covers the row scrolled under it: a click there selected (and a double
    click opened) a row that was off screen. A click on the row already selected opens it, as in
    Textual's DataTable."""
    app, platform = make_app()
    for n in range(40):
        platform.add_artifact(f"d{n:02}/f.pt")
    async with app.run_test(size=(80, 24)) as pilot:
        browser, table = await artifacts_tab(pilot)
        await until(pilot, lambda: len(browser.rows) > 40)
        await pilot.press("G")
        await until(pilot, lambda: table.scroll_y > 0)
        last = browser.selected().name
        await pilot.click(table, offset=(2, 0), times=2)
        await pilot.pause(0.1)
        assert browser.folder == "" and browser.selected().name == last
        await pilot.click(table, offset=(2, 1))  # the first row shown: selected
        first = browser.selected().name
        assert first != last and browser.selected().is_dir and browser.folder == ""
        await pilot.pause(0.6)  # not a double click
        await pilot.click(table, offset=(2, 1))  # again: opened
        await until(pilot, lambda: browser.folder == first)


async def test_a_lower_terminal_keeps_the_selected_row_on_screen():
    app, platform = make_app()
    for n in range(60):
        platform.add_artifact(f"many/step-{n:02}.pt")
    async with app.run_test(size=(80, 24)) as pilot:
        browser, table = await artifacts_tab(pilot)
        await until(pilot, lambda: any(e.name == "many" for e in browser.rows))
        browser.folder = "many"
        await until(pilot, lambda: len(browser.rows) == 61)
        await pilot.press("G")
        await pilot.resize_terminal(80, 16)
        await pilot.pause(0.2)
        shown = table.scrollable_content_region.height - 1
        assert table.cursor_row == 60 and table.scroll_y <= 60 < table.scroll_y + shown


@pytest.mark.parametrize(("keys", "folder", "selected"), [
    (("enter",), "checkpoints", ".."),  # the first row
    (("j", "enter"), "results", ".."),
    (("down", "enter"), "results", ".."),  # the table's own keys too
    (("G", "k", "k", "enter"), "results", ".."),
    (("enter", "j", "j", "enter"), "checkpoints", "step-000200.ckpt"),  # then onto a file: Enter opens nothing
], ids=["enter", "j-enter", "arrow-enter", "from-the-end", "into-then-file"])
async def test_keys_typed_before_the_first_listing_apply_once_it_comes(keys, folder, selected):
    """A user in tmux: Enter typed right after Tab, before the job's first listing reached the
    Artifacts tab, was dropped (the table had no rows yet), while a sort typed ahead was kept. The
    listing is held back here until the keys are in."""
    import threading

    app, platform = make_app()
    listed, read = threading.Event(), platform.artifacts
    platform.artifacts = lambda name: (listed.wait(10), read(name))[1]
    async with app.run_test(size=SIZE) as pilot:
        browser, _table = await artifacts_tab(pilot)
        await pilot.press(*keys)
        assert browser.rows == [] and browser.folder == ""  # nothing listed yet: the keys wait
        listed.set()
        await until(pilot, lambda: browser.folder == folder)
        await pilot.pause()
        assert browser.folder == folder and browser.selected().name == selected


async def test_a_key_typed_right_behind_tab_waits_for_a_listing_that_came_while_the_tab_was_hidden():
    """Seen in tmux (Enter 0.2-0.5 s after opening the job, then Tab Enter): the listing had come
    while the Logs tab showed, so the table was drawn only on the tab's activation, which Textual
    handles after the Enter typed right behind Tab; the Enter met an empty table."""
    app, _platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)  # the Logs tab shows
        browser = app.screen.query_one(ArtifactBrowser)
        await until(pilot, lambda: browser.stored)  # listed while hidden: not drawn yet
        assert browser.rows == []
        browser.action_open()  # Enter, handled before the activation's redraw
        assert browser.folder == ""
        browser.set_shown(True)  # the activation
        assert browser.folder == "checkpoints"


async def test_an_identical_listing_while_the_tab_is_hidden_does_not_count_as_drawn():
    """A reviewer: a second poll with the same listing, still undrawn (the tab hidden), counted as
    the listing shown, and an Enter right behind Tab met the empty table again."""
    app, _platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)  # the Logs tab shows
        browser = app.screen.query_one(ArtifactBrowser)
        await until(pilot, lambda: browser.stored)
        browser.set_artifacts(dict(browser.stored), set(browser.queued), browser.archived, dict(browser.mtimes),
                              browser.ended)  # the next poll: the same files
        assert browser.rows == []
        browser.action_open()
        assert browser.folder == ""
        browser.set_shown(True)
        assert browser.folder == "checkpoints"
