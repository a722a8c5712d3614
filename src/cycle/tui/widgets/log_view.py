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

LogView composes one mixin per concern, each in a sibling module, so no class outgrows a reader:
log_window (the window of loaded lines), log_navigation (paging and navigation keys), log_search,
log_render (rendering and wrap) and log_live (follow mode and live lines). LogView itself keeps
what callers and Textual look up on it: BINDINGS (the `?` help and the README keys table are
generated from them), the reactives, the messages, the state, the filter and the status line.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import replace

from rich.style import Style
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cycle.tui.fit import Part, fit_line
from cycle.tui.widgets.log_live import LiveTail
from cycle.tui.widgets.log_navigation import NEAR_EDGE, LogNavigation
from cycle.tui.widgets.log_render import (
    CACHE_LINES,
    CURRENT_MATCH_STYLE,
    FAILURE,
    FAILURE_STYLE,
    MATCH_STYLE,
    MAX_LINE,
    STAMP_WIDTH,
    STYLES,
    SYSTEM_TAG,
    TIME_STYLE,
    LogRendering,
    is_failure,
)
from cycle.tui.widgets.log_search import LogSearch
from cycle.tui.widgets.log_source import MATCHES, STREAMS, LogFilter, as_source
from cycle.tui.widgets.log_window import PAGE, STREAM_CODES, STREAM_NAMES, LogWindow

# the names this module had before its concerns moved to sibling modules: callers import them from here
__all__ = [
    "CACHE_LINES",
    "CURRENT_MATCH_STYLE",
    "FAILURE",
    "FAILURE_STYLE",
    "MATCH_STYLE",
    "MAX_LINE",
    "NEAR_EDGE",
    "PAGE",
    "STAMP_WIDTH",
    "STREAM_CODES",
    "STREAM_NAMES",
    "STYLES",
    "SYSTEM_TAG",
    "TIME_STYLE",
    "LogView",
    "is_failure",
]


# when a running job's lines reach the store, as on the platform (`cycle job logs --help` says the same);
# the cadence is the one its agent recorded (Job.log_cadence_text: 600 s unless $CYCLE_LOG_CADENCE_SECONDS)
LOG_CADENCE_TEXT = "a running job's log arrives every {cadence}"

# G's help, footer tooltip and palette text: it follows new lines only while the job runs
BOTTOM = Binding("G,end", "bottom", "Last line", key_display="G", tooltip="The last line of the whole log, following")
BOTTOM_ENDED = replace(BOTTOM, tooltip="Last line of the whole log")


