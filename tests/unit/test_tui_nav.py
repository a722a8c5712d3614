"""`cycle tui` (issue 13, items 12-13): every shown time names its zone, `?` help is laid out from
the bindings, `cycle tui JOB` opens the job at once, and the command palette offers the app's own
actions, each doing what its key does."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from rich.text import Text
from test_tui import NOW, SIZE, make_app, open_job, search, settle, until
from typer.testing import CliRunner

from cycle.tui.app import CycleApp
from cycle.tui.screens.job import JobScreen
from cycle.tui.screens.jobs import JobsScreen
from cycle.tui.widgets.log_view import LogView

from tui_fakes import FakePlatform

CET = timezone(timedelta(hours=1))


def cet_app(**kwargs) -> CycleApp:
    return CycleApp(FakePlatform(), clock=lambda: NOW, zone=CET, **kwargs)


# item 12: times carry their zone
async def test_the_job_header_and_the_log_show_local_times_and_name_the_zone():
    app = cet_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.texts)
        header = str(app.screen.query_one("#job-header").render())
        assert "started 12:06:41 UTC+1" in header  # T0 + 1 s is 11:06:41 in UTC
        stamp = "".join(segment.text for segment in log._render(0, False))[:12]
        assert stamp.startswith("12:06:")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
@pytest.mark.parametrize("name", ["trainer-4", "sweep-2"])  # running; failed, with a reason in the header
async def test_the_job_header_on_screen_keeps_the_start_time_s_zone_at_any_width(size, name):
    """tuitimes 2: at 80 columns the header's right end was cut mid-time: `started 03:41:32` with
    no zone. The time shortens (`12:06 UTC+1`) and the project, then the machine, give way whole."""
    import re

    app = cet_app(job=name)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
        await pilot.pause(0.1)
        top = "".join(segment.text for segment in app.screen._compositor.render_strips()[0]).rstrip()
        assert re.search(r"started (2026-11-18 )?12:06(:41)? UTC\+1( · |$)", top), top
        assert name in top and ("EXIT_CODE_1" in top or name != "sweep-2")


async def test_the_job_header_of_a_job_started_another_day_in_a_half_hour_zone_opens_at_80_columns():
    """Every zoned form of such a start is wider than the 18 characters an 80-column header allows
    (`Nov 18 16:36 UTC+5:30` is 21): the header had no form left and the job screen crashed."""
    india = timezone(timedelta(hours=5, minutes=30))
    app = CycleApp(FakePlatform(), clock=lambda: NOW + 2 * 86_400 * 10**9, zone=india, job="trainer-4")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
        await pilot.pause(0.1)
        top = "".join(segment.text for segment in app.screen._compositor.render_strips()[0])
        assert "started Nov 18 16:36 UTC+5:30" in top, top


async def test_help_names_the_zone_times_are_shown_in():
    app = cet_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.query("#help"))
        assert "UTC+1" in str(app.screen.query_one("#help").border_title)


def help_lines(app) -> list[str]:
    """The help screen as the terminal shows it (one string per screen row)."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def every_help_line(pilot) -> list[str]:
    """Open `?` and read the help's rows, page by page (it scrolls at 80x24)."""
    app = pilot.app
    await pilot.press("question_mark")
    await until(pilot, lambda: app.screen.query(".help-column"))
    await pilot.pause(0.1)
    scroll = app.screen.query_one("#help")
    shown = []
    while True:
        shown += help_lines(app)
        if scroll.scroll_y >= scroll.max_scroll_y:
            return shown
        scroll.scroll_to(y=scroll.scroll_y + scroll.scrollable_content_region.height, animate=False)
        await pilot.pause(0.05)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_help_keeps_each_key_and_its_description_on_one_row(size):
    """No description wraps under the keys: every binding's keys and the start of its text share a
    row (the rows are read from the bindings, so the help is complete too)."""
    app = cet_app()
    async with app.run_test(size=size) as pilot:
        shown = await every_help_line(pilot)
        text = "\n".join(shown)
        for _where, rows in CycleApp.key_sections():
            for keys, does in rows:
                first_word = does.split()[0]
                assert any(keys in row and first_word in row.split(keys, 1)[1] for row in shown), (keys, does, text)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_help_keeps_a_path_whole(size):
    """Each path in a description is on one row, not broken mid-path (`d`'s download folder)."""
    app = cet_app()
    async with app.run_test(size=size) as pilot:
        shown = await every_help_line(pilot)
        for path in ("<job>/artifacts/", ".cycleswap/jobs/"):
            assert any(f" {path} " in row for row in shown), (path, shown)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_snapshot_help(snap_compare, size):
    app, _ = make_app()

    async def run_before(pilot):
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.query_one("#jobs").row_count)
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.query(".help-column"))

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# item 13: `cycle tui JOB`
async def test_tui_job_opens_that_job_and_escape_goes_to_the_jobs_list():
    app = cet_app(job="sweep-2")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobScreen))
        assert app.screen.job_name == "sweep-2"
        await until(pilot, lambda: isinstance(app.focused, LogView))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen))
        await until(pilot, lambda: app.screen.query_one("#jobs").row_count > 0)
        assert app.screen.selected_name() == "sweep-2"  # tui2 L8: the job we came from, not the first row


