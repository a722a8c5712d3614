"""The window of loaded lines: which part of the log LogView holds, and how it is fetched.

A mixin of LogView (it composes one concern per module so no class outgrows a reader): the window is
held in compact columns (ids and timestamps in `array('q')`, the stream kind in `array('b')`, the
text in one list), filled by exclusive workers that fetch a page beside it, or replace it with the
first, last or around-a-line page. Every load carries a generation, so a load overtaken by a newer
jump is dropped, and a prepended page moves the scroll anchor in the same update.
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left

from textual.message import Message

from cycle.api.wording import displayable

PAGE = 500
STREAM_CODES = {"stdout": 0, "stderr": 1, "system": 2}
STREAM_NAMES = {v: k for k, v in STREAM_CODES.items()}


class LogWindow:
    """Loads the window (tail, top, around a line, or the page beside it) and applies each page.

    The messages handled here are LogView's own (LogView.WindowLoaded, ...: Textual names a handler
    after the class a message is nested in); they are typed as Message because importing log_view
    back would be an import cycle.
    """

    def _clear_window(self) -> None:
        self.ids = array("q")
        self.stamps = array("q")
        self.streams = array("b")
        self.texts: list[str] = []
        self.reached_top = False
        self.at_tail = False

    def _jump(self, kind: str, target_id: int | None = None) -> None:
        """Replace the window (tail, top, or around a line); any load still running is overtaken."""
        self.generation += 1
        self.fetching = True
        self.pending_jump = kind
        self._asked_at = time.perf_counter()
        generation, stream = self.generation, self.log_filter
        self.run_worker(
            lambda: self._fetch_window(kind, generation, stream, target_id),
            thread=True,
            exclusive=True,
            group="log-window",
        )

    def _fetch_window(self, kind: str, generation: int, stream, target_id: int | None) -> None:
        source = self.source
        if kind == "tail":
            records = source.before(None, PAGE, stream)
            self.post_message(self.WindowLoaded(kind, records, generation, complete=len(records) < PAGE))
            self.post_message(self.Counted(source.position(None, stream), generation))
        elif kind == "top":
            records = source.after(0, PAGE, stream)
            self.post_message(self.WindowLoaded(kind, records, generation, first_line=0, complete=len(records) < PAGE))
        else:  # around a line (a search match): the lines first, their position after
            before = source.before(target_id + 1, PAGE // 2, stream)
            after = source.after(target_id, PAGE // 2, stream)
            at_top = len(before) < PAGE // 2  # fewer lines before the match than asked: the log's start
            self.post_message(
                self.WindowLoaded(
                    kind,
                    before + after,
                    generation,
                    first_line=0 if at_top else None,
                    target_id=target_id,
                    complete=len(after) < PAGE // 2,
                )
            )
            if not at_top:  # counting the lines before it reads the whole index up to it (~1 s a 10M)
                self.post_message(self.Positioned(before[0].id, source.position(before[0].id, stream), generation))

    def load_older(self) -> None:
        if self.fetching or self.reached_top or not self.ids:
            return
        self._load_beside("older", self.ids[0])

    def load_newer(self) -> None:
        if self.fetching or self.at_tail or not self.ids:
            return
        self._load_beside("newer", self.ids[-1])

    def _load_beside(self, kind: str, cursor: int) -> None:
        self.fetching = True
        self._asked_at = time.perf_counter()
        generation, stream = self.generation, self.log_filter

        def fetch() -> None:
            records = (
                self.source.before(cursor, PAGE, stream) if kind == "older" else self.source.after(cursor, PAGE, stream)
            )
            self.post_message(self.WindowLoaded(kind, records, generation, complete=len(records) < PAGE))

        self.run_worker(fetch, thread=True, exclusive=True, group="log-page")

    def on_log_view_window_loaded(self, message: Message) -> None:
        if message.generation != self.generation:
            return  # overtaken by a newer jump or filter
        self.fetching = False
        self.pages_loaded += 1
        self.last_page_seconds = time.perf_counter() - self._asked_at  # fetch + apply, for benchmarks
        handler = {"older": self._prepend, "newer": self._append_page}.get(message.kind, self._replace)
        handler(message)
        self._post_status()

    def _replace(self, message: Message) -> None:
        self._owed = 0
        self.pending_jump = None
        self._clear_window()
        self._extend(message.records)
        self._cache.clear()
        self._row_starts = None
        if message.kind == "tail":
            self.at_tail, self.reached_top = True, message.complete
            self.tail_id = max(self.tail_id, self.ids[-1] if self.ids else 0)
            self.live_ready = True
            if self.total is not None:
                self.first_line = max(0, self.total - len(self.texts))
            if message.complete:
                self.first_line = 0
        else:
            self.first_line = message.first_line
            self.reached_top = message.first_line == 0
            self.at_tail = message.complete and (not self.ids or self.ids[-1] >= self.tail_id)
        self._resize()
        if message.kind == "tail":
            self._set_top_row(self.max_scroll_y)
        elif message.kind == "top":
            self._set_top_row(0)
        else:
            self._show_line(bisect_left(self.ids, message.target_id))

    def _prepend(self, message: Message) -> None:
        records = message.records
        if self.ids and records and records[-1].id >= self.ids[0]:
            records = [r for r in records if r.id < self.ids[0]]  # never twice
        self.reached_top = message.complete
        if not records:
            return
        old_rows = self._row_count()
        self.ids = array("q", (r.id for r in records)) + self.ids
        self.stamps = array("q", (r.ts_ns for r in records)) + self.stamps
        self.streams = array("b", (STREAM_CODES[r.stream.value] for r in records)) + self.streams
        self.texts = [displayable(r.text) for r in records] + self.texts
        if self.first_line is not None:
            self.first_line = max(0, self.first_line - len(records))
        if self.reached_top:
            self.first_line = 0
        self._cache.clear()
        self._row_starts = None
        self._resize()
        # the anchor moves in the same update as the lines: no frame shows lines from elsewhere
        owed, self._owed = min(self._owed, 0), max(self._owed, 0)
        self._set_top_row(self.scroll_y + self._row_count() - old_rows + owed)
        self._near_edges()

    def _append_page(self, message: Message) -> None:
        last = self.ids[-1] if self.ids else 0
        self._extend([r for r in message.records if r.id > last])
        self.at_tail = message.complete
        if self.at_tail:
            self.tail_id = max(self.tail_id, self.ids[-1] if self.ids else 0)
        self._resize()
        owed, self._owed = max(self._owed, 0), min(self._owed, 0)
        if owed:
            self._set_top_row(self.scroll_y + owed)
            self._near_edges()
        self.refresh()

    def _extend(self, records: list) -> None:
        self.ids.extend(r.id for r in records)
        self.stamps.extend(r.ts_ns for r in records)
        self.streams.extend(STREAM_CODES[r.stream.value] for r in records)
        self.texts.extend(displayable(r.text) for r in records)
        if self._row_starts is not None:
            self._row_starts = None  # rebuilt on demand

    def on_log_view_positioned(self, message: Message) -> None:
        """The count of lines before the line `message.line_id` arrived after the lines: the window
        may have grown upwards meanwhile, so its first line is that count less the lines above."""
        if message.generation != self.generation or message.position is None:
            return
        self.first_line = max(0, message.position - bisect_left(self.ids, message.line_id))
        self._post_status()

    def on_log_view_counted(self, message: Message) -> None:
        if message.generation != self.generation or message.total is None:
            return
        self.total = message.total + len(self._pending)
        if self.at_tail:
            self.first_line = max(0, self.total - len(self.texts))
        self._post_status()
