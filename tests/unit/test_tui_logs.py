"""`cycle tui` reaches any line of a long log (issue 13, items 5-9): first / last line at once,
pages without animation, "line N of M", a server-side search with n/N, follow mode that survives
tabs, no stale jumps, wrap and horizontal scroll, a stream filter, failure events in red."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from test_tui import SIZE, job_opened, jobs_listed, make_app, open_job, search, settle, until

from cycle.tui.widgets.log_view import PAGE, LogView
from emulator.models import LogRecord, Stream

from tui_fakes import T0

OOM = "out of memory: the container hit its memory limit and was killed (exit code 137)"


def top_text(log: LogView) -> str:
    return log.texts[log.top_index]


async def test_g_and_G_reach_the_first_and_last_line_of_a_ten_million_line_log_at_once():
    app, platform = make_app(log_lines=10_000_000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.total == 10_000_000)
        await pilot.press("g")
        await until(pilot, lambda: log.ids and log.ids[0] == 1)
        assert platform.after_calls == [0] and top_text(log) == "step 1 loss 1.000000" and round(log.scroll_y) == 0
        assert log.status().startswith("line 1 of 10,000,000") and not log.follow
        await pilot.press("G")
        await until(pilot, lambda: log.ids[-1] == 10_000_000 and log.is_vertical_scroll_end)
        assert log.follow and "of 10,000,000" in log.status()
        await pilot.press("home")
        await until(pilot, lambda: log.ids[0] == 1 and round(log.scroll_y) == 0)
        await pilot.press("end")
        await until(pilot, lambda: log.ids[-1] == 10_000_000 and log.is_vertical_scroll_end)


async def test_page_keys_move_one_page_at_once_and_the_status_shows_the_line():
    app, _ = make_app(log_lines=2000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.total == 2000)
        before = round(log.scroll_y)
        await pilot.press("pageup", "pageup", "pageup")  # rapid presses: none dropped, no animation
        page = log.scrollable_content_region.height - 1
        assert round(log.scroll_y) == before - 3 * page
        assert not log.follow
        line = log.first_line + log.top_index + 1
        assert f"line {line:,} of 2,000" in str(app.screen.query_one("#log-status").render())
        await pilot.press("pagedown")
        assert round(log.scroll_y) == before - 2 * page


async def test_search_finds_a_line_outside_the_loaded_pages_and_n_N_wrap_around():
    app, platform = make_app(log_lines=20_000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.total == 20_000)
        await search(pilot, "STEP-0001")  # lines 100 and 150 only, far above the last page
        assert log.texts[log.match_index] == "checkpoint step-000100 uploaded" and len(log.matches) == 2
        assert log.match_index in range(
            log.top_index, log.top_index + log.scrollable_content_region.height
        )  # on screen
        assert "match 1/2 'STEP-0001'" in log.status()
        await pilot.press("n")
        await until(
            pilot, lambda: log.match_index is not None and log.texts[log.match_index].endswith("000150 uploaded")
        )
        await pilot.press("n")  # wraps to the first
        await until(
            pilot, lambda: log.match_index is not None and log.texts[log.match_index].endswith("000100 uploaded")
        )
        await pilot.press("N")  # and back over the start to the last
        await until(
            pilot, lambda: log.match_index is not None and log.texts[log.match_index].endswith("000150 uploaded")
        )


async def test_n_and_N_step_from_the_view_when_the_current_match_is_off_screen():
    """tui2 L1: after `g` (line 1), `N` wraps to the LAST match and `n` goes to the first match
    below the view, not to the neighbours of a match scrolled out of sight."""
    app, _ = make_app(log_lines=20_000)
    async with app.run_test(size=SIZE) as pilot:
        log = await job_opened_with_total(pilot, 20_000)

        def current() -> str | None:
            return log.texts[log.match_index] if log.match_index is not None else None

        await pilot.press("slash", *"STEP-000", "enter")  # lines 50, 100, ... 950: 19 matches
        await until(pilot, lambda: current() == "checkpoint step-000050 uploaded")
        await pilot.press("n")
        await until(pilot, lambda: current() == "checkpoint step-000100 uploaded")
        await pilot.press("g")
        await until(pilot, lambda: log.first_line == 0 and log.top_index == 0 and not log.fetching)
        await pilot.press("N")
        await until(pilot, lambda: current() == "checkpoint step-000950 uploaded")
        assert "match 19/19 'STEP-000'" in log.status()
        await pilot.press("g")
        await until(pilot, lambda: log.first_line == 0 and log.top_index == 0 and not log.fetching)
        await pilot.press("n")
        await until(pilot, lambda: current() == "checkpoint step-000050 uploaded")
        await pilot.press("N")  # the current match is on screen now: step from it, wrapping
        await until(pilot, lambda: current() == "checkpoint step-000950 uploaded")


async def test_after_a_filter_change_the_status_counts_the_matches_until_n():
    """tui2 L1: "match 0/111" after `s` read as nothing found."""
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await search(pilot, "STEP-000")
        await pilot.press("s")  # stdout only: the checkpoint lines are system lines
        await until(pilot, lambda: log.stream == "stdout" and not log.fetching)
        await settle(pilot)
        assert "'STEP-000' is not in stdout" in log.status()
        await pilot.press("s", "s")  # system only
        await until(pilot, lambda: log.stream == "system" and not log.fetching and log.matches)
        await settle(pilot)
        assert "19 matches 'STEP-000'" in log.status() and "match 0/" not in log.status()


async def job_opened_with_total(pilot, total: int) -> LogView:
    await open_job(pilot)
    log = pilot.app.screen.query_one(LogView)
    await until(pilot, lambda: log.total == total)
    return log


async def test_live_lines_that_match_the_search_join_its_matches():
    """tui2 L2: the count stayed at "match 1/1" while a running job wrote matching lines."""
    app, platform = make_app()
    for index in (1500, 2005, 2020):
        platform.overrides[index] = (Stream.STDOUT, f"a Live line {index}")
    async with app.run_test(size=SIZE) as pilot:
        log = await job_opened_with_total(pilot, 2000)
        await search(pilot, "LIVE")
        assert "match 1/1 'LIVE'" in log.status()
        platform.append(30)
        await until(pilot, lambda: log.total == 2030)
        assert log.matches == [1500, 2005, 2020] and "match 1/3 'LIVE'" in log.status()
        await pilot.press("n")
        await until(pilot, lambda: log.match_index is not None and log.texts[log.match_index] == "a Live line 2005")


async def test_a_match_far_down_shows_at_once_and_its_line_number_follows():
    """Counting the lines before a match reads the index up to it (about a second on 10,000,000
    lines): the lines around the match show first, "line N" follows when the count lands, and it
    stays right when a page was prepended meanwhile."""
    app, platform = make_app(log_lines=20_000)
    platform.overrides[12_000] = (Stream.STDOUT, "the NEEDLE line")
    counted = threading.Event()
    position = platform.log_position

    def slow_position(name, line_id, stream=None, matching=""):
        if line_id is not None:
            counted.wait(10)
        return position(name, line_id, stream, matching)

    platform.log_position = slow_position
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.total == 20_000)
        await search(pilot, "needle")
        assert log.texts[log.match_index] == "the NEEDLE line" and log.status().startswith("line ? of 20,000")
        pages = log.pages_loaded
        log.load_older()  # the window grows upwards before the count arrives
        await until(pilot, lambda: log.pages_loaded > pages)
        counted.set()
        await until(pilot, lambda: log.first_line is not None)
        assert log.first_line + log.match_index == 11_999  # 0-based: line 12,000
        assert log.status().startswith(f"line {log.first_line + log.top_index + 1:,} of 20,000")


def status_line(app) -> str:
    return str(app.screen.query_one("#log-status").render())


def covers(widget, other) -> bool:
    return widget.region.overlaps(other.region)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_a_search_with_no_match_says_so_in_the_status_line_and_hides_nothing(size):
    """mendtui 2: at 80x24 the "not in the log" toast covered the status line it repeated."""
    app, _ = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await open_job(pilot)
        await pilot.press("slash", *"HUGEEND", "enter")
        await until(pilot, lambda: "'HUGEEND' is not in the log" in status_line(app))
        await settle(pilot)
        status = app.screen.query_one("#log-status")
        assert status_line(app).startswith("line ") and status.region.width == size[0]
        assert not [toast for toast in app.screen.query("Toast") if covers(toast, status)]


async def test_a_running_job_without_lines_shows_the_whole_search_answer_at_80_columns():
    """mendhome D8: the "no lines yet (…600 s)" explanation cut "'nomatchzz' is not in the log"
    at 80x24; the explanation gives way (shortened, then the least important parts dropped)."""
    app, _ = make_app(log_lines=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await jobs_listed(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#log-status") and "no lines yet" in status_line(app))
        await pilot.press("slash", *"nomatchzz", "enter")
        await until(pilot, lambda: "'nomatchzz' is not in the log" in status_line(app))
        assert status_line(app).strip() == "no lines yet · 'nomatchzz' is not in the log"
        await pilot.resize_terminal(160, 45)
        await until(pilot, lambda: "600 s" in status_line(app))  # the room is there again: the why too


def test_fit_status_gives_way_from_the_least_important_part_keeping_the_order():
    from cycle.tui.widgets.log_view import StatusPart, fit_status

    parts = [StatusPart(1, ("no lines yet (a long why)", "no lines yet")), StatusPart(0, ("'x' is not in the log",)),
             StatusPart(2, ("follow on",)), StatusPart(3, ("wrap off",))]
    assert fit_status(parts, None) == "no lines yet (a long why) · 'x' is not in the log · follow on · wrap off"
    assert fit_status(parts, 70) == "no lines yet (a long why) · 'x' is not in the log · follow on"
    assert fit_status(parts, 60) == "no lines yet (a long why) · 'x' is not in the log"
    assert fit_status(parts, 40) == "no lines yet · 'x' is not in the log"
    assert fit_status(parts, 10) == "'x' is not in the log"


def test_the_status_line_measures_a_wide_search_term_in_cells():
    """A search for 日本語 takes six cells, not three: the status line gives way for them."""
    from cycle.tui.widgets.log_view import StatusPart, fit_status

    parts = [StatusPart(1, ("line 1 of 2",)), StatusPart(0, ("'日本語' is not in the log",)),
             StatusPart(2, ("follow on",))]
    full = "line 1 of 2 · '日本語' is not in the log · follow on"
    assert fit_status(parts, len(full) + 3) == full
    assert fit_status(parts, len(full) + 2) == "line 1 of 2 · '日本語' is not in the log"


async def test_a_search_term_with_brackets_is_shown_as_typed_not_read_as_markup():
    """tui2 L3: `/[bold]` showed `''` in the status line."""
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await pilot.press("slash", *"[bold]", "enter")
        await until(pilot, lambda: "'[bold]' is not in the log" in status_line(app))


async def test_the_search_box_says_enter_goes_to_the_next_match_from_the_view():
    """mendtui 3: its hint said "enter: find the previous match", and Enter finds the next one."""
    app, _ = make_app(log_lines=20_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_job(pilot)
        await pilot.press("g", "slash")
        box = app.screen.query_one("#search")
        assert "previous match," not in box.placeholder and "enter: the next match from here" in box.placeholder
        await pilot.press(*"STEP-000", "enter")
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.match_index is not None)
        assert log.texts[log.match_index] == "checkpoint step-000050 uploaded"  # the first below line 1


async def test_an_empty_log_of_a_running_job_says_when_its_lines_come():
    """mendtui 3: a detached job opened in its first minutes said only "no lines" (its log reaches
    storage on the platform's 600 s cadence), as if it wrote nothing."""
    app, _ = make_app(log_lines=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query("#jobs") and app.screen.query_one("#jobs").row_count)
        await pilot.press("enter")  # trainer-4, RUNNING
        await until(pilot, lambda: app.screen.query(LogView) and app.screen.query_one(LogView).live_ready)
        empty = "no lines yet (a running job's log arrives every 600 s)"
        await until(pilot, lambda: status_line(app).startswith(empty))
        await pilot.press("escape", "j", "j", "enter")  # sweep-2, FAILED: nothing more will come
        await until(pilot, lambda: app.screen.query(LogView) and app.screen.query_one(LogView).ended)
        await until(pilot, lambda: status_line(app).startswith("no lines · log ended"))


async def test_the_empty_log_says_the_cadence_the_jobs_agent_recorded():
    """D3: under $CYCLE_LOG_CADENCE_SECONDS=1 (the agent's) the TUI still said the platform's 600 s."""
    app, platform = make_app(log_lines=0)
    platform._jobs[0] = replace(platform._jobs[0], log_cadence_seconds=1.0)  # trainer-4, RUNNING
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query("#jobs") and app.screen.query_one("#jobs").row_count)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query(LogView) and app.screen.query_one(LogView).live_ready)
        await until(pilot, lambda: status_line(app).startswith("no lines yet (a running job's log arrives every 1 s)"))


