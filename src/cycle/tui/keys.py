"""The keys of `cycle tui`, read from the bindings themselves (one source of truth, as harlequin
keeps keys as data): the `?` help and the README's keys table are generated here, so neither can
drift from what the keys do."""

from __future__ import annotations

KEY_NAMES = {
    "slash": "/", "question_mark": "?", "escape": "Esc", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home",
    "end": "End", "enter": "Enter", "backspace": "Backspace", "tab": "Tab", "up": "↑", "down": "↓",
    "left": "←", "right": "→", "space": "Space",
}


def key_label(keys: str) -> str:
    return " ".join(KEY_NAMES.get(key, key) for key in keys.split(","))


def rows(owner) -> list[tuple[str, str]]:
    """(keys, what they do) for each binding of a screen or widget class, in declaration order."""
    return [(key_label(binding.key), binding.tooltip or binding.description) for binding in owner.BINDINGS]


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    from cycle.tui.app import CycleApp
    from cycle.tui.screens.job import JobScreen
    from cycle.tui.screens.jobs import JobsScreen
    from cycle.tui.screens.modals import ConfirmScreen
    from cycle.tui.widgets.artifact_browser import ArtifactBrowser
    from cycle.tui.widgets.log_view import LogView

    return [("Everywhere", rows(CycleApp)), ("Jobs list", rows(JobsScreen)), ("Job", rows(JobScreen)),
            ("Log", rows(LogView)), ("Artifacts", rows(ArtifactBrowser)), ("Questions", rows(ConfirmScreen))]


def markdown_table() -> str:
    """The README's keys table."""
    lines = ["| Where | Keys | Does |", "| --- | --- | --- |"]
    for where, keys in sections():
        lines += [f"| {where} | `{key.replace('|', '¦')}` | {does} |" for key, does in keys]
    return "\n".join(lines)


def help_columns() -> tuple:
    """The `?` help as two columns; each section is a grid whose descriptions wrap inside their
    own column (a hanging indent), never under the keys."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    blocks = []
    for where, keys in sections():
        grid = Table.grid(padding=(0, 2, 0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for key, does in keys:
            grid.add_row(key, does)
        blocks.append(Group(Text(where, style="bold"), grid, Text("")))
    half = (len(blocks) + 1) // 2
    return Group(*blocks[:half]), Group(*blocks[half:])