def test_tui_with_an_unknown_job_says_so_in_one_paragraph_and_exits_2(tmp_path, monkeypatch):
    from cycle.cli import app as cli

    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["tui", "no-such-job"])
    assert result.exit_code == 2, result.output
    assert "No job named 'no-such-job'" in result.output and "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0  # one paragraph


# item 13: the command palette
async def test_the_palette_offers_the_job_screen_actions_named_as_their_keys():
    app = cet_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Cancel job", "Reassign", "Search", "Follow", "Wrap", "Streams", "First line", "Keys", "Back"} <= titles
        assert "Copy selected text" not in titles  # Textual's inherited keys are not the app's actions
        assert "Maximize" not in titles and "Minimize" not in titles  # tui2: nothing to maximize here


async def run_from_palette(pilot, words: str) -> None:
    """ctrl+p, type `words`, Enter on the first hit once the palette lists it."""
    from textual.command import CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*words)
    hits = app.screen.query_one(CommandList)
    await until(
        pilot,
        lambda: (
            words.lower() in str(hits.get_option_at_index(0).prompt).lower()
            if hits.option_count and hits.highlighted == 0
            else False
        ),
    )
    await pilot.press("enter")


async def test_a_palette_command_does_what_its_key_does():
    app = cet_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        assert not log.wrap
        await run_from_palette(pilot, "wrap")
        await until(pilot, lambda: log.wrap)
        await run_from_palette(pilot, "cancel job")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")  # asks first, as `c` does


async def test_the_palette_opens_a_job_by_name_from_the_jobs_list():
    app = cet_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        await run_from_palette(pilot, "open job sweep-1")
        await until(pilot, lambda: isinstance(app.screen, JobScreen))
        assert app.screen.job_name == "sweep-1"


# item 8: a filter that shows only the lines matching the search
async def test_s_offers_only_the_search_matches_filtered_by_the_store_and_n_N_walk_them():
    app = cet_app()
    platform = app.platform
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await pilot.press("slash", *"step 19", "enter")
        expected = platform.search_logs("trainer-4", "step 19")
        await until(pilot, lambda: log.matches == expected)
        for _ in range(4):  # all -> stdout -> stderr -> system -> matches
            await pilot.press("s")
        await until(pilot, lambda: log.stream == "matches" and not log.fetching and log.total == len(expected))
        assert list(log.ids) == expected  # the store sent only the matching lines
        assert platform.page_calls[-1] is None  # the last page, asked with the filter (not filtered here)
        assert f"line {len(expected) - log.line_count + log.top_index + 1} of {len(expected)}" in log.status()
        assert "streams: matches" in log.status()
        await until(pilot, lambda: log.matches == expected)
        await pilot.press("n")
        first = log.match_pos
        await pilot.press("n")
        assert log.match_pos == (first + 1) % len(expected)
        await pilot.press("N", "N")
        assert log.match_pos == (first - 1) % len(expected)
        await pilot.press("s")  # back to every line
        await until(pilot, lambda: log.stream is None and not log.fetching and log.total == platform.log_lines)


async def only_matches(pilot, term: str) -> LogView:
    """Search `term`, then `s` to the "matches" filter: the log shows only the matching lines."""
    log = await search(pilot, term)
    await pilot.press("s", "s", "s", "s")
    await until(pilot, lambda: log.stream == "matches" and log.live_ready and not log.fetching)
    return log


async def test_live_lines_under_the_matches_filter_are_only_the_matching_ones():
    app = cet_app()
    platform = app.platform
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = await only_matches(pilot, "step 19")
        before = log.line_count
        platform.append(200)  # lines 2001-2200: none holds "step 19"
        platform.overrides[2150] = (platform._record(1).stream, "step 19 again")
        await until(pilot, lambda: log.line_count == before + 1)
        assert log.texts[-1] == "step 19 again"


