"""The runner's guards: interrupts that cancel a job once (its clean-up cannot be interrupted; a
drill uses them too), and a one-line description of an unexpected error for the job's log."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def describe_error(error: BaseException) -> str:
    """One line for an unexpected error: its type, message and where it was raised."""
    import traceback

    import cycle.errors

    ours = (Path(__file__).resolve().parents[1], Path(cycle.errors.__file__).resolve().parent)  # where a fix would go
    client = {Path(__file__).resolve().parents[1] / "engine" / name for name in ("api.py", "http1.py")}
    frames = [f for f in traceback.extract_tb(error.__traceback__)  # the engine client's caller, not the client
              if any(Path(f.filename).resolve().is_relative_to(folder) for folder in ours)
              and Path(f.filename).resolve() not in client]
    where = f" (in {frames[-1].name}, {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


class Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM (`cycle job cancel`, GNU timeout) cancel the job, once.

    The first one raises KeyboardInterrupt, and at that very moment every later one is only
    noted: the cancel's clean-up (container removed, job CANCELLED, machine freed) cannot itself
    be interrupted, which two interrupts 30 ms apart would otherwise do. A later one says
    "cleaning up…" once. Leaving the block puts the previous handlers back."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.previous: dict[int, object] = {}
        self.said = False
        self.interrupted = False
        self.signum: int | None = None  # the first interrupt's signal

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._first) for signum in self.SIGNALS}
        return self

    def _first(self, signum, frame) -> None:
        self.hold()
        self.interrupted = True
        self.signum = signum
        raise KeyboardInterrupt

    def cancelled_by(self) -> str | None:
        """Who the first interrupt came from, for the job's end: None for Ctrl-C (SIGINT, or a
        KeyboardInterrupt no signal handler of ours raised), else the SIGTERM's likely senders."""
        if self.signum == signal.SIGTERM:
            return "a SIGTERM (`cycle job cancel` when the agent did not answer, `kill`, `timeout`)"
        return None

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Within the block an interrupt is only noted, and raised as the block ends: a drill
        creating its job, which an interrupt mid-way would leave running with no name to cancel
        it by. A second interrupt raises at once (the start hangs: the user insists)."""
        for signum in self.previous:
            signal.signal(signum, self._defer)
        try:
            yield
        finally:
            for signum in self.previous:  # once interrupted, the cancel that follows is held
                signal.signal(signum, self._note if self.interrupted else self._first)
        if self.interrupted:
            raise KeyboardInterrupt

    def _defer(self, signum, frame) -> None:
        if self.interrupted:
            self.hold()
            raise KeyboardInterrupt
        self.interrupted = True
        self.signum = signum

    def hold(self) -> None:
        """From now on an interrupt is only noted: the clean-up runs to its end."""
        for signum in self.previous:
            signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        if not self.said:
            self.said = True
            os.write(2, "cleaning up… (the job is being cancelled: its container removed, its machine freed)\n"
                     .encode())

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
