"""The jobs screen: a live table of jobs, k9s-style keys, `/` filter, Enter opens a job."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from cycle.api import Platform
from cycle.tui.jobinfo import STATE_COLOURS, duration, started
from cycle.tui.selection import keep_row

REFRESH_SECONDS = 1.0


class JobsScreen(Screen):
    BINDINGS = [
        Binding("j,down", "cursor(1)", "Down", show=False),
        Binding("k,up", "cursor(-1)", "Up", show=False),
        Binding("g", "edge(0)", "First", show=False),
        Binding("G", "edge(1)", "Last", show=False),
        Binding("enter", "open", "Open", tooltip="Open the highlighted job"),
        Binding("slash", "filter", "Filter", tooltip="Filter by name, project or state"),
        Binding("r", "refresh", "Refresh", tooltip="Refresh the list now (on a job: reassign)"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, platform: Platform, clock=time.time_ns) -> None:
        super().__init__()
        self.platform = platform
        self.clock = clock
        self.jobs: list = []
        self.shown: list = []
        self.counts: dict[str, tuple[int, int]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="context")
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="filter: name, project or state (enter to apply, escape to clear)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("name", "state", "machine", "started", "duration", "uploaded / queued")
        self.query_one("#filter", Input).display = False
        self.action_refresh()
        self.set_interval(REFRESH_SECONDS, self.action_refresh)

    def action_refresh(self) -> None:
        self.run_worker(self._load, thread=True, exclusive=True, group="jobs")

    def _load(self) -> None:
        jobs = self.platform.jobs(None, 500, 0)
        counts = {j.name: (len(self.platform.artifacts(j.name)), j.queue_len) for j in jobs}
        self.app.call_from_thread(self._show, jobs, counts)

    def _show(self, jobs: list, counts: dict) -> None:
        selected = self.selected_name()  # before the list changes
        self.jobs, self.counts = jobs, counts
        needle = self.query_one("#filter", Input).value.strip().lower()
        self.shown = [j for j in jobs if not needle or needle in f"{j.name} {j.project} {j.state.value}".lower()]
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        now = self.clock()
        for job in self.shown:
            colour = STATE_COLOURS.get(job.state.value, "white")
            uploaded, queued = counts.get(job.name, (0, 0))
            table.add_row(job.name, Text(job.state.value, style=colour), job.machine or "-", started(job),
                          duration(job, now), f"{uploaded} / {queued}", key=job.name)
        if self.shown:
            table.move_cursor(row=keep_row(table, selected, row), animate=False)
        running = sum(1 for j in jobs if j.state.value == "RUNNING")
        shown = f"{len(self.shown)} of {len(jobs)}" if needle else f"{len(jobs)}"
        self.query_one("#context", Static).update(
            f"[b]cycle[/b] · emulator · {shown} jobs · {running} running"
            + (f" · filter: [b]{needle}[/b]" if needle else "") + " · [dim]? for keys[/dim]")

    def selected_name(self) -> str | None:
        """The highlighted job's name: the selection is a job, not a row number."""
        table = self.query_one(DataTable)
        return self.shown[table.cursor_row].name if 0 <= table.cursor_row < len(self.shown) else None

    def action_cursor(self, step: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, min(table.cursor_row + step, len(self.shown) - 1)))

    def action_edge(self, last: int) -> None:
        self.query_one(DataTable).move_cursor(row=(len(self.shown) - 1) if last else 0)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self.set_focus(box)  # at once: keys typed right after `/` go into the box

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(DataTable).focus()
        self._show(self.jobs, self.counts)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(self.jobs, self.counts)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if self.shown and table.cursor_row < len(self.shown):
            from cycle.tui.screens.job import JobScreen

            self.app.push_screen(JobScreen(self.platform, self.shown[table.cursor_row].name))
