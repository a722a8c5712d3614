"""The jobs screen: a live table of jobs, k9s-style keys, `/` filter, Enter opens a job.

One Platform call per refresh (job_summaries: every listed job with its stored file count), made
with the rows' text in the worker thread; the screen's thread then replaces only the rows whose
text changed (with 10,000 jobs a second's refresh is the running jobs' durations) and the
RowTable renders only the visible rows. When the terminal is narrow a long job or project name is
shortened first (with an ellipsis; the filter and the job screen keep the full name), then columns
give way by priority (the name and the state always stay)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import tzinfo

from rich.markup import escape
from rich.style import Style
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from cycle.api import Job, JobState, JobSummary, Platform
from cycle.api.wording import machine_shown
from cycle.tui.jobinfo import STATE_COLOURS, duration
from cycle.tui.selection import keep_row
from cycle.tui.timefmt import short_time, short_time_valid_until, zone_label
from cycle.tui.widgets.key_footer import KeyFooter
from cycle.tui.widgets.row_table import CELL_PADDING, RowTable, TableColumn
from cycle.tui.widgets.static_text import show

REFRESH_SECONDS = 1.0
LIST_LIMIT = 10_000


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    gives_way: int  # 0: never; higher numbers give way first on a narrow terminal


COLUMNS = (
    Column("name", "name", 0),
    Column("state", "state", 0),
    Column("reason", "reason", 2),
    Column("project", "project", 5),
    Column("machine", "machine", 6),
    Column("started", "started", 3),
    Column("duration", "duration", 4),
    Column("files", "stored / queued", 7),
)

NAME_MIN = 12  # a shortened job name keeps at least this many cells (enough to tell jobs apart)
PROJECT_MAX = 16  # a project name is cut to this when the columns do not fit
PRIORITY_GIVES_WAY = 4  # state, reason, started and duration: kept before a long name's full width

EMPTY_HINT = "No jobs yet: run `cycle project test` in a project folder (or `cycle job queue PROJECT`); they show here."


@dataclass(frozen=True)
class Listing:
    """One refresh's list, made in the worker thread: the jobs, their rows, the rows' keys, how many run."""

    jobs: list[Job]
    rows: list[tuple[str, ...]]
    keys: list[str]
    running: int


def job_row(summary: JobSummary, now_ns: int, zone: tzinfo | None = None) -> tuple[str, ...]:
    """The cells of one job, in COLUMNS order (plain strings: a changed cell is found by ==)."""
    job = summary.job
    return (job.name, job.state.value, job.reason or "", job.project, machine_shown(job.state, job.machine),
            short_time(job.started_ns, now_ns, zone), duration(job, now_ns), files_cell(summary))


def files_cell(summary: JobSummary) -> str:
    """The stored / queued column: `archived` for a job whose files `cycle job archive` deleted (as
    `job status` marks it), where `0 / 0` would read as a job that stored nothing."""
    return "archived" if summary.job.archived else f"{summary.artifacts} / {summary.job.queue_len}"


def fit_columns(widths: dict[str, int], room: int) -> tuple[str, ...]:
    """The columns to show in `room` cells: those that give way first are dropped until the rest fit."""
    shown = list(COLUMNS)
    for column in sorted(COLUMNS, key=lambda c: -c.gives_way):
        if sum(widths[c.key] + CELL_PADDING for c in shown) <= room or not column.gives_way:
            break
        shown.remove(column)
    return tuple(c.key for c in shown)


def shorten_to_fit(widths: dict[str, int], room: int) -> dict[str, int]:
    """The widths to show in `room` cells: when the columns do not fit, the project is held to
    PROJECT_MAX and the name takes only what the priority columns (state, reason, started, duration)
    leave, but at least NAME_MIN, so one long name cannot push them off the screen."""
    if sum(w + CELL_PADDING for w in widths.values()) <= room:
        return widths
    fitted = dict(widths, project=min(widths["project"], PROJECT_MAX))
    priority = sum(fitted[c.key] + CELL_PADDING for c in COLUMNS
                   if c.key != "name" and c.gives_way <= PRIORITY_GIVES_WAY)
    fitted["name"] = min(widths["name"], max(NAME_MIN, room - priority - CELL_PADDING))
    return fitted


def column_widths(rows: list[tuple[str, ...]]) -> dict[str, int]:
    """Each column's width: its longest cell or label."""
    widths = {}
    for i, column in enumerate(COLUMNS):
        widths[column.key] = max(len(column.label), max((len(row[i]) for row in rows), default=0))
    return widths


