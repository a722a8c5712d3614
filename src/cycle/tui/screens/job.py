"""The job browser: a header with the job's context, the queue warning banner, and two tabs:
Logs (interleaved, paged, live) and Artifacts (a file browser with downloads)."""

from __future__ import annotations

import time

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.notifications import Notification
from textual.screen import Screen
from textual.widgets import Input, Static, TabbedContent, TabPane

from cycle.api import Platform
from cycle.api.tree import newest_tree
from cycle.api.wording import machine_shown
from cycle.tui.fit import Part, fit_line
from cycle.tui.jobinfo import applies
from cycle.tui.notices import notify_outcome, notify_under_way
from cycle.tui.pacing import Pacer
from cycle.tui.widgets.artifact_browser import ArtifactBrowser
from cycle.tui.widgets.key_footer import KeyFooter
from cycle.tui.widgets.log_source import LogSource
from cycle.tui.widgets.log_view import LogView
from cycle.tui.widgets.static_text import show

POLL_SECONDS = 0.5
PROGRESS_SECONDS = 0.1  # a download's progress is shown at most this often
ENDED_READ_SECONDS = 30.0  # an ended job's artifacts are read again this often (_artifacts_may_change)
ARTIFACT_READ_FACTOR = 4.0  # the artifact records are read at most a fifth of the time (cycle.tui.pacing)
REQUESTER = "`cycle tui`"  # named in the move and cancel events as the CLI names itself: `cycle job cancel`


# Enter goes to the first match from the top line on (as less and vim search forward), n / N walk on
SEARCH_HINT = "search the whole log (enter: the next match from here, esc: close)"
LOG_ACTIONS = {"toggle_follow", "search"}  # the screen's keys that act on the Logs tab only


def _ended(job) -> tuple | None:
    """An ended job's state and whether it is archived (what can still change its artifacts); None while it runs."""
    return (job.state, getattr(job, "archived", False)) if job.state.is_final else None


