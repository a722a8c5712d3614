"""Rendering and wrap for LogView: only the visible lines become strips, as Textualize/toolong does.

A mixin of LogView (one concern per module, so no class outgrows a reader). A line is one visual row,
or several when `w` wraps it (the first row of each line is kept in an `array('q')`, rebuilt on
demand); rendered lines are kept in an LRU; long lines are cut at 2,000 characters; ANSI is parsed
safely; failure events are bold red, search matches highlighted.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from cycle.tui.timefmt import clock
from cycle.tui.widgets.log_window import STREAM_NAMES

MAX_LINE = 2000  # characters shown of one line
STYLES = {
    0: Style(),
    1: Style(color="red"),
    2: Style(color="grey62", italic=True),
}
FAILURE_STYLE = Style(color="red", bold=True)
TIME_STYLE = Style(color="grey50")
# Search matches in pale yellow, the current one in orange (as less and vim set it apart). Not the
# ANSI "yellow": Textual's default theme (and many terminals') draws it orange, like the current one.
MATCH_STYLE = Style(bgcolor="#ffd75f", color="black")
CURRENT_MATCH_STYLE = Style(bgcolor="dark_orange", color="black", bold=True)
CACHE_LINES = 2000
STAMP_WIDTH = 13  # "HH:MM:SS.mmm "
SYSTEM_TAG = "[system] "
# Lines a terminal would not show as their characters: ANSI escapes, carriage returns (progress bars),
# and other control characters (a backspace spinner, a bell), which rich's Text parses or drops.
NEEDS_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# System events that mean the job (or a part of it) failed: they must not look routine.
FAILURE = re.compile(
    r"out of memory|OUT_OF_MEMORY|UPLOAD_ERROR|\bLOST\b|build failed|RESTORE_FAILED|DISK_FULL"
    r"|START_FAILED|could not start"
)


def as_terminal_shows(text: str) -> Text:
    """A log line as a terminal shows it: ANSI colours parsed, and each carriage return (a progress
    bar redrawing itself: tqdm, pip, curl) back at the line's start, so the text after it overwrites
    what was there instead of every frame showing side by side. `cycle job logs` keeps the bytes,
    as `docker logs` does; a terminal it prints to does the same overwriting."""
    shown = Text("", no_wrap=True)
    for part in text.split("\r"):
        frame = Text.from_ansi(part, no_wrap=True) if "\x1b" in part else Text(part, no_wrap=True)
        shown = Text.assemble(frame, shown[len(frame):], no_wrap=True) if len(shown) > len(frame) else frame
    return shown


def is_failure(stream_code: int, text: str) -> bool:
    return stream_code == 2 and FAILURE.search(text) is not None


class LogRendering:
    """Visual rows (wrap on or off), the virtual size, and the strip of each visible row."""

    # rows (a line is one row, or several when wrapped)
    def _line_cells(self, index: int) -> int:
        text = self.texts[index][:MAX_LINE]
        body = as_terminal_shows(text).cell_len if NEEDS_TEXT.search(text) else cell_len(text)
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

    def action_toggle_wrap(self) -> None:
        top = self.top_index
        self.wrap = not self.wrap
        self._row_starts = None
        self._cache.clear()
        self.scroll_to(x=0, animate=False, immediate=True, force=True)  # even while a relayout hides the scrollbar
        self._resize()
        self._set_top_row(self.row_of(top) if not (self.follow and self.at_tail) else self.max_scroll_y)
        self._post_status()

    # rendering
    @property
    def _base_style(self) -> Style:
        """The widget's rich_style, computed once until the styles change (notify_style_update):
        Textual works it out from every ancestor's styles on each read, and reading it twice a
        line was most of a screen's render."""
        if self._base_style_cached is None:
            self._base_style_cached = self.rich_style
        return self._base_style_cached

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index, sub = self.line_at(round(self.scroll_y) + y)
        base = self._base_style
        if index >= len(self.texts):
            return Strip.blank(width, base)
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
        return strip.crop(start, start + width).extend_cell_length(width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style_cached = None
        self._cache.clear()

    def _render(self, index: int, current: bool) -> Strip:
        """One line's strip: its time grey, a system event's tag, the text in its stream's style (a
        failure event bold red). A plain line (no ANSI, no carriage return, no search) is built as
        segments directly, most lines of every screen: rich's Text machinery (spans, style
        stacks) cost ~0.1 ms a line, the screen's whole budget at 40 lines."""
        kind = self.streams[index]
        text = self.texts[index]
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " …"
        stamp = clock(self.stamps[index], getattr(self.app, "zone", None)) + " "  # the zone the job header names
        failure = is_failure(kind, text)
        tag = [Segment(SYSTEM_TAG, FAILURE_STYLE if failure else STYLES[2])] if kind == 2 else []
        body_style = FAILURE_STYLE if failure else STYLES[kind]
        if self.search or NEEDS_TEXT.search(text):
            segments, cells = self._styled(stamp, tag, text, body_style, current)
        else:
            segments = [Segment(stamp, TIME_STYLE), *tag, Segment(text, body_style or None)]
            cells = cell_len(stamp) + (len(SYSTEM_TAG) if tag else 0) + cell_len(text)
        if cells > self._max_width and not self.wrap:
            self._max_width = cells
            self.call_after_refresh(self._resize)  # horizontal scroll reaches the longest line seen
        return Strip(segments, cells).apply_style(self._base_style)

    def _styled(self, stamp: str, tag: list[Segment], text: str, body_style: Style,
                current: bool) -> tuple[list[Segment], int]:
        """A line with ANSI colours, carriage returns, other control characters or search matches,
        through rich's Text."""
        line = Text(no_wrap=True)
        line.append(stamp, style=TIME_STYLE)  # a span, not the Text's base style: that would grey the whole line
        for segment in tag:
            line.append(segment.text, style=segment.style)
        body = as_terminal_shows(text) if NEEDS_TEXT.search(text) else Text(text, no_wrap=True)
        body.stylize(body_style)
        line.append_text(body)
        if self.search:
            line.highlight_words(
                [self.search], style=CURRENT_MATCH_STYLE if current else MATCH_STYLE, case_sensitive=False
            )
        segments = [s for s in line.render(self.app.console) if s.text != "\n"]
        return segments or [Segment("")], line.cell_len

    def stream_name(self, index: int) -> str:
        return STREAM_NAMES[self.streams[index]]
