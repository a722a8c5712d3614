"""LogView: a job log that stays responsive on ten million lines, and reaches any line at once.

Built on the Line API (a ScrollView rendering only the visible lines), as Textualize/toolong does.
Textual's Log and RichLog keep every line as objects and freeze on large writes; here:
- the view holds a WINDOW of the log in compact columns: ids and timestamps in `array('q')`, the
  stream kind in `array('b')`, the text in one list; nothing per line beyond its string;
- it starts on the last page; scrolling near either edge of the window fetches the page beyond it
  (an exclusive worker); `g`/`G` (Home/End) replace the window with the first / last page, a
  search match outside the window with the page around it, so no line is more than one query away;
- every load carries a generation: a load overtaken by a newer jump is dropped (Home then End
  during a load ends at the end), and a prepended page moves the scroll anchor in the same update,
  so no frame shows lines from elsewhere;
- live lines arrive in batches and cause at most one refresh per 80 ms; while the window is not at
  the end of the log they only advance the line count;
- search runs in sqlite over the whole stored log (ids of matching lines), `n`/`N` walk them with
  wrap-around, matches are highlighted; `s` filters by stream (server side), `w` wraps long lines,
  otherwise left/right scroll horizontally; failure events are bold red;
- rendered lines are kept in an LRU; long lines are cut at 2,000 characters; ANSI is parsed safely.
"""

from __future__ import annotations

import re
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from datetime import datetime, timezone

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cycle.tui.widgets.log_source import STREAMS, as_source

PAGE = 500
NEAR_EDGE = 50  # fetch the next page when the view is this close to either end of the window
MAX_LINE = 2000  # characters shown of one line
STREAM_CODES = {"stdout": 0, "stderr": 1, "system": 2}
STREAM_NAMES = {v: k for k, v in STREAM_CODES.items()}
STYLES = {
    0: Style(),
    1: Style(color="red"),
    2: Style(color="grey62", italic=True),
}
FAILURE_STYLE = Style(color="red", bold=True)
TIME_STYLE = Style(color="grey50")
MATCH_STYLE = Style(bgcolor="yellow", color="black")
CURRENT_MATCH_STYLE = Style(bgcolor="dark_orange", color="black", bold=True)
CACHE_LINES = 2000
STAMP_WIDTH = 13  # "HH:MM:SS.mmm "
SYSTEM_TAG = "[system] "
# System events that mean the job (or a part of it) failed: they must not look routine.
FAILURE = re.compile(
    r"out of memory|OUT_OF_MEMORY|UPLOAD_ERROR|\bLOST\b|build failed|RESTORE_FAILED|DISK_FULL"
    r"|START_FAILED|could not start"
)


def is_failure(stream_code: int, text: str) -> bool:
    return stream_code == 2 and FAILURE.search(text) is not None


