"""Search in LogView: the whole stored log, not only the loaded window.

A mixin of LogView (one concern per module, so no class outgrows a reader). The search runs in the
store (sqlite) over the whole (filtered) log and answers with the ids of matching lines; `n`/`N` walk
them with wrap-around, and a match outside the window loads the page around it.
"""

from __future__ import annotations

from bisect import bisect_left

from textual.message import Message

from cycle.tui.widgets.log_source import MATCHES


def holds(text: str, needle: str) -> bool:
    """Whether `text` holds `needle` as the store's search reads it (SQL LIKE on the line's bytes:
    ASCII case-insensitive). A line that is not UTF-8 holds its bytes as surrogateescape's lone
    surrogates (store.direct.log_text): a strict encode raised on it, on the screen's thread."""
    return needle.encode("utf-8", "surrogateescape").lower() in text.encode("utf-8", "surrogateescape").lower()


class LogSearch:
    """The search needle's matches (line ids), the current one, and moving between them.

    The Searched message is LogView's own (Textual names a handler after the class a message is
    nested in); it is typed as Message because importing log_view back would be an import cycle.
    """

    @property
    def match_index(self) -> int | None:
        """The window index of the current search match (None when it is not loaded)."""
        if self.match_pos is None or not self.matches:
            return None
        target = self.matches[self.match_pos]
        index = bisect_left(self.ids, target)
        return index if index < len(self.ids) and self.ids[index] == target else None

    def find(self, needle: str, move: bool = True) -> None:
        """Search the whole stored log (in the store); the answer arrives as Searched, and the view
        goes to the first match from the top line on (`move`)."""
        if self.stream == MATCHES and needle != self.search:  # the filter IS the search: reload it
            self.search = needle
            if not needle:
                self.stream = None  # nothing to match: every line
            self._refilter()
            return
        self.search = needle
        self.matches, self.match_pos = [], None
        self.searching = bool(needle)  # until the store answers, the status says so (not "0 matches")
        self._cache.clear()
        self.refresh()
        self._post_status()
        if not needle:
            return
        generation, stream = self.generation, self.log_filter
        self.run_worker(
            lambda: self.post_message(self.Searched(needle, self.source.search(needle, stream), generation, move)),
            thread=True,
            exclusive=True,
            group="log-search",
        )

    def on_log_view_searched(self, message: Message) -> None:
        if message.needle != self.search:
            return
        self.searching = False
        ids = message.ids
        if ids is None:  # the source cannot search: the loaded lines only
            ids = [self.ids[i] for i, text in enumerate(self.texts) if holds(text, message.needle)]
        # live lines that matched while the store searched (find() emptied the list): keep them too
        self.matches = sorted(set(ids).union(self.matches))
        if not message.move:
            self._post_status()
            return
        if ids:
            here = self.ids[self.top_index] if self.ids else 0
            start = bisect_left(ids, here)
            self._go_to_match(start if start < len(ids) else 0)
        self._post_status()

    def search_status(self) -> str:
        """The search's part of the status line: searching, the current match, how many, or that
        there is none (said here, not in a toast over the status line)."""
        count = len(self.matches)
        if self.searching:
            return f"searching {self.search!r} …"
        if self.match_pos is not None:
            return f"match {self.match_pos + 1:,}/{count:,} {self.search!r}"
        if not count:
            where = self.stream if self.stream not in (None, MATCHES) else "the log"
            return f"{self.search!r} is not in {where}"
        return f"{count:,} match{'' if count == 1 else 'es'} {self.search!r}"  # until n / N picks one

    def add_live_matches(self, records: list) -> None:
        """New lines of a running job that hold the search: they join the matches, so the count
        follows the log (the store's search saw only the lines stored when it ran)."""
        if self.search:
            found = [r.id for r in records if holds(r.text, self.search)]
            if found:
                self.matches = [*self.matches, *found]  # ids after every earlier line: still in order
                self._post_status()

    def action_match(self, step: int) -> None:
        if not self.matches:
            if self.search:
                self.find(self.search)
            return
        self._go_to_match(self._next_match(step))

    def _next_match(self, step: int) -> int:
        """Where `n` (+1) / `N` (-1) go, wrapping around: from the current match while it is on
        screen, otherwise from the view (as less and vim do): after `g`, `n` is the first match
        from the top line on and `N` wraps to the last match of the log."""
        count = len(self.matches)
        if self.match_pos is not None and self._match_on_screen():
            return (self.match_pos + step) % count
        here = self.ids[self.top_index] if self.ids else 0
        first_below = bisect_left(self.matches, here)  # the first match at or after the top line
        return first_below % count if step > 0 else (first_below - 1) % count

    def _match_on_screen(self) -> bool:
        index = self.match_index
        if index is None:
            return False
        top = round(self.scroll_y)
        return top <= self.row_of(index) < top + self.scrollable_content_region.height

    def _centre_if_current(self, position: int) -> None:
        index = self.match_index
        if self.match_pos == position and index is not None and self._match_on_screen():
            self._show_line(index)

    def _go_to_match(self, position: int) -> None:
        self.match_pos = position
        self.follow = False
        self._cache.clear()
        index = self.match_index
        if index is not None:
            self._show_line(index)
            # again once the layout is done: closing the search box (enter) gives the log its rows
            # back in the next refresh, and the match is centred in the height the user will see
            self.call_after_refresh(self._centre_if_current, position)
        else:
            self._jump("around", self.matches[position])
        self._post_status()