WAITING_REASONS = ("WAITING_FOR_MACHINE", "WAITING_FOR_SCHEDULER", "REASSIGNED_FROM_")
"""A PENDING job's reasons that say it waits for a machine, as it should: not a failure."""


def cell_style(column: str, cell: str) -> Style:
    """A state in its colour, a failure's reason in bold red (OUT_OF_MEMORY must not read as routine),
    a waiting job's reason in PENDING's colour (WAITING_FOR_MACHINE is no failure)."""
    if column == "state":
        return Style.parse(STATE_COLOURS.get(cell, "white"))
    if column == "reason" and cell.startswith(WAITING_REASONS):
        return Style.parse(STATE_COLOURS["PENDING"])
    if column == "reason" and cell and not cell.startswith("CANCELLED"):
        return Style(color="red", bold=True)
    return Style()


def matches(job: Job, needle: str) -> bool:
    return not needle or needle in f"{job.name} {job.project} {job.state.value} {job.reason or ''}".lower()


def fit_context(count: str, running: int, zone: str, needle: str, room: int | None) -> str:
    """The jobs list's header in `room` cells (None: the fullest), by cycle.tui.fit: on a narrow
    terminal "? for keys", "emulator" and the running count give way before the zone of the times is
    cut (the list's times are in it); the filter shown while one is typed goes only after those."""
    from rich.text import Text

    from cycle.tui.fit import Part, fit_line

    filtering = [Part(2, (f"filter: [b]{escape(needle)}[/b]",))] if needle else []
    parts = [Part(0, ("[b]cycle[/b]",), droppable=False), Part(4, ("emulator",)),
             Part(0, (f"{count} jobs",), droppable=False), Part(3, (f"{running} running",)),
             Part(0, (f"times {zone}", zone), droppable=False), *filtering, Part(5, ("[dim]? for keys[/dim]",))]
    return fit_line(parts, room, cells=lambda form: Text.from_markup(form).cell_len)


SHOWN_IN = ("#context", "#jobs-hint", "#jobs", "#filter")
"""The widgets JobsScreen._show reads or fills: all there, or the listing is dropped."""


