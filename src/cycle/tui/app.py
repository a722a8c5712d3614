"""The `cycle tui` application."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from cycle.api import Platform
from cycle.tui.screens.jobs import JobsScreen

# Textual's own palette commands left out: Quit and Keys come from our bindings; Maximize /
# Minimize only enlarge a pane of a screen already laid out to fill the terminal
NOT_OFFERED = {"Quit", "Keys", "Maximize", "Minimize"}


class CycleApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "cycle"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
    ]

    def __init__(
        self, platform: Platform, clock=None, zone: tzinfo | None = None, job: str | None = None
    ) -> None:
        super().__init__()
        self.platform = platform
        self.clock = clock
        self.zone = zone  # the zone times are shown in (None: the terminal's local zone; tests fix it)
        self.start_job = job  # `cycle tui JOB`: opened over the jobs list, so Escape goes back to it

    def on_mount(self) -> None:
        clock = {"clock": self.clock} if self.clock else {}
        # `cycle tui JOB`: the list highlights JOB once it is listed, so Escape lands on it
        self.push_screen(JobsScreen(self.platform, select=self.start_job, **clock))
        if self.start_job:
            self.open_job(self.start_job)

    def open_job(self, name: str) -> None:
        from cycle.tui.screens.job import JobScreen

        self.push_screen(JobScreen(self.platform, name))

    def on_key(self, event) -> None:
        """A key no widget took, whose action does not apply here (so the footer does not offer it):
        say why, if the node that binds it can (cycle.tui.keys.refusal), instead of nothing."""
        from cycle.tui.keys import refusal

        why = refusal(self.screen, event.key)
        if why:
            self.notify(why, severity="warning", markup=False)

    def action_help(self) -> None:
        from cycle.tui.keys import help_columns
        from cycle.tui.screens.modals import HelpScreen
        from cycle.tui.timefmt import zone_label
        from cycle.tui.widgets.log_view import LogView

        shown_log = next(iter(self.screen.query(LogView)), None)  # its keys as they are now (an ended job's G)
        self.push_screen(HelpScreen(help_columns(self.key_sections(shown_log)), zone_label(self.zone)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers the actions of the keys that work here, each
        running the same action as its key (read from the active bindings: one source of truth),
        then Textual's own (theme, screenshot, ...)."""
        from cycle.tui.keys import palette_commands

        yield from palette_commands(screen)
        if isinstance(screen, JobsScreen):  # open any listed job by typing its name
            for job in screen.jobs:
                yield SystemCommand(
                    f"Open job {job.name}", f"{job.state.value} · project {job.project}",
                    partial(self.open_job, job.name), discover=False,
                )
        for command in super().get_system_commands(screen):
            if command.title not in NOT_OFFERED:
                yield command

    @staticmethod
    def key_sections(log_view=None) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every binding of the app, grouped by where it works: the one source of the `?` help and the
        README's keys table (keys as data, as harlequin does). `log_view`: the log shown, whose keys
        say what they do for its job (an ended job's G does not follow)."""
        from cycle.tui.keys import key_label, rows
        from cycle.tui.screens.job import JobScreen
        from cycle.tui.screens.modals import ConfirmScreen
        from cycle.tui.widgets.artifact_browser import ArtifactBrowser
        from cycle.tui.widgets.log_view import LogView
        from cycle.tui.widgets.row_table import RowTable

        palette = (key_label(CycleApp.COMMAND_PALETTE_BINDING), "Command palette: every action here, by name")
        return [("Everywhere", [*rows(CycleApp), palette]), ("Jobs list", rows(JobsScreen)), ("Job", rows(JobScreen)),
                ("Log", rows(log_view or LogView)), ("Artifacts", rows(ArtifactBrowser)),
                ("Jobs list and Artifacts", rows(RowTable)), ("Questions", rows(ConfirmScreen))]