class JobScreen(Screen):
    AUTO_FOCUS = "LogView"  # keys reach the log the moment it shows, not the tab bar
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the jobs (or close the search box)"),
        Binding("f", "toggle_follow", "Follow", tooltip="Follow new lines on / off"),
        # priority: the box must have the focus before the next key is dispatched (keys typed in
        # one burst after `/` went to the log while the key bubbled up to the screen)
        Binding(
            "slash", "search", "Search", tooltip="Search the whole stored log (n / N: next / previous)", priority=True
        ),
        Binding("c", "cancel_job", "Cancel job", tooltip="Cancel the job (asks first; No is the default)"),
        Binding("r", "reassign_job", "Reassign", tooltip="Reassign the running job to another machine (asks first)"),
        Binding("tab", "next_tab", "Logs/Artifacts", priority=True),
        Binding("1", "tab('logs-tab')", "Logs", show=False),
        Binding("2", "tab('artifacts-tab')", "Artifacts", show=False),
    ]

    def __init__(self, platform: Platform, job_name: str) -> None:
        super().__init__()
        self.platform = platform
        self.job_name = job_name
        self.job = platform.job(job_name)
        self._artifact_reads = Pacer(floor=POLL_SECONDS / 2, factor=ARTIFACT_READ_FACTOR)  # quick: every poll
        # the ended job's (state, archived) its artifacts were last read at (None: running), and when
        self._read_when_ended: tuple[tuple | None, float] = (None, 0.0)

    def compose(self) -> ComposeResult:
        yield Static("", id="job-header")
        yield Static("", id="queue-warning")
        with TabbedContent(id="tabs"):
            with TabPane("Logs", id="logs-tab"):
                yield LogView(LogSource(self.platform, self.job_name), id="log")
                yield Static("", id="log-status")
                yield Input(placeholder=SEARCH_HINT, id="search")
            with TabPane("Artifacts", id="artifacts-tab"):
                yield ArtifactBrowser(id="artifacts")
        yield KeyFooter()  # the keys that matter first; at 80 columns the least used give way

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self._show_job(self.job)
        self.poll()
        self.set_interval(POLL_SECONDS, self.poll)
        self.query_one(LogView).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """The shown tab's content takes the keys: on opening (when the log pane becomes visible,
        which in a real terminal can be after mount, so AUTO_FOCUS alone finds nothing
        focusable) and on every switch."""
        self._focus_tab(event.pane.id)
        self.query_one(ArtifactBrowser).set_shown(event.pane.id == "artifacts-tab")
        self.refresh_bindings()  # the footer lists the shown tab's keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys show in the footer and the palette, and work, only where they apply: follow, cancel
        and reassign for the job's state (cycle.tui.jobinfo.applies: an ended job has none of
        them), the log's keys (follow, search) while the log shows."""
        if not applies(action, self.job.state):
            return False
        if action in LOG_ACTIONS and self.query(TabbedContent):
            return self.query_one(TabbedContent).active == "logs-tab"
        return True

    def _focus_tab(self, tab: str | None) -> None:
        target = self.query_one(ArtifactBrowser).focus_target() if tab == "artifacts-tab" else self.query_one(LogView)
        if self.focused is not target and not isinstance(self.focused, Input):
            self.set_focus(target)
        if self.focused is None:  # not focusable yet: once the layout is done
            self.call_after_refresh(lambda: self.focused is None and self.set_focus(target))

    def poll(self) -> None:
        self.run_worker(self._poll, thread=True, exclusive=True, group="job-poll")

    def _poll(self) -> None:
        """Runs in a thread: the screen may be closing (Escape, quit) while it reads, so a widget
        gone from the screen ends this poll quietly instead of failing the app."""
        job = self.platform.job(self.job_name)
        try:
            log = self.query_one(LogView)
        except NoMatches:
            return
        stream, after = log.log_filter, log.tail_id
        records = log.source.live(after, stream) if log.live_ready else []
        listing = None
        if self._artifacts_may_change(job) and self._artifact_reads.ready(time.monotonic()):
            listing = self._read_artifacts()
            self._read_when_ended = (_ended(job), time.monotonic())
        self.app.call_from_thread(self._apply, job, records, stream, *(listing or (None, None, None)))

    def _artifacts_may_change(self, job) -> bool:
        """Whether the artifact records may have changed since they were read: always while the
        job runs (its reads are paced); once it ended, until they are read after its final state
        was (an ended job's uploads are all recorded by then), again when it is archived, and
        every ENDED_READ_SECONDS (an agent ended from outside, which did not answer a cancel, may
        still record a file). A finished job with 40,000 files took a fifth of a core to read them
        again every few polls."""
        ended, (read_at_end, read_at) = _ended(job), self._read_when_ended
        return ended is None or ended != read_at_end or time.monotonic() - read_at >= ENDED_READ_SECONDS

    def _read_artifacts(self) -> tuple[dict[str, int], set[str], dict[str, int]]:
        """The job's stored files (path -> size, path -> modified time) and queued paths. Paced by
        the read's cost (cycle.tui.pacing): reading 100,000 records on every poll held the GIL the
        screen's thread needs, while the header and the log are read on every poll."""
        started = time.monotonic()
        artifacts = newest_tree(self.platform.artifacts(self.job_name))[0]  # one tree: a folder where a file was
        stored = {a.path: a.size for a in artifacts}
        mtimes = {a.path: a.mtime_ns for a in artifacts}  # the modified times the platform recorded
        queued = set(self.platform.queued_artifacts(self.job_name))
        self._artifact_reads.ran(started, time.monotonic())
        return stored, queued, mtimes

    def _apply(self, job, records, stream, stored, queued, mtimes=None) -> None:
        """On the screen's thread; the screen may have closed since the poll read (its widgets gone)."""
        try:
            self._show_poll(job, records, stream, stored, queued, mtimes)
        except NoMatches:
            return

    def _show_poll(self, job, records, stream, stored, queued, mtimes) -> None:
        self._show_job(job)
        log = self.query_one(LogView)
        if log.log_filter == stream:  # not from before a filter change
            log.add_lines(records)
        if stored is None:  # not read this poll (paced)
            return
        self.query_one(ArtifactBrowser).set_artifacts(stored, queued, archived=getattr(job, "archived", False),
                                                  mtimes=mtimes, ended=job.state.is_final)
        self._count_artifacts(len(stored), len(queued))  # as the jobs list counts them (Job.queue_len)

    def _count_artifacts(self, stored: int, queued: int) -> None:
        from cycle.tui.jobinfo import artifacts_tab_label

        tab = self.query_one(TabbedContent).get_tab("artifacts-tab")
        label = artifacts_tab_label(stored, queued)
        if str(tab.label) != label:  # a new label re-lays the tabs out: only when a count changed
            tab.label = label

    def on_resize(self) -> None:
        """The status line fits its width (LogView.status): a new width may fit more, or less; the
        notices move with the log."""
        self.on_log_view_status_changed(None)
        self.call_after_refresh(self._place_notices)

    def _place_notices(self) -> None:
        """Notices from the log's first row down, at the right (app.tcss docks them at the top, in
        as few rows as they read): the log's last lines, where a followed log's new lines arrive,
        stay in sight, and so do the header and the tabs above and the status line and the footer
        below. Kept as it was while the log is hidden (Artifacts). No cap on the rack's height: a
        capped rack clips its newest notices (Textual's rack does not scroll when docked here)."""
        from textual.widgets._toast import ToastRack

        log = self.query_one(LogView).region
        for rack in self.query(ToastRack):  # none where the app shows no notices (run_test's default)
            if log.height:  # each toast has a margin of one row above it
                rack.styles.margin = (max(0, log.y - 1), 0, 0, 0)

    def on_log_view_status_changed(self, message: LogView.StatusChanged | None) -> None:
        # plain text: a search term such as `[bold]` is what the user typed, not markup
        line = self.query_one("#log-status", Static)
        width = line.content_region.width or None  # 0 before the first layout: not yet known
        show(line, Text(self.query_one(LogView).status(width)), fixed_size=True)
        self._show_job(self.job)  # the header's follow state changed with it: they never disagree

    def _show_job(self, job) -> None:
        changed = job.state != self.job.state
        self.job = job
        if changed:
            self.refresh_bindings()  # the keys that apply changed with the state (an ended job's footer)
        if self.query(LogView):
            self.query_one(LogView).show_cadence(job.log_cadence_text())
            self.query_one(LogView).ended = job.state.is_final  # no more lines: "ended", not "follow"

        from cycle.tui.jobinfo import STATE_COLOURS, duration
        from cycle.tui.timefmt import zone_label, zoned_forms

        now = (self.app.clock or time.time_ns)()
        widest = 25 if self.size.width >= 120 else 18  # the date only on a wide terminal
        if job.started_ns:  # the start time always names its zone (the log's times are in it)
            zoned = zoned_forms(job.started_ns, now, self.app.zone)  # the shortest even if wider (UTC+5:30)
            starts = [form for form in zoned if len(form) <= widest] or zoned[-1:]
        else:
            starts = [f"- (times {zone_label(self.app.zone)})"]
        colour = STATE_COLOURS.get(job.state.value, "white")
        following = self.is_mounted and self.query(LogView) and self.query_one(LogView).follow
        follow = "log ended" if job.state.is_final else f"follow {'on' if following else 'off'}"
        header = self.query_one("#job-header", Static)
        lead = (  # what changes first: a narrow terminal drops steady parts at the right
            f"[b]{job.name}[/b] · [{colour}]{job.state.value}[/]"
            + (f" ([{'b red' if job.state.value == 'FAILED' else 'default'}]{job.reason}[/])" if job.reason else "")
            + (" · archived" if job.archived else "")  # its artifacts deleted: said where the state is
        )
        room = header.content_region.width or None  # 0 before the first layout: not yet known
        show(header, fit_header(lead, starts, machine_shown(job.state, job.machine), job.project, room,
                                duration=duration(job, now), follow=follow), fixed_size=True)
        banner = self.query_one("#queue-warning", Static)
        if banner.display != bool(job.queue_warning):  # the log moves with it: so do the notices
            banner.display = bool(job.queue_warning)
            self.call_after_refresh(self._place_notices)
        if job.queue_warning:
            from cycle.api import QUEUE_WARNING_TEXT

            show(banner, escape(QUEUE_WARNING_TEXT))

    def action_next_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        self.action_tab("artifacts-tab" if tabs.active == "logs-tab" else "logs-tab")

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.display:
            search.display = False
            self.query_one(LogView).focus()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        log = self.query_one(LogView)
        log.follow = not log.follow
        self._show_job(self.job)

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        if self.focused is search:  # a priority binding: `/` typed in the box is text
            search.insert_text_at_cursor("/")
            return
        self.query_one(TabbedContent).active = "logs-tab"
        search.display = True
        self.set_focus(search)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Search the whole log; the box closes so the log has the room (n / N walk the matches)."""
        self.query_one(LogView).find(event.value)
        event.input.display = False
        self.query_one(LogView).focus()

    def action_cancel_job(self) -> None:
        from cycle.tui.screens.modals import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel()

        self.app.push_screen(ConfirmScreen(f"Cancel job {self.job_name}? Its container is removed."), answered)

    @work(thread=True, exclusive=True, group="action")
    def _cancel(self) -> None:
        try:
            job = self.platform.cancel(self.job_name, requester=REQUESTER)
            self.app.call_from_thread(self.notify, f"{job.name}: {job.state.value}")
        except Exception as error:  # a CycleError: show it, keep the app alive
            self.app.call_from_thread(self.notify, str(error), severity="error")

    def action_reassign_job(self) -> None:
        """Ask first (only a RUNNING job has the key: check_action)."""
        from cycle.tui.screens.modals import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:  # the move's outcome replaces this notice (cycle.tui.notices)
                self._reassign(notify_under_way(self.app, f"moving {self.job_name} to another machine …"))

        self.app.push_screen(
            ConfirmScreen(
                f"Reassign job {self.job_name} to another machine? It restarts there from its uploaded artifacts."
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="action")
    def _reassign(self, under_way: Notification) -> None:
        try:
            move = self.platform.reassign(self.job_name, requester=REQUESTER)
            text = f"moved {move.from_machine} -> {move.to_machine}, restored {len(move.restored)} file(s)"
            self.app.call_from_thread(notify_outcome, self.app, under_way, text)
        except Exception as error:
            self.app.call_from_thread(notify_outcome, self.app, under_way, str(error), "error")

    def on_artifact_browser_download_requested(self, message: ArtifactBrowser.DownloadRequested) -> None:
        self._download(message.paths)

    @work(thread=True, exclusive=True, group="download")
    def _download(self, paths: list[str]) -> None:
        from cycle.errors import CycleError
        from cycle.pull import job_folder

        browser = self.query_one(ArtifactBrowser)
        root = self.platform.project_root(self.job)
        if root is None:
            self.app.call_from_thread(self.notify, "the job's project folder is not known here", severity="error")
            return
        folder = job_folder(root, self.job_name)
        chosen = [a for a in newest_tree(self.platform.artifacts(self.job_name))[0] if a.path in set(paths)]
        try:  # a file there that cannot be read, an unwritable folder, a full disk: `cycle job pull`'s paragraph
            self._download_into(folder, chosen, browser)
        except CycleError as error:
            self.app.call_from_thread(self.notify, error.message, severity="error")

    def _download_into(self, folder, chosen: list, browser) -> None:
        """The chosen artifacts the folder does not hold byte for byte (as `cycle job pull`: the same
        bytes stay), the progress shown as each lands, then the summary; CycleError as pull's paragraph."""
        from cycle.pull import SyncResult, changed_artifacts, download_wanted

        result = SyncResult()
        wanted = changed_artifacts(chosen, folder, self.job_name, result)
        total = sum(a.size for a, _ in wanted) or 1

        shown = Pacer(floor=PROGRESS_SECONDS, factor=0)  # a call to the screen's thread a file made 8,000
        # small files a 20 s download (400 files/s; `job pull`: 6,000)

        def landed(artifact) -> None:
            now = time.monotonic()
            if shown.ready(now):
                shown.ran(now, now)
                self.app.call_from_thread(browser.show_progress, result.bytes, total, f"downloading {artifact.path}")

        download_wanted(self.platform, wanted, folder, result, landed=landed)
        self.app.call_from_thread(browser.show_progress, total, total, download_summary(result, folder / "artifacts"))


