"""A Footer that shows the keys that matter first: in cycle.tui.keys.FOOTER_ORDER, and on a
terminal too narrow for all of them (80 columns) it hides the least important ones whole, so the
right edge never cuts Back, Search or Cancel because the log's keys were declared before them;
`?` always stays (it lists every key).

Textual's Footer rebuilds all its key widgets (each styled anew) whenever the screen's bindings
*may* have changed: every focus move, every `refresh_bindings`. Opening a job does that dozens of
times with the same keys; this footer rebuilds only when the keys it would show differ, and a
resize only shows or hides the keys it has."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from cycle.tui.keys import footer_rank, keys_that_fit


class KeyFooter(Footer):
    _shown: tuple | None = None  # what the footer shows now: (key, description, enabled, tooltip) each

    def compose(self):
        self._shown = self._keys()
        widgets = list(super().compose())
        return sorted(widgets, key=lambda widget: footer_rank(getattr(widget, "action", None)))

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._keys() != self._shown:
            await self.recompose()
            self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Show the keys that fit the footer's width by importance, hide the rest (whole keys)."""
        keys = list(self.query_children(FooterKey))  # in FOOTER_ORDER, as composed
        shown = keys_that_fit([(key.action, columns(key)) for key in keys], self.size.width)
        for key in keys:
            key.display = key.action in shown

    def _keys(self) -> tuple:
        if not self._bindings_ready:
            return ()
        shown = tuple(
            (binding.key, binding.description, binding.action, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return (self.compact, self.show_command_palette, *shown)


def columns(key: FooterKey) -> int:
    """The columns `key` takes in the footer, shown or not: its text (with the padding its CSS
    gives it), its border and padding (the palette key's), its margin (a compact footer's)."""
    return key.render().cell_len + key.styles.gutter.width + key.styles.margin.width