async def test_a_new_search_under_the_matches_filter_reloads_the_new_matches():
    app = cet_app()
    platform = app.platform
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = await only_matches(pilot, "step 19")
        await pilot.press("slash", *"checkpoint", "enter")
        expected = platform.search_logs("trainer-4", "checkpoint")
        await until(pilot, lambda: not log.fetching and list(log.ids) == expected[-log.line_count :])
        assert log.total == len(expected) and all("checkpoint" in text for text in log.texts)


async def test_an_ended_job_says_log_ended_and_header_and_status_agree_on_follow():
    """tui2 minor: a finished job showed "follow on"; the header kept "follow on" after `f`."""
    app = CycleApp(FakePlatform(), clock=lambda: NOW, zone=timezone.utc, job="sweep-2")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
        await until(pilot, lambda: "log ended" in str(app.screen.query_one("#log-status").render()))
        assert "log ended" in str(app.screen.query_one("#job-header").render())
        assert "follow" not in str(app.screen.query_one("#job-header").render())
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.query_one("#jobs").row_count)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.live_ready and log.follow)
        await pilot.press("f")
        await until(pilot, lambda: not log.follow)
        await pilot.pause(0.05)
        assert "follow off" in str(app.screen.query_one("#log-status").render())
        assert "follow off" in str(app.screen.query_one("#job-header").render())


async def test_the_footer_keeps_its_key_widgets_while_the_keys_it_shows_stay_the_same():
    """Rebuilding the footer restyles and relays the whole screen; a focus move or a
    refresh_bindings that leaves the keys as they were must not rebuild it."""
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await until(pilot, lambda: "f" in [key.key for key in app.screen.query("FooterKey")])  # the log's keys
        await settle(pilot)
        before = list(app.screen.query("FooterKey"))
        app.screen.refresh_bindings()
        app.screen.query_one(LogView).focus()
        refreshed = []
        app.screen.call_after_refresh(refreshed.append, True)  # queued after the footer's own check
        app.screen.refresh()
        await until(pilot, lambda: refreshed)
        await settle(pilot)
        assert before and list(app.screen.query("FooterKey")) == before  # the same widgets, not new ones
        await pilot.press("2")  # the Artifacts tab has other keys: the footer shows them
        await until(pilot, lambda: "tab" in [key.key for key in app.screen.query("FooterKey")]
                    and "f" not in [key.key for key in app.screen.query("FooterKey")])


async def ended_job_shown(pilot, app) -> None:
    """The app opened on an ended job (`job=` an ended one) with its whole log loaded."""
    await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
    log = app.screen.query_one(LogView)
    await until(pilot, lambda: log.ended and log.live_ready)


async def test_an_ended_jobs_G_says_last_line_not_following():
    """Help, footer tooltip and palette: G follows new lines only while the job runs."""
    app = CycleApp(FakePlatform(), clock=lambda: NOW, zone=timezone.utc, job="sweep-2")
    async with app.run_test(size=(160, 45)) as pilot:
        await ended_job_shown(pilot, app)
        await pilot.pause()
        tooltips = [key.tooltip for key in app.screen.query("FooterKey") if key.action == "bottom"]
        assert tooltips == ["Last line of the whole log"], tooltips
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.query(".help-column"))
        await pilot.pause(0.1)
        shown = "\n".join(help_lines(app))
        assert "Last line of the whole log" in shown and "following" not in shown, shown
    app, _ = make_app()  # a running job's G still follows
    async with app.run_test(size=(160, 45)) as pilot:
        await open_job(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.query(".help-column"))
        await pilot.pause(0.1)
        assert "The last line of the whole log, following" in "\n".join(help_lines(app))


async def test_an_ended_jobs_palette_says_G_goes_to_the_last_line_not_following():
    """mendtui 3: the palette read G's text from the class, so an ended job's said "following"."""
    app = CycleApp(FakePlatform(), clock=lambda: NOW, zone=timezone.utc, job="sweep-2")
    async with app.run_test(size=(160, 45)) as pilot:
        await ended_job_shown(pilot, app)
        helps = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert helps["Last line"] == "G End · Last line of the whole log", helps["Last line"]


async def test_the_artifacts_tab_footer_lists_no_log_keys():
    """tui2 minor: the Artifacts tab's footer listed `f Follow` and `/ Search`."""
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.query_one("#jobs").row_count)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))

        def footer_keys() -> list[str]:
            return [key.key for key in app.screen.query("FooterKey")]

        await until(pilot, lambda: "f" in footer_keys() and "slash" in footer_keys())
        await pilot.press("2")
        # the footer is rebuilt for the shown tab: wait for the new keys, not an empty moment between
        await until(pilot, lambda: "tab" in footer_keys() and "f" not in footer_keys() and "slash" not in footer_keys())
        assert "tab" in footer_keys() and "c" in footer_keys()
        from cycle.tui.widgets.artifact_browser import ArtifactBrowser

        browser = app.screen.query_one(ArtifactBrowser)
        await until(pilot, lambda: browser.rows)
        browser.folder = "results"  # one file: "1 entry", not "1 entries"
        await until(pilot, lambda: "(1 entry, sorted" in str(browser.query_one("#artifact-path").render()))
        await pilot.press("1")
        await until(pilot, lambda: "f" in footer_keys() and "slash" in footer_keys())


