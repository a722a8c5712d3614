"""Small modal screens: confirmation and the key help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
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


HELP = """\
[b]Jobs[/b]
  j / k, ↓ / ↑   move            g / G     first / last
  enter          open the job    /         filter by name, project or state
  r              refresh now     q         quit
[b]Job[/b]
  tab            Logs ⇄ Artifacts          escape    back to the jobs
  f              follow new lines          /         search the log (n: next match)
  c              cancel the job            r         reassign it to another machine
[b]Artifacts[/b]
  enter          open a folder             backspace up one folder
  s              sort by name ⇄ size       d         download the file or folder
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(HELP)
            yield Label("escape to close", id="help-close")
