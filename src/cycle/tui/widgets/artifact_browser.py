"""ArtifactBrowser: a file browser over what a job has uploaded.

Enter opens a folder, Backspace leaves it, `s` sorts by name (natural: step-9 before step-10), by
size or by modified time (newest first), `d` downloads the
selected file or folder into .cycleswap/jobs/<job-name>/artifacts/ with progress. Files still
waiting in the upload queue are listed too, marked "queued". An archived job (its artifacts deleted
from storage) shows a message instead of the list. The modified times ("5s ago") count up as the
app's clock moves, changed in place (the table is not rebuilt, so the cursor and scroll stay).
The list is a RowTable: a folder of 40,000 files opens, sorts and scrolls as quickly as one of 40.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Label, ProgressBar

from cycle.api.keys import natural_key, readable_component
from cycle.sizes import human_size
from cycle.tui.pacing import Pacer
from cycle.tui.selection import keep_row
from cycle.tui.timefmt import local_zone, short_time, short_time_valid_until
from cycle.tui.widgets.row_table import CELL_PADDING, RowTable, TableColumn

# fits 80 columns after "/artifacts/  " (the tab names the folder: the hint need not)
EMPTY_HINT = "(no files yet: what the job writes there shows once uploaded)"
ENDED_EMPTY_HINT = "(none: the job ended without storing a file in /artifacts)"
SORTS = ("name", "size", "time")  # `s` goes through them in this order
SORT_LABELS = {"name": "name", "size": "size, largest first", "time": "modified time, newest first"}
# how often the shown times are checked against the clock: cheap (one comparison), and a cell that
# reads "5s ago" changes once a second, the soonest any of them can (timefmt.short_time_valid_until)
TIME_CHECK_SECONDS = 1.0
REDRAW_FACTOR = 4.0  # new artifacts redraw the table at most a fifth of the time (cycle.tui.pacing)


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    size: int
    queued: bool
    path: str  # full relative path (folders end without '/')
    mtime_ns: int = 0  # when the file was last written, as the platform recorded it (a folder: its newest file)


def entries_in(folder: str, stored: dict[str, int], queued: set[str],
               mtimes: dict[str, int] | None = None) -> list[Entry]:
    """The files and folders directly inside `folder` ('' for the top); `mtimes`: path -> modified
    time of the stored files (queued files have none yet)."""
    mtimes = mtimes or {}
    prefix = f"{folder}/" if folder else ""
    found: dict[str, Entry] = {}
    for path, size in [*stored.items(), *((q, 0) for q in queued if q not in stored)]:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        head, sep, _ = rest.partition("/")
        mtime = mtimes.get(path, 0)
        if sep:
            old = found.get(head)
            total = (old.size if old else 0) + size
            found[head] = Entry(head, True, total, (old.queued if old else False) or path in queued, prefix + head,
                                max(old.mtime_ns if old else 0, mtime))
        else:
            found[head] = Entry(head, False, size, path in queued, path, mtime)
    return list(found.values())


def sort_entries(entries: list[Entry], by: str) -> list[Entry]:
    """Folders first, then by name (natural order), by size (largest first) or by modified time
    (newest first: the latest checkpoint on top; files without a time yet, still queued, last)."""
    if by == "size":
        return sorted(entries, key=lambda e: (not e.is_dir, -e.size, natural_key(e.name)))
    if by == "time":
        return sorted(entries, key=lambda e: (not e.is_dir, -e.mtime_ns, natural_key(e.name)))
    return sorted(entries, key=lambda e: (not e.is_dir, natural_key(e.name)))


def row_times_valid_until(entries: list[Entry], now_ns: int, zone=None) -> list[int]:
    """For each entry, the instant its modified time reads differently from how it reads at `now_ns`
    (2**63 for the `..` row, which shows none)."""
    return [2**63 if e.name == ".." else short_time_valid_until(e.mtime_ns, now_ns, zone) for e in entries]


ARCHIVED_TEXT = (
    "This job is archived: `cycle job archive` deleted its artifacts from storage. Its record and log are kept"
    " (the Logs tab)."
)
# the keys that act on stored files: an archived job has none, so they are not offered (check_action)
# and pressing one says why (refusal)
FILE_ACTIONS = frozenset({"open", "up", "toggle_sort", "download"})


NAME_MIN = 12  # the name column keeps this many cells however narrow the screen
SCROLLBAR = 2  # cells: Textual's vertical scroll bar (one cell less put a horizontal bar under long names)
LABELS = ("name", "size", "modified", "status")  # the columns, each keyed by its label
MODIFIED = LABELS.index("modified")


def name_room(screen_width: int, other_widths: list[int]) -> int:
    """The cells the name column may take so size, modified and status stay on screen (each column
    has a cell of padding on either side, and the scroll bar takes SCROLLBAR cells); unlimited
    before the widget has a width."""
    if screen_width <= 0:
        return 10**6
    return max(NAME_MIN, screen_width - sum(other_widths) - CELL_PADDING * (len(other_widths) + 1) - SCROLLBAR)


def cut(name: str, width: int) -> str:
    """`name` in at most `width` cells: a longer one keeps its start and its end (a checkpoint's
    step number and extension), with "…" between."""
    if len(name) <= width:
        return name
    tail = max(1, (width - 1) // 3)
    return name[:width - 1 - tail] + "…" + name[-tail:]


class ArchivedNotice(Label, can_focus=True):
    """The archived job's explanation. It takes the focus the hidden table cannot, so the browser's
    keys still reach the browser, which says why they do nothing here."""


class ArtifactBrowser(Vertical):
    BINDINGS = [
        # priority: the focused table's own Enter (hidden) would otherwise shadow Open in the footer
        Binding("enter", "open", "Open", priority=True),
        Binding("backspace", "up", "Up"),
        Binding("s", "toggle_sort", "Sort", tooltip="Sort by name, by size or by modified time (newest first)"),
        # the path in two parts of 16 characters, not one of 32: each stays whole in the `?` help's 21-column
        # description at 80x24, where one part would break mid-path
        Binding("d", "download", "Download",
                tooltip="Download the file or folder to <job>/artifacts/ under .cycleswap/jobs/"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("g", "edge(0)", "First", show=False),
        Binding("G", "edge(1)", "Last", show=False),
    ]

    folder: reactive[str] = reactive("")
    sort_by: reactive[str] = reactive("name")

    class DownloadRequested(Message):
        def __init__(self, paths: list[str]) -> None:
            super().__init__()
            self.paths = paths

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.stored: dict[str, int] = {}
        self.mtimes: dict[str, int] = {}
        self.queued: set[str] = set()
        self.rows: list[Entry] = []
        self.archived = False
        self.ended = False  # the job ended: no file comes any more (the empty folder's hint says so)
        self.times_valid_until = 0  # the shown modified times read right until this instant (ns)
        self._rows_valid_until: list[int] = []  # each row's own such instant (refresh_times)
        self._status_timer: Timer | None = None  # clears the status line's last word
        self._laid_out_for = 0  # the width the columns were last laid out for (on_resize)
        # new artifacts redraw the table only while it shows, and paced by the redraw's cost (a
        # folder of 40,000 files takes seconds): the keys, the header and the log go on meanwhile
        self.shown = True
        self._stale = False
        self._redraws = Pacer(factor=REDRAW_FACTOR)
        self._redraw_timer: Timer | None = None
        # keys that move or open, typed before the job's first listing was drawn (the tab opens at
        # once, its rows come a poll later, and a listing that came while the tab was hidden is
        # drawn only as the tab shows, after the keys typed right behind Tab): replayed in order
        # once it is, as a terminal would have
        self._received = False  # a listing came (set_artifacts)
        self._listed = False  # and the table shows it
        self._typed_ahead: list[Callable[[], None]] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="artifact-path")
        yield ArchivedNotice(ARCHIVED_TEXT, id="artifacts-archived")
        yield RowTable(id="artifact-table")
        yield ProgressBar(id="download-progress", show_eta=False)
        yield Label("", id="download-status")

    def on_mount(self) -> None:
        self.query_one(RowTable).hold_moves = self._typed_before_the_listing  # its keys too (arrows, pages)
        self.query_one(ProgressBar).display = False
        self.redraw()
        self.set_interval(TIME_CHECK_SECONDS, self.refresh_times)

    def on_resize(self) -> None:
        """The name column is cut to the width: a new width lays the columns out again."""
        if self._laid_out_for != self.size.width:
            self._laid_out_for = self.size.width
            self.redraw()

    def set_artifacts(self, stored: dict[str, int], queued: set[str], archived: bool = False,
                      mtimes: dict[str, int] | None = None, ended: bool = False) -> None:
        """What the job has: path -> size of the stored files, the queued paths, and (from the
        artifact records) path -> modified time; whether it ended."""
        mtimes = mtimes or {}
        self._received = True
        if (stored == self.stored and queued == self.queued and archived == self.archived and mtimes == self.mtimes
                and ended == self.ended):
            if not self._stale:  # (a job with no files: the empty table drawn at first is its listing;
                self._listed = True  # a listing that came while hidden is drawn only when the tab shows)
                self._replay_typed_ahead()
            return
        newly_archived = archived and not self.archived
        self.stored, self.queued, self.archived, self.mtimes, self.ended = stored, queued, archived, mtimes, ended
        self._stale = True
        if newly_archived:
            self.redraw()
        else:
            self._redraw_when_due()
        if newly_archived:
            self.refresh_bindings()  # the file keys leave the footer
            if self.has_focus_within:  # the table goes: its focus to the notice, so keys still reach here
                self.focus_target().focus()

    def set_shown(self, shown: bool) -> None:
        """Whether the browser's tab shows: news that came while it did not is drawn on showing
        (once: the tab's activation may be told again while it shows)."""
        was, self.shown = self.shown, shown
        if shown and not was and self._stale:
            self.redraw()

    def _redraw_when_due(self) -> None:
        """Draw the newest artifacts now if the browser shows and its pace allows, else once it
        does (a timer; showing the tab draws at once)."""
        if not self.shown or not self._stale:
            return
        now = time.monotonic()
        if self._redraws.ready(now):
            self.redraw()
        elif self._redraw_timer is None:
            self._redraw_timer = self.set_timer(self._redraws.due - now, self._paced_redraw)

    def _paced_redraw(self) -> None:
        self._redraw_timer = None
        self._redraw_when_due()

    def focus_target(self):
        """What takes the keys when the tab shows: the table, or the notice of an archived job."""
        return self.query_one(ArchivedNotice if self.archived else RowTable)

    def redraw(self, to_top: bool = False) -> None:
        """Fill the table, keeping the selection on the same file. `to_top` (a new sort order):
        show the top of the list, where the order starts, and keep the selection only if it is
        among the rows shown there, else select the first row."""
        started = time.monotonic()
        self._stale = False
        try:
            self._fill_table(to_top)
        finally:
            self._redraws.ran(started, time.monotonic())
        self._listed = self._received
        self._replay_typed_ahead()

    def _fill_table(self, to_top: bool) -> None:
        table = self.query_one(RowTable)
        self.query_one("#artifacts-archived", Label).display = self.archived
        table.display = not self.archived
        self.query_one("#artifact-path", Label).display = not self.archived
        if self.archived:
            self.rows = []
            return
        keep, selected = table.cursor_row, self.selected()
        self.rows = sort_entries(entries_in(self.folder, self.stored, self.queued, self.mtimes), self.sort_by)
        if self.folder:
            self.rows.insert(0, Entry("..", True, 0, False, self.folder.rpartition("/")[0]))
        now, zone = self._now(), self._zone()
        cells = [self._cells(entry, now, zone) for entry in self.rows]
        # the modified column is never narrower than its label (8), wider than any short_time (7): a time
        # that changes in place always fits
        widths = [max([len(label), *(len(row[index]) for row in cells)]) for index, label in enumerate(LABELS)]
        widths[0] = min(widths[0], name_room(self.size.width, widths[1:]))
        cells = [(cut(row[0], widths[0]), *row[1:]) for row in cells]
        columns = [TableColumn(label, label, width, index) for index, (label, width) in enumerate(zip(LABELS, widths))]
        table.set_rows(columns, [self._key(entry) for entry in self.rows], cells)
        if self.rows:
            key = None if selected is None else self._key(selected)
            row = keep_row(table, key, keep)
            if to_top:
                table.show_top(row)
            else:
                table.move_cursor(row=row)
        count = len(self.rows) - (1 if self.folder else 0)
        listing = (f"({count:,} {'entry' if count == 1 else 'entries'}, sorted by {SORT_LABELS[self.sort_by]})"
                   if count else ENDED_EMPTY_HINT if self.ended else EMPTY_HINT)
        readable = "/".join(readable_component(part) for part in self.folder.split("/")) if self.folder else ""
        folder = f"/artifacts/{readable}{'/' if self.folder else ''}"
        self.query_one("#artifact-path", Label).update(f"{folder}  {listing}")
        self._rows_valid_until = row_times_valid_until(self.rows, now, zone)
        self.times_valid_until = min(self._rows_valid_until, default=2**63)

    def _typed_before_the_listing(self, action: Callable[[], None]) -> bool:
        """Keep `action` for the first listing when none came yet (True: kept)."""
        if self._listed:
            return False
        self._typed_ahead.append(action)
        return True

    def _replay_typed_ahead(self) -> None:
        """The keys typed ahead, once the first listing is in the table (after the redraw that
        drew it; an Enter among them opens a folder, whose own listing is drawn before the next key)."""
        if not self._listed or not self._typed_ahead:
            return
        typed, self._typed_ahead = self._typed_ahead, []
        for action in typed:
            action()

    def _cells(self, entry: Entry, now: int, zone) -> tuple[str, str, str, str]:
        """An entry's row: its name (a folder's ends in "/"), size ("-" while a file is queued),
        modified time and status."""
        if entry.name == "..":
            return "..", "", "", ""
        name = readable_component(entry.name) + ("/" if entry.is_dir else "")
        size = "-" if entry.queued and not entry.is_dir else human_size(entry.size)
        return name, size, self._modified(entry, now, zone), "queued" if entry.queued else "stored"

    @staticmethod
    def _key(entry: Entry) -> str:
        """A row's key: the entry's path, ".." for the row that leads up (its path is the folder above)."""
        return ".." if entry.name == ".." else entry.path

    def _now(self) -> int:
        """The app's clock (tests inject one), else the system's."""
        return (getattr(self.app, "clock", None) or time.time_ns)()

    def _zone(self):
        """The app's zone (tests fix one), else the terminal's: resolved once per listing, not per row."""
        return getattr(self.app, "zone", None) or local_zone()

    @staticmethod
    def _modified(entry: Entry, now: int, zone) -> str:
        return "" if entry.name == ".." else short_time(entry.mtime_ns, now, zone)

    def refresh_times(self) -> None:
        """Once the clock passed the instant a shown time reads differently ("5s ago" -> "6s ago",
        "59m ago" -> "14:02"), change those cells in place: no rebuild of the table, so the cursor
        and the scroll stay, and a finished job's times keep counting with no new listing. Only the
        rows whose own time is due are formatted again (each row knows until when its time reads
        right): a folder of 40,000 files formatted every row every second while any one ticked."""
        now = self._now()
        if now < self.times_valid_until or not self.rows:
            return
        table, zone, valid = self.query_one(RowTable), self._zone(), self._rows_valid_until
        changed = {}
        for index in [i for i, until in enumerate(valid) if until <= now]:
            entry, row = self.rows[index], table.cells[index]
            if row[MODIFIED] != (text := self._modified(entry, now, zone)):
                changed[self._key(entry)] = (*row[:MODIFIED], text, *row[MODIFIED + 1:])
            valid[index] = short_time_valid_until(entry.mtime_ns, now, zone)
        table.update_rows(changed)
        self.times_valid_until = min(valid, default=2**63)

    def watch_folder(self) -> None:
        if self.is_mounted:
            self.query_one(RowTable).move_cursor(row=0)
            self.redraw()
            self.refresh_bindings()  # Up applies inside a folder only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Up shows in the footer and works only inside a folder (the top has nothing above it); an
        archived job has no files, so none of the file keys shows or works (`refusal` says why)."""
        if self.archived and action in FILE_ACTIONS:
            return False
        return bool(self.folder) if action == "up" else True

    def refusal(self, action: str) -> str | None:
        """Why `action`'s key does nothing here (None: it works, or there is nothing to say): read by
        cycle.tui.keys.refusal when a key whose action check_action turned off is pressed anyway."""
        if self.archived and action in FILE_ACTIONS:
            name = getattr(self.screen, "job_name", "this job")
            return (f"{name} is archived: `cycle job archive` deleted its artifacts from storage, so there is "
                    "nothing to open, sort or download (its record and log are kept)")
        return None

    def watch_sort_by(self) -> None:
        if self.is_mounted:
            self.redraw(to_top=True)

    def selected(self) -> Entry | None:
        table = self.query_one(RowTable)
        return self.rows[table.cursor_row] if self.rows and table.cursor_row < len(self.rows) else None

    def action_open(self) -> None:
        if self._typed_before_the_listing(self.action_open):
            return
        entry = self.selected()
        if entry is not None and entry.is_dir:
            self.folder = entry.path

    def on_row_table_clicked(self, event: RowTable.Clicked) -> None:
        event.stop()
        if event.open:
            self.action_open()

    def action_cursor(self, step: int) -> None:
        self.query_one(RowTable).action_step(step)

    def action_edge(self, last: int) -> None:
        self.query_one(RowTable).action_edge(last)

    def action_up(self) -> None:
        if self.folder:
            self.folder = self.folder.rpartition("/")[0]

    def action_toggle_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]

    def action_download(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        if entry.name == "..":
            self.notify("d downloads the highlighted file or folder; `..` is the folder above (Enter or Backspace "
                        "goes there): move to a file or folder to download it")
            return
        if entry.is_dir:
            paths = [p for p in self.stored if p.startswith(entry.path + "/")]
        else:
            paths = [entry.path] if entry.path in self.stored else []
        if not paths:
            self.show_status(f"{entry.name} is still queued: nothing stored to download yet", lasting=False)
            return
        self.post_message(self.DownloadRequested(paths))

    def show_progress(self, done: int, total: int, text: str) -> None:
        """A download's progress (it stays while the download runs), then its summary (it goes)."""
        bar = self.query_one(ProgressBar)
        bar.display = done < total
        bar.update(total=total, progress=done)
        self.show_status(text, lasting=done < total)

    def show_status(self, text: str, *, lasting: bool) -> None:
        """The line under the table. A final word (a download's summary, "still queued") goes after
        the app's notice timeout (Textual's 5 s), as a toast does, instead of staying until the
        next download replaces it; the timer of an earlier word never clears a newer one."""
        if self._status_timer is not None:
            self._status_timer.stop()
            self._status_timer = None
        status = self.query_one("#download-status", Label)
        status.update(text)
        if not lasting:
            self._status_timer = self.set_timer(self.app.NOTIFICATION_TIMEOUT, lambda: status.update(""))
