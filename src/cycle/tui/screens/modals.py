"""Small modal screens: confirmation and the key help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question whose focused (Enter) answer is the safe one: No."""

    AUTO_FOCUS = "#no"
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(self.question, id="question")
            yield Button("Yes (y)", variant="error", id="yes")
            yield Button("No (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, columns: tuple, zone: str = "UTC") -> None:
        super().__init__()
        self.columns = columns  # the app's keys as two columns (cycle.tui.keys.help_columns)
        self.zone = zone  # the zone every shown time is in (cycle.tui.timefmt.zone_label)

    def compose(self) -> ComposeResult:
        left, right = self.columns
        # the zone and how to close sit on the border: seen at once, even when the keys scroll (80x24)
        with VerticalScroll(id="help") as box:
            box.border_title = f"Keys · times are local, in {self.zone}"
            box.border_subtitle = "↑ ↓ scroll · ctrl+p: every action by name · Esc: close"
            with Horizontal(id="help-columns"):
                yield Static(left, classes="help-column")
                yield Static(right, classes="help-column")
