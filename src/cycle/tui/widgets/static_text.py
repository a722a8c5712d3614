"""Updating a Static only when what it shows changes.

`Static.update` always asks for a new layout of the whole screen and a repaint, even with the same
text. The job screen re-states its header and status line on every scroll step and every poll;
skipping the unchanged ones keeps a key press to one repaint of what moved."""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static


def show(widget: Static, content: VisualType) -> None:
    if widget.content != content:
        widget.update(content)
