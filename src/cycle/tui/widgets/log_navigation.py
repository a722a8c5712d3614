"""Paging and navigation keys of LogView: moving through the window, and past its edges.

A mixin of LogView (one concern per module, so no class outgrows a reader). Scrolling near either
edge of the window fetches the page beyond it; rows asked past the edge while that page is coming
are owed and paid when it lands, so no key press is lost; `g`/`G` (Home/End) replace the window with
the first / last page, so no line is more than one query away. Scrolls happen at once, in the same
update as the lines they show.
"""

from __future__ import annotations

NEAR_EDGE = 50  # fetch the next page when the view is this close to either end of the window


class LogNavigation:
    """Scroll position, the keys that move it, and fetching the page beyond the window's edge."""

    def _set_top_row(self, row: float) -> None:
        """Scroll at once (no animation) in this same update."""
        self.scroll_target_y = self.scroll_y = max(0, min(round(row), self.max_scroll_y))
        self.refresh()
        if self.follow and self.at_tail:
            self.call_after_refresh(self._stick_to_end)

    def _show_line(self, index: int) -> None:
        self._set_top_row(
            self.row_of(min(index, max(0, len(self.texts) - 1))) - self.scrollable_content_region.height // 2
        )

    @property
    def top_index(self) -> int:
        return self.line_at(round(self.scroll_y))[0]

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._near_edges()
        self._post_status()

    def _near_edges(self) -> None:
        row = round(self.scroll_y)
        if row < NEAR_EDGE and not self.reached_top:
            self.load_older()
        elif row + self.scrollable_content_region.height > self._row_count() - NEAR_EDGE and not self.at_tail:
            self.load_newer()

    def _user_moved(self, rows: int) -> None:
        """A move the user asked for: going up leaves follow mode. Rows beyond the window's edge
        while the next page is still coming are owed, and paid when it lands: no press is lost."""
        if rows < 0:
            self.follow = False
        target = self.scroll_y + self._owed + rows
        self._owed = 0
        if target < 0 and not self.reached_top:
            self._owed = target
        elif target > self.max_scroll_y and not self.at_tail:
            self._owed = target - self.max_scroll_y
        self._set_top_row(target)
        self._near_edges()

    def action_line(self, step: int) -> None:
        self._user_moved(step)

    def action_page(self, direction: int) -> None:
        self._user_moved(direction * max(1, self.scrollable_content_region.height - 1))

    def _on_mouse_scroll_up(self, event) -> None:
        self.follow = False

    def action_top(self) -> None:
        self.follow = False
        if self.pending_jump is None and self.reached_top and self.first_line in (0, None):
            self.generation += 1  # a page still loading beside the window is stale now
            self.fetching = False
            self._set_top_row(0)
        elif self.pending_jump != "top":
            self._jump("top")

    def action_bottom(self) -> None:
        if self.pending_jump is None and self.at_tail:
            self.generation += 1
            self.fetching = False
            self._set_top_row(self.max_scroll_y)
            self.follow = True
        elif self.follow:
            if self.pending_jump != "tail":
                self._jump("tail")
        else:
            self.follow = True  # watch_follow loads the last page

    def action_sideways(self, cells: int) -> None:
        if not self.wrap:
            self.scroll_to(x=max(0, self.scroll_x + cells), animate=False)