def fit_header(lead: str, starts: list[str], machine: str, project: str, room: int | None,
               duration: str = "", follow: str = "") -> str:
    """The job header in `room` cells (None: not laid out yet, so the fullest line), by
    cycle.tui.fit. `lead` (markup: name, state, reason) always shows; `starts` are the start
    time's forms, most precise first, each naming its zone. Where the whole line does not fit, the
    start time shortens first (`03:41:32 UTC` -> `03:41 UTC`), then the project gives way whole,
    then the machine, the follow state and the duration, so the time is never cut from its zone;
    only a lead too long for the terminal is cut at the right. Every part is measured as the
    markup it is shown as."""
    parts = [Part(0, (lead,), droppable=False), Part(1, (duration,)), Part(2, (follow,)),
             Part(3, (f"machine {machine}",)), Part(5, tuple(f"started {start}" for start in starts), droppable=False),
             Part(4, (f"project {project}",))]
    return fit_line([part for part in parts if part.forms[0]], room, cells=lambda form: Text.from_markup(form).cell_len)


def download_summary(result, folder) -> str:
    """What a download did, counts first (the folder's path may not fit 80 columns): files already
    there byte for byte were left alone and are named "unchanged", as `cycle job pull` says."""
    parts = [f"downloaded {len(result.downloaded)} file(s)"] if result.downloaded else []
    if result.skipped:
        parts.append(f"{len(result.skipped)} unchanged")
    if result.refused:
        parts.append(f"{len(result.refused)} refused (a key outside artifacts/)")
    return f"{', '.join(parts) or 'nothing to download'} in {folder}"