async def test_the_status_says_searching_until_the_store_answers():
    """A whole-log search takes about a second on ten million lines: not "0 matches" meanwhile."""
    app, platform = make_app()
    answer = threading.Event()
    search_logs = platform.search_logs
    platform.search_logs = lambda *args, **kwargs: (answer.wait(10), search_logs(*args, **kwargs))[1]
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await pilot.press("slash", *"step-001950", "enter")
        await until(pilot, lambda: "searching 'step-001950' …" in status_line(app))
        answer.set()
        await until(pilot, lambda: "match 1/1 'step-001950'" in status_line(app))


async def test_follow_mode_survives_switching_tabs_and_back():
    app, platform = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await pilot.press("tab")
        platform.append(30)  # lines arrive while the log is hidden
        await until(pilot, lambda: log.tail_id == 2030)  # a poll brought them in
        await pilot.press("tab")
        await until(pilot, lambda: app.focused is log)
        assert log.follow
        platform.append(30)
        await until(pilot, lambda: log.ids[-1] == 2060 and log.is_vertical_scroll_end)


async def test_home_then_end_during_a_page_load_ends_at_the_end():
    app, platform = make_app(log_lines=10_000_000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await pilot.press("home", "end")  # End before Home's page arrived
        await until(pilot, lambda: not log.fetching and log.pending_jump is None and log.ids[-1] == 10_000_000)
        await settle(pilot)
        assert log.ids[-1] == 10_000_000 and log.is_vertical_scroll_end and log.follow


async def test_a_prepended_page_keeps_the_same_line_on_top_in_the_same_update():
    app, _ = make_app(log_lines=10_000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        log.follow = False
        log._set_top_row(10)
        shown = log.ids[log.top_index]
        older = [LogRecord(i, 4, T0 + i, Stream.STDOUT, f"older {i}") for i in range(log.ids[0] - PAGE, log.ids[0])]
        log.post_message(LogView.WindowLoaded("older", older, log.generation))
        await pilot.pause(0)
        assert log.ids[log.top_index] == shown  # no frame in between shows lines 500 away
        await pilot.pause(0.1)
        assert log.ids[log.top_index] == shown


async def test_w_wraps_long_lines_and_otherwise_they_scroll_sideways():
    app, platform = make_app()
    long_line = "x" * 300 + "THE-END"
    platform.overrides[2000] = (Stream.STDOUT, long_line)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await pilot.pause()
        assert log.virtual_size.width >= 13 + len(long_line)  # the whole line can be scrolled to
        await pilot.press(*["right"] * 40)
        assert log.scroll_x > 0
        await pilot.press("w")
        await until(pilot, lambda: log.wrap and log.virtual_size.height > log.line_count and log.is_vertical_scroll_end)
        assert log.wrap and log.scroll_x == 0 and log.virtual_size.height > log.line_count
        shown = "".join(
            strip.text for strip in (log.render_line(y) for y in range(log.scrollable_content_region.height))
        )
        assert "THE-END" in shown and log.is_vertical_scroll_end
        await pilot.press("w")
        assert not log.wrap and log.virtual_size.height == log.line_count


async def test_a_progress_bar_line_shows_its_last_frame_as_a_terminal_would():
    """tqdm redraws with `\r`: the log line holds every frame; the TUI shows what a terminal shows."""
    app, platform = make_app()
    platform.overrides[2000] = (Stream.STDERR, " 10%|#         | 1/10\r 50%|#####     | 5/10\r100%|##########| 10/10")
    platform.overrides[1999] = (Stream.STDOUT, "epoch 1 loss 0.50\rep 2")
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        rows = [log.render_line(y).text for y in range(log.scrollable_content_region.height)]
        assert rows[-1].split(None, 1)[1].rstrip() == "100%|##########| 10/10", rows[-1]
        assert rows[-2].split(None, 1)[1].rstrip() == "ep 2h 1 loss 0.50", rows[-2]  # overwritten from the start
        assert not any("\r" in row for row in rows)


async def test_s_filters_the_log_by_stream_server_side():
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        for stream in ("stdout", "stderr", "system"):
            await pilot.press("s")
            await until(pilot, lambda: log.stream == stream and log.texts and not log.fetching)
            assert {log.stream_name(i) for i in range(log.line_count)} == {stream}
            assert f"streams: {stream}" in log.status()
        await pilot.press("s")
        await until(pilot, lambda: log.stream is None and log.line_count == PAGE)
        assert log.total == 2000


@pytest.mark.parametrize(
    "text",
    [
        OOM,
        "UPLOAD_ERROR: the artifact uploader stopped",
        "the process running this job (pid 7) died; the job is marked LOST",
        "build failed: build.sh exited with code 2",
        "RESTORE_FAILED: could not restore",
        "DISK_FULL: no space left",
    ],
)
async def test_failure_events_are_bold_red_in_the_log(text):
    app, platform = make_app()
    platform.overrides[1999] = (Stream.SYSTEM, text)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        failure = log._render(log.ids.index(1999), False)
        routine = log._render(log.ids.index(1950), False)  # "checkpoint step-001950 uploaded"
        body = [s for s in failure if text[:10] in s.text or s.text == "[system] "]
        assert body and all(s.style.bold and s.style.color.name == "red" for s in body)
        assert not any(s.style.bold for s in routine)



async def test_every_line_s_time_is_grey_and_only_its_own_text_takes_the_stream_s_colour():
    """A stdout line's time showed in the text's colour (rich drops a Text's base style when it has
    no spans), while stderr and system lines had theirs grey; a plain line is now built without
    rich's Text, and a line through Text (a search, ANSI) must look the same."""
    app, platform = make_app()
    platform.overrides[1998] = (Stream.STDERR, "Traceback (most recent call last):")
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)

        def colours(index: int) -> list[tuple[str, str | None]]:
            return [(s.text, s.style.color.name if s.style and s.style.color else None)
                    for s in log._render(index, False) if s.text.strip()]

        stdout, stderr, system = (log.ids.index(n) for n in (1997, 1998, 1950))
        text_colour = log.rich_style.color.name  # the view's own foreground
        assert [colour for _, colour in colours(stdout)] == ["grey50", text_colour]
        assert [colour for _, colour in colours(stderr)] == ["grey50", "red"]
        assert [colour for _, colour in colours(system)] == ["grey50", "grey62", "grey62"]
        plain = {index: colours(index) for index in (stdout, stderr, system)}
        log.search = "no such words in any line"  # the same lines through rich's Text
        assert {index: colours(index) for index in plain} == plain


async def test_a_line_with_a_backspace_or_a_bell_draws_only_its_characters():
    """A spinner's backspaces or a bell sent to the terminal would move its cursor or beep on every
    repaint, and the row's width would be wrong: such a line goes through rich, which drops them."""
    app, platform = make_app()
    platform.overrides[1997] = (Stream.STDOUT, "a\bb\x07c")
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        strip = log._render(log.ids.index(1997), False)
        text = "".join(segment.text for segment in strip)
        assert text.endswith(" abc") and strip.cell_length == len(text)

async def test_the_job_header_shows_a_failure_reason_in_red():
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await jobs_listed(pilot)
        await pilot.press("j", "j", "enter")  # sweep-2: FAILED, EXIT_CODE_1
        await job_opened(pilot)
        header = app.screen.query_one("#job-header").render()
        spans = [span for span in header.spans if "EXIT_CODE_1" in str(header)[span.start : span.end]]
        assert any("red" in str(span.style) and "b" in str(span.style).split() for span in spans)


async def test_the_current_match_has_its_own_colour_not_only_bold():
    """As less and vim do: the other matches share one background, the current one a clearly other
    one, as the terminal shows them (Textual maps the 16 ANSI colours through its theme)."""
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        await pilot.press("slash", *"step 199", "enter")
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.match_index is not None and not log.fetching)
        other = next(i for i, text in enumerate(log.texts) if "step 199" in text and i != log.match_index)

        def match_background(index: int, current: bool):
            [segment] = [s for s in log._render(index, current) if s.text.lower() == "step 199"]
            return segment.style.bgcolor.get_truecolor(app.ansi_theme)

        current, others = match_background(log.match_index, True), match_background(other, False)
        assert sum(abs(a - b) for a, b in zip(current, others)) > 120, (current, others)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_snapshot_logs_with_search_hits_and_a_failure_event(snap_compare, size):
    app, platform = make_app()
    platform.overrides[1990] = (Stream.SYSTEM, OOM)

    async def run_before(pilot):
        await open_job(pilot)
        await pilot.press("slash", *"step 199", "enter")  # hits on screen, the current one stands out
        log = pilot.app.screen.query_one(LogView)
        await until(pilot, lambda: log.match_index is not None and not log.fetching)
        await settle(pilot)  # the scroll to the match and the status line, on a busy machine too

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_changing_the_stream_filter_keeps_the_view_at_the_end_and_recounts_the_matches():
    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        await search(pilot, "step 10")
        everywhere = len(log.matches)
        await pilot.press("s")  # stdout only
        await until(
            pilot, lambda: log.stream == "stdout" and not log.fetching and log.matches and len(log.matches) < everywhere
        )
        await settle(pilot)
        assert log.is_vertical_scroll_end and log.ids[-1] == 1999