async def test_the_artifacts_footer_lists_open_and_up_only_inside_a_folder():
    """mendtui 3: the table's own hidden Enter shadowed the browser's `Open` in the footer, and
    `Up` was listed at the top folder, where it does nothing."""
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.query_one("#jobs").row_count)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
        await pilot.press("2")

        def footer_actions() -> set[str]:
            return {key.action for key in app.screen.query("FooterKey")}

        await until(pilot, lambda: "download" in footer_actions())
        assert "open" in footer_actions() and "up" not in footer_actions()
        await pilot.press("enter")  # into checkpoints/
        await until(pilot, lambda: "up" in footer_actions())
        await pilot.press("backspace")
        await until(pilot, lambda: "up" not in footer_actions() and "open" in footer_actions())


@pytest.mark.parametrize("size", [SIZE, (80, 24)], ids=["default", "80x24"])
@pytest.mark.parametrize(("name", "hint"), [
    ("trainer-4", "no files yet: what the job writes there shows once uploaded"),  # running, nothing stored yet
    ("sweep-2", "none: the job ended without storing a file in /artifacts"),  # a user test: it said "yet"
], ids=["running", "ended"])
async def test_an_empty_artifacts_tab_says_what_shows_there(size, name, hint):
    """tui2 minor: an empty Artifacts tab was a bare table; mendhome D8: its hint fits 80 columns."""
    platform = FakePlatform()
    platform._artifacts = []  # trainer-4 runs with no file stored or queued; sweep-2 never had one
    platform.queued_artifacts = lambda job_name: []
    app = CycleApp(platform, clock=lambda: NOW, zone=timezone.utc, job=name)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.query(LogView))
        await pilot.press("2")
        path = app.screen.query_one("#artifact-path")
        await until(pilot, lambda: hint in str(path.render()) and path.content_region.width)
        text = str(path.render())
        assert text.rstrip().endswith(")") and len(text) <= size[0] - 2, text  # 2: the padding


def test_the_job_header_shortens_the_start_time_then_drops_the_project_then_the_machine():
    from cycle.tui.screens.job import fit_header

    starts = ["03:41:32 UTC", "03:41 UTC"]
    lead = "[b]tt-4[/b] · [green]RUNNING[/]"  # markup: counted as the cells it shows
    full = "tt-4 · RUNNING · 0:09 · follow on · machine local-2 · started 03:41:32 UTC · project tt"

    def plain(room):
        return Text.from_markup(fit_header(lead, starts, "local-2", "tt", room, "0:09", "follow on")).plain

    assert plain(None) == plain(len(full)) == full
    assert plain(len(full) - 1) == full.replace("03:41:32", "03:41")
    assert plain(len(full) - 4) == "tt-4 · RUNNING · 0:09 · follow on · machine local-2 · started 03:41:32 UTC"
    assert plain(60) == "tt-4 · RUNNING · 0:09 · follow on · started 03:41:32 UTC"
    # a narrow terminal (50 columns) cut the line inside the start time: the follow state and the
    # duration give way first, and the time keeps its zone
    assert plain(50) == "tt-4 · RUNNING · 0:09 · started 03:41:32 UTC"
    assert plain(40) == "tt-4 · RUNNING · started 03:41:32 UTC"
    assert plain(20) == "tt-4 · RUNNING · started 03:41 UTC"  # the widget cuts it


def test_the_jobs_header_gives_way_before_the_zone_of_its_times_is_cut():
    """At 50 columns the header ended `· times`, the zone cut off: the list's times are in that zone."""
    from cycle.tui.screens.jobs import fit_context

    def plain(room, needle=""):
        return Text.from_markup(fit_context("12", 3, "UTC+1", needle, room)).plain

    full = "cycle · emulator · 12 jobs · 3 running · times UTC+1 · ? for keys"
    assert plain(None) == plain(len(full)) == full
    assert plain(52) == "cycle · emulator · 12 jobs · 3 running · times UTC+1"
    assert plain(50) == "cycle · 12 jobs · 3 running · times UTC+1"
    assert plain(40) == plain(29) == "cycle · 12 jobs · times UTC+1"
    assert plain(60, "sweep") == "cycle · 12 jobs · 3 running · times UTC+1 · filter: sweep"