class LogView(ScrollView, can_focus=True):
    """Stdout, stderr and system lines interleaved by timestamp, newest at the bottom."""

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """
    BINDINGS = [
        Binding("up,k", "line(-1)", "Up", show=False),
        Binding("down,j", "line(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip="One page up, at once"),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("g,home", "top", "First line", show=False, tooltip="The first line of the whole log"),
        Binding("G,end", "bottom", "Last line", key_display="G", tooltip="The last line of the whole log, following"),
        Binding("left,h", "sideways(-8)", "Left", show=False),
        Binding("right,l", "sideways(8)", "Right", show=False),
        Binding("n", "match(1)", "Next match", show=False, tooltip="Next search match (wraps around)"),
        Binding("N", "match(-1)", "Previous match", show=False, tooltip="Previous search match (wraps around)"),
        Binding("w", "toggle_wrap", "Wrap", tooltip="Wrap long lines on / off (off: ← / → scroll sideways)"),
        Binding("s", "cycle_stream", "Streams", tooltip="Show all streams, then only stdout, stderr, system"),
    ]

    follow: reactive[bool] = reactive(True)
    search: reactive[str] = reactive("")

    class WindowLoaded(Message):
        """Records for the window: `kind` is tail, top, around, older or newer."""

        def __init__(
            self,
            kind: str,
            records: list,
            generation: int,
            total: int | None = None,
            first_line: int | None = None,
            target_id: int | None = None,
            complete: bool = False,
        ) -> None:
            super().__init__()
            self.kind, self.records, self.generation = kind, records, generation
            self.total, self.first_line, self.target_id, self.complete = total, first_line, target_id, complete

    class Counted(Message):
        def __init__(self, total: int | None, generation: int) -> None:
            super().__init__()
            self.total, self.generation = total, generation

    class Searched(Message):
        def __init__(self, needle: str, ids: list[int] | None, generation: int, move: bool = True) -> None:
            super().__init__()
            self.needle, self.ids, self.generation, self.move = needle, ids, generation, move

    class StatusChanged(Message):
        """The position, filter or search changed: the screen redraws its status line."""

    class SearchFinished(Message):
        def __init__(self, needle: str, found: int) -> None:
            super().__init__()
            self.needle, self.found = needle, found

    def __init__(self, source, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.source = as_source(source)
        self._clear_window()
        self.generation = 0
        self.stream: str | None = None
        self.wrap = False
        self.total: int | None = None  # lines in the (filtered) log
        self.first_line: int | None = None  # 0-based position of the window's first line
        self.tail_id = 0  # the last line id known in the (filtered) log: live lines come after it
        self.live_ready = False
        # not `loading`: that is Textual's own reactive, which covers the widget with a spinner and
        # takes its focus away, so keys pressed during a fetch were lost
        self.fetching = False
        self.pages_loaded = 0
        self.matches: list[int] = []
        self.match_pos: int | None = None
        self._cache: OrderedDict[tuple, Strip] = OrderedDict()
        self._pending: list = []
        self._refresh_timer = None
        self._max_width = 0
        self._row_starts: array | None = None  # wrap mode: the first visual row of each line
        self._rows_width = 0
        self._asked_at = 0.0
        self._owed = 0  # rows asked past the window's edge, paid when the next page lands
        self.pending_jump: str | None = None  # the window being fetched (tail, top, around)
        self.last_page_seconds = 0.0

    def _clear_window(self) -> None:
        self.ids = array("q")
        self.stamps = array("q")
        self.streams = array("b")
        self.texts: list[str] = []
        self.reached_top = False
        self.at_tail = False

    # loading
    def on_mount(self) -> None:
        self._jump("tail")

    def _jump(self, kind: str, target_id: int | None = None) -> None:
        """Replace the window (tail, top, or around a line); any load still running is overtaken."""
        self.generation += 1
        self.fetching = True
        self.pending_jump = kind
        self._asked_at = time.perf_counter()
        generation, stream = self.generation, self.stream
        self.run_worker(
            lambda: self._fetch_window(kind, generation, stream, target_id),
            thread=True,
            exclusive=True,
            group="log-window",
        )

    def _fetch_window(self, kind: str, generation: int, stream: str | None, target_id: int | None) -> None:
        source = self.source
        if kind == "tail":
            records = source.before(None, PAGE, stream)
            self.post_message(self.WindowLoaded(kind, records, generation, complete=len(records) < PAGE))
            self.post_message(self.Counted(source.position(None, stream), generation))
        elif kind == "top":
            records = source.after(0, PAGE, stream)
            self.post_message(self.WindowLoaded(kind, records, generation, first_line=0, complete=len(records) < PAGE))
        else:  # around a line (a search match)
            before = source.before(target_id + 1, PAGE // 2, stream)
            after = source.after(target_id, PAGE // 2, stream)
            first = source.position(before[0].id, stream) if before else 0
            self.post_message(
                self.WindowLoaded(
                    kind,
                    before + after,
                    generation,
                    first_line=first,
                    target_id=target_id,
                    complete=len(after) < PAGE // 2,
                )
            )

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
        generation, stream = self.generation, self.stream

        def fetch() -> None:
            records = (
                self.source.before(cursor, PAGE, stream) if kind == "older" else self.source.after(cursor, PAGE, stream)
            )
            self.post_message(self.WindowLoaded(kind, records, generation, complete=len(records) < PAGE))

        self.run_worker(fetch, thread=True, exclusive=True, group="log-page")

    def on_log_view_window_loaded(self, message: WindowLoaded) -> None:
        if message.generation != self.generation:
            return  # overtaken by a newer jump or filter
        self.fetching = False
        self.pages_loaded += 1
        self.last_page_seconds = time.perf_counter() - self._asked_at  # fetch + apply, for benchmarks
        handler = {"older": self._prepend, "newer": self._append_page}.get(message.kind, self._replace)
        handler(message)
        self._post_status()

    def _replace(self, message: WindowLoaded) -> None:
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

    def _prepend(self, message: WindowLoaded) -> None:
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
        self.texts = [r.text for r in records] + self.texts
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

    def _append_page(self, message: WindowLoaded) -> None:
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
        self.texts.extend(r.text for r in records)
        if self._row_starts is not None:
            self._row_starts = None  # rebuilt on demand

    def on_log_view_counted(self, message: Counted) -> None:
        if message.generation != self.generation or message.total is None:
            return
        self.total = message.total + len(self._pending)
        if self.at_tail:
            self.first_line = max(0, self.total - len(self.texts))
        self._post_status()

    # live lines
    def add_lines(self, records: list) -> None:
        """Live lines (from a polling worker, already filtered by stream); refreshes are coalesced."""
        records = [r for r in records if r.id > self.tail_id]
        if not records:
            return
        self.tail_id = records[-1].id
        if self.total is not None:
            self.total += len(records)
        if not self.at_tail:
            self._post_status()
            return
        self._pending.extend(records)
        if self._refresh_timer is None:
            self._refresh_timer = self.set_timer(0.08, self._flush_pending)

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

    # rows (a line is one row, or several when wrapped)
    def _line_cells(self, index: int) -> int:
        text = self.texts[index][:MAX_LINE]
        body = Text.from_ansi(text).cell_len if "\x1b" in text else cell_len(text)
        return STAMP_WIDTH + (len(SYSTEM_TAG) if self.streams[index] == 2 else 0) + body

    def _rows(self) -> array | None:
        """Wrap mode: the first visual row of each line (and the total at the end)."""
        if not self.wrap:
            return None
        width = max(1, self.scrollable_content_region.width)
        if self._row_starts is None or self._rows_width != width:
            starts, row = array("q", [0]), 0
            for index in range(len(self.texts)):
                row += max(1, -(-self._line_cells(index) // width))
                starts.append(row)
            self._row_starts, self._rows_width = starts, width
        return self._row_starts

    def _row_count(self) -> int:
        rows = self._rows()
        return rows[-1] if rows is not None else len(self.texts)

    def row_of(self, index: int) -> int:
        rows = self._rows()
        return rows[index] if rows is not None else index

    def line_at(self, row: int) -> tuple[int, int]:
        """(line index, row within the line) of a visual row."""
        rows = self._rows()
        if rows is None:
            return row, 0
        index = max(0, bisect_right(rows, row) - 1)
        return index, row - rows[index]

    def _resize(self) -> None:
        width = (
            self.scrollable_content_region.width
            if self.wrap
            else max(self._max_width, self.scrollable_content_region.width)
        )
        self.virtual_size = Size(width, self._row_count())

    def on_resize(self) -> None:
        self._row_starts = None
        self._resize()
        if self.follow and self.at_tail:
            self._set_top_row(self.max_scroll_y)

    def watch_virtual_size(self) -> None:
        self.call_after_refresh(self._stick_to_end)

    def _set_top_row(self, row: float) -> None:
        """Scroll at once (no animation) in this same update."""
        self.scroll_target_y = self.scroll_y = max(0, min(round(row), self.max_scroll_y))
        self.refresh()
        if self.follow and self.at_tail:
            self.call_after_refresh(self._stick_to_end)

    def _stick_to_end(self) -> None:
        """Following: stay on the last line when a scrollbar or a layout change moves the end."""
        if self.follow and self.at_tail and self.scroll_y != self.max_scroll_y:
            self.scroll_target_y = self.scroll_y = self.max_scroll_y
            self.refresh()

    def _show_line(self, index: int) -> None:
        self._set_top_row(
            self.row_of(min(index, max(0, len(self.texts) - 1))) - self.scrollable_content_region.height // 2
        )

    @property
    def top_index(self) -> int:
        return self.line_at(round(self.scroll_y))[0]

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    @property
    def line_count(self) -> int:
        return len(self.texts)

    @property
    def match_index(self) -> int | None:
        """The window index of the current search match (None when it is not loaded)."""
        if self.match_pos is None or not self.matches:
            return None
        target = self.matches[self.match_pos]
        index = bisect_left(self.ids, target)
        return index if index < len(self.ids) and self.ids[index] == target else None

    # scrolling and keys
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

    def watch_follow(self, follow: bool) -> None:
        if follow:
            if self.at_tail and self.pending_jump is None:
                self._set_top_row(self.max_scroll_y)
            elif self.is_mounted and self.pending_jump != "tail":
                self._jump("tail")
        self._post_status()

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

    def action_toggle_wrap(self) -> None:
        top = self.top_index
        self.wrap = not self.wrap
        self._row_starts = None
        self._cache.clear()
        self.scroll_to(x=0, animate=False, immediate=True)
        self._resize()
        self._set_top_row(self.row_of(top) if not (self.follow and self.at_tail) else self.max_scroll_y)
        self._post_status()

    def action_cycle_stream(self) -> None:
        """All, stdout, stderr, system: the window reloads from the end, filtered server side."""
        self.stream = STREAMS[(STREAMS.index(self.stream) + 1) % len(STREAMS)]
        self.total = self.first_line = None
        self.tail_id = 0
        self.live_ready = False
        self.matches, self.match_pos = [], None
        self._jump("tail")
        if self.search:
            self.find(self.search, move=False)  # the matches of the filtered log; the view stays at the end
        self._post_status()

    # search
    def find(self, needle: str, move: bool = True) -> None:
        """Search the whole stored log (in the store); the answer arrives as Searched, and the view
        goes to the first match from the top line on (`move`)."""
        self.search = needle
        self.matches, self.match_pos = [], None
        self._cache.clear()
        self.refresh()
        if not needle:
            self._post_status()
            return
        generation, stream = self.generation, self.stream
        self.run_worker(
            lambda: self.post_message(self.Searched(needle, self.source.search(needle, stream), generation, move)),
            thread=True,
            exclusive=True,
            group="log-search",
        )

    def on_log_view_searched(self, message: Searched) -> None:
        if message.needle != self.search:
            return
        ids = message.ids
        if ids is None:  # the source cannot search: the loaded lines only
            low = message.needle.lower()
            ids = [self.ids[i] for i, text in enumerate(self.texts) if low in text.lower()]
        self.matches = ids
        if not message.move:
            self._post_status()
            return
        self.post_message(self.SearchFinished(message.needle, len(ids)))
        if ids:
            here = self.ids[self.top_index] if self.ids else 0
            start = bisect_left(ids, here)
            self._go_to_match(start if start < len(ids) else 0)
        self._post_status()

    def action_match(self, step: int) -> None:
        if not self.matches:
            if self.search:
                self.find(self.search)
            return
        position = 0 if self.match_pos is None else (self.match_pos + step) % len(self.matches)  # wraps around
        self._go_to_match(position)

    def _go_to_match(self, position: int) -> None:
        self.match_pos = position
        self.follow = False
        self._cache.clear()
        index = self.match_index
        if index is not None:
            self._show_line(index)
        else:
            self._jump("around", self.matches[position])
        self._post_status()

    # status
    def _post_status(self) -> None:
        if self.is_mounted:
            self.post_message(self.StatusChanged())

    def status(self) -> str:
        """`line N of M · match k/K 'x' · follow · streams · wrap`: the most useful first, for 80 columns."""
        parts = []
        if self.texts:
            top = self.top_index
            line = f"{self.first_line + top + 1:,}" if self.first_line is not None else "?"
            total = f"{self.total:,}" if self.total is not None else "?"
            parts.append(f"line {line} of {total}")
        else:
            parts.append("no lines" + (" (loading)" if self.fetching else ""))
        if self.search:
            found = (
                f"{self.match_pos + 1}/{len(self.matches):,}"
                if self.match_pos is not None
                else f"0/{len(self.matches)}"
            )
            parts.append(f"match {found} {self.search!r}")
        parts.append(f"follow {'on' if self.follow else 'off'}")
        parts.append(f"streams: {self.stream or 'all'}")
        parts.append(f"wrap {'on' if self.wrap else 'off'}")
        return " · ".join(parts)

    # rendering
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index, sub = self.line_at(round(self.scroll_y) + y)
        if index >= len(self.texts):
            return Strip.blank(width, self.rich_style)
        current = index == self.match_index
        key = (index, self.search, current)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render(index, current)
            self._cache[key] = strip
            if len(self._cache) > CACHE_LINES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        start = sub * width if self.wrap else round(self.scroll_x)
        return strip.crop(start, start + width).extend_cell_length(width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def _render(self, index: int, current: bool) -> Strip:
        kind = self.streams[index]
        text = self.texts[index]
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " …"
        stamp = datetime.fromtimestamp(self.stamps[index] / 1e9, tz=timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        line = Text(stamp + " ", style=TIME_STYLE, no_wrap=True)
        failure = is_failure(kind, text)
        if kind == 2:
            line.append(SYSTEM_TAG, style=FAILURE_STYLE if failure else STYLES[2])
        body = Text.from_ansi(text, no_wrap=True) if "\x1b" in text else Text(text, no_wrap=True)
        body.stylize(FAILURE_STYLE if failure else STYLES[kind])
        line.append_text(body)
        if self.search:
            line.highlight_words(
                [self.search], style=CURRENT_MATCH_STYLE if current else MATCH_STYLE, case_sensitive=False
            )
        segments = [s for s in line.render(self.app.console) if s.text != "\n"]
        if line.cell_len > self._max_width and not self.wrap:
            self._max_width = line.cell_len
            self.call_after_refresh(self._resize)  # horizontal scroll reaches the longest line seen
        return Strip(segments or [Segment("")], line.cell_len).apply_style(self.rich_style)

    def stream_name(self, index: int) -> str:
        return STREAM_NAMES[self.streams[index]]