class LogView(LogWindow, LogNavigation, LogSearch, LogRendering, LiveTail, ScrollView, can_focus=True):
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
        BOTTOM,
        Binding("left,h", "sideways(-8)", "Left", show=False),
        Binding("right,l", "sideways(8)", "Right", show=False),
        Binding("n", "match(1)", "Next match", show=False, tooltip="Next search match (wraps around)"),
        Binding("N", "match(-1)", "Previous match", show=False, tooltip="Previous search match (wraps around)"),
        Binding("w", "toggle_wrap", "Wrap", tooltip="Wrap long lines on / off (off: ← / → scroll sideways)"),
        Binding("s", "cycle_stream", "Streams", tooltip="Filter: all, stdout, stderr, system, search matches"),
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

    class Positioned(Message):
        """How many lines come before the line `line_id` (the window's first line when asked)."""

        def __init__(self, line_id: int, position: int | None, generation: int) -> None:
            super().__init__()
            self.line_id, self.position, self.generation = line_id, position, generation

    class Searched(Message):
        def __init__(self, needle: str, ids: list[int] | None, generation: int, move: bool = True) -> None:
            super().__init__()
            self.needle, self.ids, self.generation, self.move = needle, ids, generation, move

    class StatusChanged(Message):
        """The position, filter or search changed: the screen redraws its status line."""

    def __init__(self, source, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.source = as_source(source)
        self._clear_window()
        self.generation = 0
        self.stream: str | None = None
        self.wrap = False
        self._ended = False  # the job has ended: no line will come, so there is nothing to follow
        self._cadence = "600 s"  # how often the running job's log ships (the screen sets the job's own)
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
        self.searching = False  # a search is under way in the store
        self._cache: OrderedDict[tuple, Strip] = OrderedDict()
        self._base_style_cached: Style | None = None  # rich_style until the styles change (log_render)
        self._pending: list = []
        self._refresh_timer = None
        self._max_width = 0
        self._row_starts: array | None = None  # wrap mode: the first visual row of each line
        self._rows_width = 0
        self._asked_at = 0.0
        self._owed = 0  # rows asked past the window's edge, paid when the next page lands
        self.pending_jump: str | None = None  # the window being fetched (tail, top, around)
        self.last_page_seconds = 0.0


    def show_cadence(self, cadence: str) -> None:
        """The job's log cadence as its agent recorded it (`1 s` under $CYCLE_LOG_CADENCE_SECONDS=1),
        so "no lines yet" names the wait the job really has, not always the platform's 600 s."""
        if cadence != self._cadence:
            self._cadence = cadence
            self._post_status()

    @property
    def ended(self) -> bool:
        return self._ended

    @ended.setter
    def ended(self, value: bool) -> None:
        """An ended job's G no longer says "following" (nothing will follow): in the footer's
        tooltip and the palette (this node's active bindings) and in `?` (this node's BINDINGS)."""
        if value == self._ended:
            return
        self._ended = value
        bottom = BOTTOM_ENDED if value else BOTTOM
        self.BINDINGS = [bottom if binding in (BOTTOM, BOTTOM_ENDED) else binding for binding in type(self).BINDINGS]
        for key, bindings in self._bindings.key_to_bindings.items():
            self._bindings.key_to_bindings[key] = [
                replace(binding, tooltip=bottom.tooltip) if binding.action == "bottom" else binding
                for binding in bindings
            ]
        self.refresh_bindings()
        self._post_status()  # "log ended", not "follow" (nor "no lines yet")

    def on_mount(self) -> None:
        self._jump("tail")

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    @property
    def line_count(self) -> int:
        return len(self.texts)

    @property
    def log_filter(self) -> LogFilter:
        """What the store keeps for this view: the chosen stream, or only the search's matches."""
        return LogFilter(None, self.search) if self.stream == MATCHES else LogFilter(self.stream)

    def action_cycle_stream(self) -> None:
        """All, stdout, stderr, system, then (while there is a search) only the lines matching it:
        the window reloads from the end, filtered server side."""
        choices = [choice for choice in STREAMS if choice != MATCHES or self.search]
        self.stream = choices[(choices.index(self.stream) + 1) % len(choices)]
        self._refilter()

    def _refilter(self) -> None:
        """The filter changed: reload the window from the end and recount the matches in it."""
        self.total = self.first_line = None
        self.tail_id = 0
        self.live_ready = False
        self.matches, self.match_pos = [], None
        self._jump("tail")
        if self.search:
            self.find(self.search, move=False)  # the matches of the filtered log; the view stays at the end
        self._post_status()

    # status
    def _post_status(self) -> None:
        if self.is_mounted:
            self.post_message(self.StatusChanged())

    def _empty_status(self) -> tuple[str, ...]:
        """No line to show: loading, none (an ended job), or none yet: a running job's log reaches
        storage on the platform's cadence, so its first minutes look empty though it writes (the
        why, when the line has room for it)."""
        if self.fetching:
            return ("no lines (loading)",)
        return ("no lines",) if self.ended else (f"no lines yet ({LOG_CADENCE_TEXT.format(cadence=self._cadence)})",
                                                 "no lines yet")

    def status(self, width: int | None = None) -> str:
        """`line N of M · match k/K 'x' · follow · streams · wrap` in `width` columns (fit_status):
        the search's answer is never what gets cut."""
        parts: list[StatusPart] = []
        if self.texts:
            top = self.top_index
            line = f"{self.first_line + top + 1:,}" if self.first_line is not None else "?"
            total = f"{self.total:,}" if self.total is not None else "?"
            parts.append(StatusPart(1, (f"line {line} of {total}",)))
        else:
            parts.append(StatusPart(1, self._empty_status()))
        if self.search:
            parts.append(StatusPart(0, (self.search_status(),)))
        parts.append(StatusPart(2, ("log ended" if self.ended else f"follow {'on' if self.follow else 'off'}",)))
        parts.append(StatusPart(3, (f"streams: {self.stream or 'all'}",)))
        parts.append(StatusPart(4, (f"wrap {'on' if self.wrap else 'off'}",)))
        return fit_status(parts, width)


StatusPart = Part  # (rank, forms): rank 0 is the most important; forms longest first


def fit_status(parts: list[StatusPart], width: int | None) -> str:
    """The parts, in their order, in `width` columns (None: no limit), by cycle.tui.fit: the least
    important part gives way first, its shorter forms, then the part whole; the most important one
    stays. So what the user just asked (a search's answer) is never pushed off the end by an
    explanation, and an explanation outlives `wrap off`."""
    kept = min(range(len(parts)), key=lambda index: parts[index].priority)
    parts = [replace(part, droppable=index != kept) for index, part in enumerate(parts)]
    return fit_line(parts, width)
