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
