"""LogView: a job log that stays responsive on ten million lines.

Built on the Line API (a ScrollView rendering only the visible lines), as Textualize/toolong does.
Textual's Log and RichLog keep every line as objects and freeze on large writes; here:
- lines are held in compact columns: ids and timestamps in `array('q')`, the stream kind in
  `array('b')`, and the text in one list; nothing per line beyond its string;
- the view starts at the bottom (the newest page) and fetches the previous page from the
  Platform's paging API in an exclusive worker only when the view nears the top, keeping the
  view still while lines are prepended;
- live lines arrive in batches and cause at most one refresh per 80 ms;
- rendered lines are kept in an LRU; long lines are cut for display and ANSI is parsed safely.
"""

from __future__ import annotations

import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

PAGE = 500
NEAR_TOP = 50  # fetch the previous page when the view is this close to the first loaded line
MAX_LINE = 2000  # characters shown of one line
STREAM_CODES = {"stdout": 0, "stderr": 1, "system": 2}
STREAM_NAMES = {v: k for k, v in STREAM_CODES.items()}
STYLES = {
    0: Style(),
    1: Style(color="red"),
    2: Style(color="grey62", italic=True),
}
TIME_STYLE = Style(color="grey50")
MATCH_STYLE = Style(bgcolor="yellow", color="black")
CACHE_LINES = 2000

PageSource = Callable[[int | None, int], list]  # (before_id, limit) -> records oldest first
LiveSource = Callable[[int], list]  # (after_id) -> records shipped since


class LogView(ScrollView, can_focus=True):
    """Stdout, stderr and system lines interleaved by timestamp, newest at the bottom."""

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """

    follow: reactive[bool] = reactive(True)
    search: reactive[str] = reactive("")

    class PageLoaded(Message):
        def __init__(self, records: list, at_top: bool) -> None:
            super().__init__()
            self.records = records
            self.at_top = at_top

    class LinesArrived(Message):
        def __init__(self, records: list) -> None:
            super().__init__()
            self.records = records

    def __init__(self, page_source: PageSource, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.page_source = page_source
        self.ids = array("q")
        self.stamps = array("q")
        self.streams = array("b")
        self.texts: list[str] = []
        self.reached_top = False
        self.loading = False
        self.pages_loaded = 0
        self._cache: OrderedDict[tuple[int, int, str], Strip] = OrderedDict()
        self._pending: list = []
        self._refresh_timer = None
        self._max_width = 0
        self.match_index: int | None = None
        self._asked_at = 0.0
        self.last_page_seconds = 0.0

    # data
    def on_mount(self) -> None:
        self.load_older()

    def load_older(self) -> None:
        if self.loading or self.reached_top:
            return
        self.loading = True
        self._asked_at = time.perf_counter()
        before = self.ids[0] if self.ids else None
        self.run_worker(lambda: self._fetch(before), thread=True, exclusive=True, group="older-page")

    def _fetch(self, before: int | None) -> None:
        records = self.page_source(before, PAGE)
        self.post_message(self.PageLoaded(records, at_top=len(records) < PAGE))

    def on_log_view_page_loaded(self, message: PageLoaded) -> None:
        first_load = not self.ids
        records = message.records
        if self.ids and records and records[-1].id >= self.ids[0]:
            records = [r for r in records if r.id < self.ids[0]]  # never twice
        added = len(records)
        self.ids = array("q", (r.id for r in records)) + self.ids
        self.stamps = array("q", (r.ts_ns for r in records)) + self.stamps
        self.streams = array("b", (STREAM_CODES[r.stream.value] for r in records)) + self.streams
        self.texts = [r.text for r in records] + self.texts
        self._cache.clear()
        self.reached_top = message.at_top
        self.loading = False
        self.pages_loaded += 1
        self.last_page_seconds = time.perf_counter() - self._asked_at  # fetch + prepend, for benchmarks
        if self.match_index is not None:
            self.match_index += added
        self._resize()
        if first_load:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        elif added:
            target = self.scroll_y + added  # keep the view still on the lines it showed
            self.call_after_refresh(self.scroll_to, y=target, animate=False, immediate=True)
        self.refresh()

    def add_lines(self, records: list) -> None:
        """Live lines (from a polling worker); refreshes are coalesced."""
        if not records:
            return
        last = self.ids[-1] if self.ids else -1
        self._pending.extend(r for r in records if r.id > last)
        if self._refresh_timer is None:
            self._refresh_timer = self.set_timer(0.08, self._flush_pending)

    def _flush_pending(self) -> None:
        self._refresh_timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        at_bottom = self.follow or self.is_vertical_scroll_end
        self.ids.extend(r.id for r in pending)
        self.stamps.extend(r.ts_ns for r in pending)
        self.streams.extend(STREAM_CODES[r.stream.value] for r in pending)
        self.texts.extend(r.text for r in pending)
        self._resize()
        if at_bottom and self.follow:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        self.refresh()

    def _resize(self) -> None:
        width = max(self._max_width, self.size.width)
        self.virtual_size = Size(width, len(self.texts))

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    @property
    def line_count(self) -> int:
        return len(self.texts)

    # scrolling
    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new < NEAR_TOP and not self.reached_top:
            self.load_older()
        if new < old:
            self.follow = False

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False)

    # rendering
    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.size.width
        if index >= len(self.texts):
            return Strip.blank(width)
        key = (index, width, self.search if index == self.match_index else "")
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render(index, width)
            self._cache[key] = strip
            if len(self._cache) > CACHE_LINES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return strip.crop(round(self.scroll_x), round(self.scroll_x) + width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def _render(self, index: int, width: int) -> Strip:
        kind = self.streams[index]
        text = self.texts[index]
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " …"
        stamp = datetime.fromtimestamp(self.stamps[index] / 1e9, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        line = Text(stamp + " ", style=TIME_STYLE, no_wrap=True)
        if kind == 2:
            line.append("[system] ", style=STYLES[2])
        body = Text.from_ansi(text, no_wrap=True) if "\x1b" in text else Text(text, no_wrap=True)
        body.stylize(STYLES[kind])
        line.append_text(body)
        if self.search and index == self.match_index:
            line.highlight_words([self.search], style=MATCH_STYLE, case_sensitive=False)
        segments = [s for s in line.render(self.app.console) if s.text != "\n"]
        self._max_width = max(self._max_width, line.cell_len)
        strip = Strip(segments or [Segment("")], line.cell_len)
        return strip.extend_cell_length(max(width, line.cell_len)).apply_style(self.rich_style)

    # search
    def find(self, needle: str, backwards: bool = True) -> bool:
        """Select the nearest line above (or below) the view holding `needle`; loaded lines only."""
        self.search = needle
        if not needle:
            self.match_index = None
            self.refresh()
            return False
        needle = needle.lower()
        start = self.match_index if self.match_index is not None else round(self.scroll_y) + self.size.height
        order = range(min(start, len(self.texts)) - 1, -1, -1) if backwards else range(start + 1, len(self.texts))
        for index in order:
            if needle in self.texts[index].lower():
                self.match_index = index
                self.follow = False
                self.scroll_to(y=max(0, index - self.size.height // 2), animate=False)
                self._cache.clear()
                self.refresh()
                return True
        return False

    def stream_name(self, index: int) -> str:
        return STREAM_NAMES[self.streams[index]]
