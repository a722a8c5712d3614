"""How live job output is written to the terminal: stdout to stdout, stderr to stderr, system
events to stderr marked [system] (dim italics on a terminal), so a pipe gets the job's stdout only."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, as in cycle.platform

if TYPE_CHECKING:
    from collections.abc import Iterable


def is_build_explanation(text: str) -> bool:
    """A system event of a failed build's closing explanation: its cause and the output's last lines."""
    from cycle.api.models import BUILD_FAILED_EVENT, BUILD_OUTPUT_EVENT

    return text.startswith((BUILD_FAILED_EVENT, BUILD_OUTPUT_EVENT))


def build_explanation(system_texts: Iterable[str]) -> list[str]:
    """A failed build's closing explanation among a job's system events, in order: the last `build
    failed: …` event and the `build output | …` lines after it (an earlier build's count no more);
    [] when no build failed. `cycle project test` and `cycle job tail` both close with it."""
    from cycle.api.models import BUILD_FAILED_EVENT, BUILD_OUTPUT_EVENT

    lines: list[str] = []
    for text in system_texts:
        if text.startswith(BUILD_FAILED_EVENT):
            lines = [text]
        elif lines and text.startswith(BUILD_OUTPUT_EVENT):
            lines.append(text)
    return lines


def live_sink(hold_back=None):
    """The terminal sink; system events for which `hold_back(text)` is true are not written (the
    command prints them itself, once, where they belong)."""
    return LiveSink(hold_back)


class LiveSink:
    """The job's lines, written a batch at a time: the log shipper calls `flush()` after each batch.

    A job printing 100k lines/s then costs a write per batch, not a write (and on a terminal a
    line-buffered flush) per line. Lines of one stream wait only until the other stream is written
    (so stdout and stderr still interleave in order where they share a terminal) or the batch ends;
    system events are written at once.

    A line not yet ended by a newline (a progress bar redrawn with `\\r`) is shown as its pieces
    come (`piece`), as `docker run` shows it; when the whole line comes, only the rest of it is
    written, so nothing shows twice. A system event starts a new line first when a piece is showing
    on stderr (or on stdout sharing stderr's terminal).

    The reader of stdout or stderr may leave (`| head -2`, or `| tee` killed by the same Ctrl-C):
    the job must not die of it (it would end LOST, its clean-up cut short), so that stream then
    writes to /dev/null (`_reader_left`) and the job goes on, its output kept in its log."""

    def __init__(self, hold_back=None) -> None:
        self.hold_back = hold_back or (lambda text: False)
        self.system_style = ("\x1b[2;3m", "\x1b[0m") if sys.stderr.isatty() else ("", "")
        self._waiting: list[str] = []
        self._waiting_on = None  # the stream (sys.stdout or sys.stderr) the waiting lines go to
        self._shown: dict[str, list[str]] = {}  # per job stream, the pieces its unfinished line showed so far
        self._mid_line: set = set()  # the terminal streams (sys.stdout, sys.stderr) a piece left mid-line
        self._one_screen = _same_screen()  # asked once: two fstat calls per line cost a loud job ~5x

    def __call__(self, ts_ns: int, stream, text: str) -> None:
        if stream == "stdout" or stream == "stderr":  # Stream is a str enum: no .value lookup per line
            out = sys.stdout if stream == "stdout" else sys.stderr
            if out is not self._waiting_on:
                self.flush()
                self._waiting_on = out
            if self._shown and stream in self._shown:
                text = self._rest_of_line(stream, out, text)
                if text is None:
                    return
            if self._mid_line:
                self._end_other_line(out)
                self._mid_line.discard(out)  # the line queued ends it: flush writes its newline
            self._waiting.append(text)
            return
        if self.hold_back(text):
            return
        self.flush()
        self._start_system_line()
        self._write(sys.stderr, f"{self.system_style[0]}[system] {text}{self.system_style[1]}\n")

    def piece(self, stream, text: str) -> None:
        """Part of a stdout or stderr line not yet ended by a newline: written as it is, at once."""
        out = sys.stdout if stream == "stdout" else sys.stderr
        self.flush()
        self._end_other_line(out)
        # noted before it is written: an interrupt after the write must not show it again later
        self._shown.setdefault(stream, []).append(text)  # joined once, when its line comes whole
        self._mid_line.add(out)
        self._write(out, text)

    def _rest_of_line(self, stream, out, text: str) -> str | None:
        """What of the whole line `text` its pieces did not show yet (the line itself when the
        pieces do not start it, which a consistent splitter never gives: on a line of its own);
        None when all of it shows and a system event already started a new line after it."""
        shown = "".join(self._shown.pop(stream))
        if not text.startswith(shown):
            return "\n" + text if out in self._mid_line else text
        rest = text[len(shown):]
        return None if not rest and out not in self._mid_line else rest

    def _end_other_line(self, out) -> None:
        """Before `out` writes: a line the other stream left open on the same screen is ended there
        (a progress bar on stderr, then a print on stdout: each on a line of its own, not glued as
        raw bytes would show them). Its whole line, when it comes, adds only what was not shown."""
        if not self._one_screen:
            return
        for other in [stream for stream in self._mid_line if stream is not out]:
            self._write(other, "\n")
            self._mid_line.discard(other)

    def _start_system_line(self) -> None:
        """A new line on stderr's screen when a piece left it mid-line, so the event is not glued to it."""
        if sys.stderr in self._mid_line or (sys.stdout in self._mid_line and self._one_screen):
            self._write(sys.stderr, "\n")
            if self._one_screen:
                self._mid_line.clear()
            else:
                self._mid_line.discard(sys.stderr)

    def flush(self) -> None:
        if self._waiting:
            self._waiting.append("")
            self._write(self._waiting_on, "\n".join(self._waiting))
            self._waiting.clear()
            self._mid_line.discard(self._waiting_on)

    def _write(self, out, text: str) -> None:
        try:
            out.write(text)
            out.flush()
        except BrokenPipeError:
            self._reader_left(out)

    def _reader_left(self, out) -> None:
        """`out`'s reader is gone: it writes to /dev/null from now on (what it held is dropped), and
        stderr, if someone still reads it, says so once."""
        from cycle.cli.fast import point_at_devnull

        point_at_devnull(out)
        try:
            out.flush()  # the text that could not be written goes to /dev/null now
        except OSError:
            pass
        if out is sys.stdout:
            self._write(sys.stderr, f"{self.system_style[0]}[system] the reader of stdout left: the job goes on, "
                                    f"its output kept in its log{self.system_style[1]}\n")


def _same_screen() -> bool:
    """Whether stdout and stderr write to the same place (one terminal): a line left open on one
    shows where the other writes next. When they are not both files (a capture that may mix
    them), they are taken as one: an extra line break is better than two lines glued."""
    import os

    try:
        return os.path.sameopenfile(sys.stdout.fileno(), sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return True


def wait_unless_reader_left(seconds: float) -> None:
    """Sleep `seconds`, but raise BrokenPipeError as soon as the reader of our stdout is gone.

    Why: a follow loop writes only when new lines land, up to a log upload (600 s) apart, so
    `cycle job logs JOB -f | head -5` would learn that head left only at its next write. poll()
    reports POLLERR on a pipe whose reader closed (POLLHUP on a hung-up terminal, POLLNVAL on a
    closed fd) without being asked for any event, and nothing for a terminal or a file still there,
    so the wait ends early only when the next write would fail; the CLI then exits 0 quietly, as
    `tail -f | head` does."""
    import select
    import time

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture): nothing to watch
        fd = None
    if fd is None or not hasattr(select, "poll"):
        time.sleep(seconds)
        return
    watch = select.poll()
    watch.register(fd, 0)  # no event asked for: only POLLERR, POLLHUP and POLLNVAL come back
    if watch.poll(seconds * 1000):
        raise BrokenPipeError(f"the reader of stdout (fd {fd}) has left")


def fail(message: str, code: int = 2) -> None:
    """Stop a command with a one-paragraph message and an exit code."""
    from cycle.errors import CycleError

    raise CycleError(message, exit_code=code)


def table_lines(rows: list[tuple[str, ...]], gap: int = 3) -> list[str]:
    """Rows as aligned columns, each as wide as its longest cell (as `docker ps` does), so a long
    name widens its column instead of pushing the rest of its row out of line."""
    widths = [max(len(cell) for cell in column) for column in zip(*rows)]
    return [(" " * gap).join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def job_exit_code(job) -> int:
    """What a command that waited for a job exits with (`project test`, `job tail`): 0 when it
    FINISHED, else the job's own exit code (run.sh's, build.sh's), or 1 when it has none or it is 0
    (UPLOAD_ERROR, CANCELLED, LOST)."""
    if job.state.value == "FINISHED":
        return 0
    return job.exit_code or 1


def progress_bar(*columns):
    """A transient progress bar (rich) for uploads and pulls, drawn on stderr only when it is a
    terminal: stdout keeps only the command's result, with no stray empty line from the bar's
    stop (rich ends a bar it cannot redraw with a newline)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, transient=True, console=console, disable=not console.is_terminal)
