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
        from cycle.tui.screens.modals import HelpScreen

        self.push_screen(HelpScreen())
