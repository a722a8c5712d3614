"""A Footer whose Quit and help keys come first, so a narrow terminal (80 columns) cuts the
screen's own keys at the right edge, never the two a user needs to leave or to learn the rest.

Textual's Footer rebuilds all its key widgets (each styled anew) whenever the screen's bindings
*may* have changed: every focus move, every `refresh_bindings`. Opening a job does that dozens of
times with the same keys; this footer rebuilds only when the keys it would show differ."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

ALWAYS_SHOWN = ("quit", "help")  # the app's actions, shown before the screen's


class KeyFooter(Footer):
    _shown: tuple | None = None  # what the footer shows now: (key, description, enabled, tooltip) each

    def compose(self):
        self._shown = self._keys()
        widgets = list(super().compose())
        return sorted(widgets, key=lambda widget: getattr(widget, "action", None) not in ALWAYS_SHOWN)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._keys() != self._shown:
            await self.recompose()

    def _keys(self) -> tuple:
        if not self._bindings_ready:
            return ()
        shown = tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return (self.compact, self.show_command_palette, *shown)
