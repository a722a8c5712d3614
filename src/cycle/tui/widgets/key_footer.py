"""A Footer whose Quit and help keys come first, so a narrow terminal (80 columns) cuts the
screen's own keys at the right edge, never the two a user needs to leave or to learn the rest."""

from __future__ import annotations

from textual.widgets import Footer

ALWAYS_SHOWN = ("quit", "help")  # the app's actions, shown before the screen's


class KeyFooter(Footer):
    def compose(self):
        widgets = list(super().compose())
        return sorted(widgets, key=lambda widget: getattr(widget, "action", None) not in ALWAYS_SHOWN)
