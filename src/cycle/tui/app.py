"""The `cycle tui` application."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from cycle.api import Platform
from cycle.tui.screens.jobs import JobsScreen


class CycleApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "cycle"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
    ]

    def __init__(self, platform: Platform, clock=None) -> None:
        super().__init__()
        self.platform = platform
        self.clock = clock

    def on_mount(self) -> None:
        self.push_screen(JobsScreen(self.platform, clock=self.clock) if self.clock else JobsScreen(self.platform))

    def action_help(self) -> None:
        from cycle.tui.keys import help_columns
        from cycle.tui.screens.modals import HelpScreen

        self.push_screen(HelpScreen(help_columns(self.key_sections())))

    @staticmethod
    def key_sections() -> list[tuple[str, list[tuple[str, str]]]]:
        """Every binding of the app, grouped by where it works: the one source of the `?` help and the
        README's keys table (keys as data, as harlequin does)."""
        from cycle.tui.keys import rows
        from cycle.tui.screens.job import JobScreen
        from cycle.tui.screens.modals import ConfirmScreen
        from cycle.tui.widgets.artifact_browser import ArtifactBrowser
        from cycle.tui.widgets.log_view import LogView

        return [("Everywhere", rows(CycleApp)), ("Jobs list", rows(JobsScreen)), ("Job", rows(JobScreen)),
                ("Log", rows(LogView)), ("Artifacts", rows(ArtifactBrowser)), ("Questions", rows(ConfirmScreen))]