class JobsScreen(Screen):
    DEFAULT_CSS = """
    #jobs-hint {
        height: auto;
        padding: 0 1;
        color: $warning;
    }
    """
    BINDINGS = [
        Binding("j,down", "cursor(1)", "Down", show=False),
        Binding("k,up", "cursor(-1)", "Up", show=False),
        Binding("g", "edge(0)", "First", show=False),
        Binding("G", "edge(1)", "Last", show=False),
        Binding("enter", "open", "Open", tooltip="Open the highlighted job"),
        # priority: the box takes the focus before the next key of a burst (`/oom` typed at once)
        Binding("slash", "filter", "Filter", tooltip="Filter by name, project, state or reason", priority=True),
        Binding("r", "refresh", "Refresh", tooltip="Refresh the list now (on a job: reassign)"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, platform: Platform, clock=time.time_ns, select: str | None = None) -> None:
        super().__init__()
        self.platform = platform
        self.clock = clock
        self.wanted = select  # a job to highlight once it is listed (`cycle tui JOB`)
        self.listed = Listing([], [], [], 0)
        self.jobs: list[Job] = []
        self.shown: list[Job] = []
        # name -> (summary, cells, until when the cells stay right): a row cache
        self._rows: dict[str, tuple[JobSummary, tuple[str, ...], int]] = {}
        self._columns: tuple[str, ...] = ()
        self._widths: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="context")
        yield Static("", id="jobs-hint")  # above the table: read first when nothing is listed
        yield RowTable(id="jobs")
        yield Input(placeholder="filter: name, project, state or reason (enter to apply, escape to clear)",
                    id="filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(RowTable).styler = cell_style
        self.query_one("#filter", Input).display = False
        self.query_one("#jobs-hint", Static).display = False
        self.action_refresh()
        self.set_interval(REFRESH_SECONDS, self.action_refresh)

    def action_refresh(self) -> None:
        self.run_worker(self._load, thread=True, exclusive=True, group="jobs")

    def _load(self) -> None:
        self.app.call_from_thread(self._show, self.listing())

    def listing(self) -> Listing:
        """In the worker thread: the one query, and each row's cells (cached: only rows whose text
        changed are new objects, so the screen finds them by identity), so the screen's own thread
        only compares and paints."""
        summaries = self.platform.job_summaries(LIST_LIMIT)  # one call, whatever the number of jobs
        now = self.clock()
        rows = [self._row(s, now) for s in summaries]
        jobs = [s.job for s in summaries]
        return Listing(jobs, rows, [row[0] for row in rows], sum(1 for j in jobs if j.state is JobState.RUNNING))

    def _show(self, listing: Listing | None = None) -> None:
        if len(self.query(", ".join(SHOWN_IN))) < len(SHOWN_IN):  # the app is quitting: the screen's widgets go
            return  # one by one (the context line first), and the worker's listing came meanwhile
        if listing is not None:
            self.listed = listing
        listed = self.listed
        self.jobs = listed.jobs
        needle = self.needle()
        selected = self.wanted or self.selected_name()  # before the list changes
        if listed.keys:
            self.wanted = None  # asked once, on the first list; from here the selection follows the keys
        if needle:
            picked = [i for i, job in enumerate(listed.jobs) if matches(job, needle)]
            self.shown, rows = [listed.jobs[i] for i in picked], [listed.rows[i] for i in picked]
            keys = [row[0] for row in rows]
        else:
            self.shown, rows, keys = listed.jobs, listed.rows, listed.keys
        self._fill(rows, keys, selected)
        self._show_context(needle)

    def _row(self, summary: JobSummary, now: int) -> tuple[str, ...]:
        """The job's cells, the cached tuple itself while nothing they show can have changed."""
        name = summary.job.name
        cached = self._rows.get(name)
        if cached is not None and now < cached[2] and cached[0] == summary:
            return cached[1]
        cells = job_row(summary, now, self.app.zone)
        if cached is not None and cached[1] == cells:
            cells = cached[1]  # the same text: the same object, so the screen skips the row
        job = summary.job
        final = job.state.is_final  # a running job's duration ticks every second
        valid_until = short_time_valid_until(job.started_ns, now, self.app.zone) if final else now
        self._rows[name] = (summary, cells, valid_until)
        return cells

    def _fill(self, rows: list[tuple[str, ...]], keys: list[str], selected: str | None) -> None:
        """Make the table show `rows`: only the rows that changed when the same jobs are listed in
        the same order (a second's refresh), every row when jobs came, went or the filter changed."""
        table = self.query_one(RowTable)
        if keys == table.keys and self._columns:
            changed = {row[0]: row for row, old in zip(rows, table.cells) if row is not old}
            if all(len(row[i]) <= self._widths[c.key] for row in changed.values()
                   for i, c in enumerate(COLUMNS) if c.key in self._columns):
                table.update_rows(changed)
                return
        widths = column_widths(rows)
        room = (table.size.width or self.app.size.width) - 2  # less the scrollbar
        shown = shorten_to_fit(widths, room)
        columns = fit_columns(shown, room)
        self._columns, self._widths = columns, widths
        table.set_rows([TableColumn(c.key, c.label, shown[c.key], i) for i, c in enumerate(COLUMNS)
                        if c.key in columns], list(keys), list(rows))
        if rows:
            table.move_cursor(row=keep_row(table, selected, table.cursor_row))

    def on_resize(self) -> None:
        """A narrower or wider terminal: choose the columns again."""
        if self._columns:
            self._columns = ()
            self._show()

    def _show_context(self, needle: str) -> None:
        running = self.listed.running
        count = f"{len(self.shown)} of {len(self.jobs)}" if needle else f"{len(self.jobs)}"
        context = self.query_one("#context", Static)
        show(context, fit_context(count, running, zone_label(self.app.zone), needle,
                                  context.content_region.width or None), fixed_size=True)
        hint = self.query_one("#jobs-hint", Static)
        hint.display = not self.shown
        if not self.jobs:
            show(hint, escape(EMPTY_HINT))
        elif not self.shown:
            show(hint, f"No job matches [b]{escape(needle)!r}[/b] — Esc clears the filter.")

    def needle(self) -> str:
        return self.query_one("#filter", Input).value.strip().lower()

    def selected_name(self) -> str | None:
        """The highlighted job's name: the selection is a job, not a row number."""
        table = self.query_one(RowTable)
        return self.shown[table.cursor_row].name if 0 <= table.cursor_row < len(self.shown) else None

    def action_cursor(self, step: int) -> None:
        self.query_one(RowTable).action_step(step)

    def action_edge(self, last: int) -> None:
        self.query_one(RowTable).action_edge(last)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self.set_focus(box)  # at once: keys typed right after `/` go into the box

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(RowTable).focus()
        self._show()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RowTable).focus()

    def on_row_table_clicked(self, event: RowTable.Clicked) -> None:
        if event.open:
            self.action_open()

    def action_open(self) -> None:
        table = self.query_one(RowTable)
        if self.shown and table.cursor_row < len(self.shown):
            from cycle.tui.screens.job import JobScreen

            self.app.push_screen(JobScreen(self.platform, self.shown[table.cursor_row].name))
