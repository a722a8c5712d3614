"""footer80: the footer shows the keys that matter first (cycle.tui.keys.FOOTER_ORDER) and, when a
terminal is too narrow for all of them, hides the least important ones whole, never `?`. At 80x24
the job screen's footer showed the log's Last line, Wrap and Streams and cut Back, Search, Follow
and Cancel, because the log's keys were declared before the screen's."""

from __future__ import annotations

import pytest
from test_tui import artifacts_shown, jobs_listed, make_app, open_job, until
from textual.widgets._footer import FooterKey

from cycle.tui.app import CycleApp
from cycle.tui.keys import FOOTER_ORDER, keys_that_fit
from cycle.tui.screens.job import JobScreen
from cycle.tui.screens.jobs import JobsScreen
from cycle.tui.screens.modals import ConfirmScreen, HelpScreen
from cycle.tui.widgets.artifact_browser import ArtifactBrowser
from cycle.tui.widgets.log_view import LogView
from cycle.tui.widgets.row_table import RowTable

LOGS_80 = ["back", "search", "toggle_follow", "cancel_job", "help", "quit", "bottom"]
LOGS_160 = [*LOGS_80, "reassign_job", "next_tab", "cycle_stream", "toggle_wrap", "command_palette"]
ARTIFACTS_80 = ["back", "open", "cancel_job", "download", "help", "quit", "reassign_job", "toggle_sort"]
JOBS_LIST = ["open", "filter", "help", "quit", "refresh", "command_palette"]


def test_the_least_important_keys_give_way_first_and_help_never():
    widths = [("back", 10), ("search", 10), ("help", 8), ("quit", 8), ("toggle_wrap", 8)]
    assert keys_that_fit(widths, 44) == {"back", "search", "help", "quit", "toggle_wrap"}
    assert keys_that_fit(widths, 43) == {"back", "search", "help", "quit"}  # wrap goes first, not the last declared
    assert keys_that_fit(widths, 28) == {"back", "search", "help"}
    assert keys_that_fit(widths, 9) == {"help"}  # `?` lists every key: it stays
    assert keys_that_fit(widths, 0) == {"help"}


def test_every_key_the_footer_can_show_has_a_place_in_the_order():
    """A new key must be ranked on purpose, not land last by accident."""
    owners = (CycleApp, JobsScreen, JobScreen, LogView, ArtifactBrowser, RowTable, ConfirmScreen, HelpScreen)
    shown = {binding.action for owner in owners for binding in owner.BINDINGS if binding.show}
    shown -= {"answer(True)", "answer(False)", "dismiss"}  # the modals have no footer
    assert shown - set(FOOTER_ORDER) == set()
    assert "command_palette" in FOOTER_ORDER


def footer_actions(app) -> list[str]:
    """The actions of the keys the footer shows, left to right (the docked palette key last)."""
    return [key.action for key in app.screen.query(FooterKey) if key.display]


def assert_none_cut(app) -> None:
    """Every shown key is whole: inside the footer and left of the palette key."""
    keys = [key for key in app.screen.query(FooterKey) if key.display]
    palette = [key for key in keys if key.action == "command_palette"]
    edge = palette[0].region.x if palette else app.screen.query_one("KeyFooter").region.right
    assert all(key.region.right <= edge for key in keys if key not in palette), [
        (key.action, key.region) for key in keys
    ]


@pytest.mark.parametrize(("shown", "size", "expected"), [
    (open_job, (80, 24), LOGS_80),  # a running job's log: Back, Search, Follow, Cancel first
    (open_job, (160, 45), LOGS_160),
    (artifacts_shown, (80, 24), ARTIFACTS_80),  # Download kept at 80 columns
    (jobs_listed, (80, 24), JOBS_LIST),  # Open, Filter, Keys, Quit first
    (jobs_listed, (160, 45), JOBS_LIST),
], ids=["logs-80x24", "logs-160x45", "artifacts-80x24", "jobs-80x24", "jobs-160x45"])
async def test_each_footer_shows_its_most_used_keys_first_and_cuts_none(shown, size, expected):
    app, _ = make_app()
    async with app.run_test(size=size) as pilot:
        await shown(pilot)
        await until(pilot, lambda: footer_actions(app) == expected)
        assert_none_cut(app)


async def test_a_resize_hides_and_shows_keys_and_keeps_help_on_the_narrowest_terminal():
    app, _ = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await open_job(pilot)
        await until(pilot, lambda: footer_actions(app) == LOGS_160)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: footer_actions(app) == LOGS_80)
        await pilot.resize_terminal(30, 24)
        await until(pilot, lambda: footer_actions(app) == ["back", "search", "help"])
        await pilot.resize_terminal(12, 24)
        await until(pilot, lambda: footer_actions(app) == ["help"])
        await pilot.resize_terminal(160, 45)
        await until(pilot, lambda: footer_actions(app) == LOGS_160)
