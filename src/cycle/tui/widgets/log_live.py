"""Follow mode and live lines: what a running job writes while LogView shows it.

A mixin of LogView (one concern per module, so no class outgrows a reader). Lines arrive in batches
from a polling worker and cause at most one refresh per 80 ms; while the window is not at the end of
the log they only advance the line count, and the end is fetched when the user goes there. Following
keeps the last line in view through new lines, resizes and scrollbars appearing.
"""

from __future__ import annotations

REFRESH_SECONDS = 0.08  # live lines are drawn at most this often


class LiveTail:
    """Follow mode, and live lines appended to a window at the end of the log (refreshes coalesced)."""

    def watch_follow(self, follow: bool) -> None:
        if follow:
            if self.at_tail and self.pending_jump is None:
                self._set_top_row(self.max_scroll_y)
            elif self.is_mounted and self.pending_jump != "tail":
                self._jump("tail")
        self._post_status()

    def watch_virtual_size(self) -> None:
        self.call_after_refresh(self._stick_to_end)

    def _stick_to_end(self) -> None:
        """Following: stay on the last line when a scrollbar or a layout change moves the end."""
        if self.follow and self.at_tail and self.scroll_y != self.max_scroll_y:
            self.scroll_target_y = self.scroll_y = self.max_scroll_y
            self.refresh()

    def add_lines(self, records: list) -> None:
        """Live lines (from a polling worker, already filtered by stream); refreshes are coalesced."""
        records = [r for r in records if r.id > self.tail_id]
        if not records:
            return
        self.tail_id = records[-1].id
        self.add_live_matches(records)
        if self.total is not None:
            self.total += len(records)
        if not self.at_tail:
            self._post_status()
            return
        self._pending.extend(records)
        if self._refresh_timer is None:
            self._refresh_timer = self.set_timer(REFRESH_SECONDS, self._flush_pending)

    def _flush_pending(self) -> None:
        self._refresh_timer = None
        pending, self._pending = self._pending, []
        last = self.ids[-1] if self.ids else 0
        pending = [r for r in pending if r.id > last]
        if not pending or not self.at_tail:
            return
        self._extend(pending)
        self._resize()
        if self.follow:
            self._set_top_row(self.max_scroll_y)
        self.refresh()
        self._post_status()
