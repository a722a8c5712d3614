"""Updating a Static only when what it shows changes, and without a new layout when its size
cannot change.

`Static.update` always asks for a new layout of the whole screen and a repaint, even with the same
text. The job screen re-states its header and status line on every scroll step and every poll;
skipping the unchanged ones, and the layout for one-row lines whose size the stylesheet fixes
(app.tcss: `height: 1`, full width), keeps a key press to a repaint of what moved."""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static


def show(widget: Static, content: VisualType, *, fixed_size: bool = False) -> None:
    if widget.content != content:
        widget.update(content, layout=not fixed_size)
