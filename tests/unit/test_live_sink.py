"""The CLI's live output of a job (cli/output.py): a write per batch, not per line, in order."""

from __future__ import annotations

from cycle.api import Stream
from cycle.cli.output import live_sink
from emulator.logship import LogShipper


class Terminal:
    """stdout and stderr sharing one screen: what reached it, and how many writes it took."""

    def __init__(self) -> None:
        self.screen: list[str] = []
        self.writes = 0

    def stream(self, name: str):
        terminal = self

        class Stream_:
            def write(self, text: str) -> None:
                terminal.writes += 1
                terminal.screen += [f"{name}:{line}" for line in text.splitlines()]

            def flush(self) -> None:
                pass

            def isatty(self) -> bool:
                return False

        return Stream_()


def shown(monkeypatch, batches):
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal.stream("out"))
    monkeypatch.setattr("sys.stderr", terminal.stream("err"))
    shipper = LogShipper(store=None, job_id=1, sink=live_sink(), cadence=3600)
    try:
        for batch in batches:
            shipper.add(batch)
    finally:
        shipper._stop.set()
    return terminal


def test_a_batch_of_one_stream_is_one_write(monkeypatch):
    terminal = shown(monkeypatch, [[(i, Stream.STDOUT, f"line {i}") for i in range(1000)]])
    assert terminal.screen == [f"out:line {i}" for i in range(1000)] and terminal.writes == 1


def test_stdout_stderr_and_system_lines_keep_their_order_on_a_shared_screen(monkeypatch):
    batches = [[(1, Stream.STDOUT, "o1"), (2, Stream.STDOUT, "o2"), (3, Stream.STDERR, "e1"), (4, Stream.STDOUT, "o3")],
               [(5, Stream.SYSTEM, "job finished"), (6, Stream.STDERR, "e2")]]
    terminal = shown(monkeypatch, batches)
    assert terminal.screen == ["out:o1", "out:o2", "err:e1", "out:o3", "err:[system] job finished", "err:e2"]
    assert terminal.writes == 5


class RawScreen:
    """stdout and stderr as the bytes each got, and one screen they share, in order."""

    def __init__(self) -> None:
        self.got = {"out": "", "err": ""}
        self.screen = ""

    def stream(self, name: str):
        screen = self

        class Stream_:
            def write(self, text: str) -> None:
                screen.got[name] += text
                screen.screen += text

            def flush(self) -> None:
                pass

            def isatty(self) -> bool:
                return False

        return Stream_()


def raw_shown(monkeypatch, batches) -> RawScreen:
    """What the CLI's sink writes for batches of (records, pieces), as the log shipper gives them."""
    screen = RawScreen()
    monkeypatch.setattr("sys.stdout", screen.stream("out"))
    monkeypatch.setattr("sys.stderr", screen.stream("err"))
    shipper = LogShipper(store=None, job_id=1, sink=live_sink(), cadence=3600)
    try:
        for records, pieces in batches:
            shipper.show(records, pieces)
    finally:
        shipper._stop.set()
    return screen


def test_a_progress_bar_shows_as_it_is_drawn_and_its_whole_line_only_completes_it(monkeypatch):
    screen = raw_shown(monkeypatch, [
        ([], [(Stream.STDOUT, "\rstep 1/3")]),
        ([], [(Stream.STDOUT, "\rstep 2/3"), (Stream.STDERR, "warn")]),
        ([(0, Stream.STDOUT, "\rstep 1/3\rstep 2/3\rstep 3/3"), (1, Stream.STDOUT, "next")], [(Stream.STDOUT, "ta")]),
        ([(3, Stream.STDOUT, "tail"), (2, Stream.STDERR, "warning")], []),
    ])
    # one open line on the screen at a time (stderr's piece ends stdout's bar line, and back), nothing twice
    assert screen.screen == "\rstep 1/3\rstep 2/3\nwarn\n\rstep 3/3\nnext\ntail\ning\n"
    assert screen.got["out"].replace("\n", "") == "\rstep 1/3\rstep 2/3\rstep 3/3nexttail"
    assert screen.got["err"].replace("\n", "") == "warning"


def test_unfinished_lines_of_both_streams_are_not_glued_on_one_screen(monkeypatch):
    screen = raw_shown(monkeypatch, [
        ([], [(Stream.STDERR, "err-done")]),
        ([], [(Stream.STDOUT, "done")]),
        ([(0, Stream.STDERR, "err-done"), (1, Stream.STDOUT, "done")], []),
    ])
    assert screen.screen == "err-done\ndone\n"


def test_a_system_event_starts_a_new_line_after_a_piece_on_stderr(monkeypatch):
    screen = raw_shown(monkeypatch, [
        ([], [(Stream.STDERR, "\r40%")]),
        ([(5, Stream.SYSTEM, "job cancelled"), (0, Stream.STDERR, "\r40%")], []),
    ])
    assert screen.got["err"] == "\r40%\n[system] job cancelled\n"  # its whole line adds nothing then