async def test_keys_pressed_in_a_burst_during_loads_are_never_lost():
    """`loading` was Textual's own reactive: while a page was fetched the log lost focus, and keys
    typed at once (paste speed, or rapid PageUp) went nowhere."""
    from textual import events

    app, _ = make_app(log_lines=20_000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        for _ in range(2):
            app.post_message(events.Key("s", "s"))
        await until(pilot, lambda: log.stream == "stderr")
        for _ in range(2):
            app.post_message(events.Key("s", "s"))
        await until(pilot, lambda: log.stream is None and log.ids and log.ids[-1] == 20_000)
        await until(pilot, lambda: not log.fetching and log.is_vertical_scroll_end)
        before = round(log.scroll_y)
        for _ in range(PAGE // 20):  # enough pages up to need an older page mid-burst
            app.post_message(events.Key("pageup", None))
        height = log.scrollable_content_region.height
        expected = (height - 1) + (PAGE // 20) * (height - 1)

        def moved() -> int:
            return log.ids[-1] - log.ids[log.top_index]  # from the last line to the top one

        await until(pilot, lambda: moved() >= expected and not log.fetching)
        await settle(pilot)  # no press left over, or counted twice
        assert moved() == expected  # every press, across the page load
        assert app.focused is log and before


async def test_G_right_after_a_filter_change_ends_on_the_new_filter_s_last_page():
    from textual import events

    app, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        for key, char in (("s", "s"), ("s", "s"), ("G", "G")):  # in one burst: G before the stderr page lands
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: log.stream == "stderr" and log.total is not None and not log.fetching)
        assert {log.stream_name(i) for i in range(log.line_count)} == {"stderr"} and log.is_vertical_scroll_end
        assert log.status().startswith(f"line {log.first_line + log.top_index + 1:,} of {log.total:,}")


async def test_a_search_typed_in_one_burst_after_slash_is_not_lost():
    from textual import events

    app, _ = make_app(log_lines=20_000)
    async with app.run_test(size=SIZE) as pilot:
        await open_job(pilot)
        log = app.screen.query_one(LogView)
        for key, char in (("g", "g"), ("slash", "/"), *((c, c) for c in "step-0001"), ("enter", "\r")):
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: log.match_index is not None)
        assert log.texts[log.match_index] == "checkpoint step-000100 uploaded"
        await pilot.press("slash", "x", "slash", "y")
        assert app.screen.query_one("#search").value == "x/y"  # `/` in the box is text
