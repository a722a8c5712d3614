"""Log shipping on the platform's cadence.

The platform uploads a job's logs every 600 s, so what `cycle job logs`, `tail` and the TUI show
lags the job by up to that long; the emulator does the same. Lines reach the terminal of a
foreground `cycle project test` at once (the sink), but the log store only at each shipment and
at the job's end, and as it moves (what it printed on the machine it left, and the move's events).
$CYCLE_LOG_CADENCE_SECONDS shortens the cadence (tests use it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from emulator.models import Stream
from emulator.settings import load
from emulator.store import StateStore

LOG_CADENCE_SECONDS = 600.0
BACKLOG_SECONDS = 1.0
"""How often the shipper records how many printed lines (stdout and stderr: the system events the
agent adds are not the job's) wait for the next shipment (one small UPDATE, only when the number
changed): `cycle job logs` of a running job says why its log lags."""
CLOSE_ATTEMPTS = 5  # tries of the last shipment at the job's end, a second apart
Record = tuple[int, Stream, str]
Piece = tuple[Stream, str]  # text of a stdout or stderr line not yet whole, for the live echo only


def log_cadence() -> float:
    return load().log_cadence_seconds


class LogShipper:
    def __init__(self, store: StateStore, job_id: int, sink: Callable[[int, Stream, str], None],
                 cadence: float | None = None) -> None:
        self.store = store
        self.job_id = job_id
        self.sink = sink
        self.cadence = log_cadence() if cadence is None else cadence
        self._flush_sink = getattr(sink, "flush", lambda: None)
        self._show_piece = getattr(sink, "piece", lambda stream, text: None)
        self._buffer: list[Record] = []
        self._printed = 0  # stdout and stderr lines in the buffer: counted as kept, not rescanned
        self._recorded_backlog = 0
        self._lock = threading.Lock()
        self._shipping = threading.Lock()  # one shipment at a time: two could append their batches out of order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="log-shipper", daemon=True)
        self._thread.start()

    def add(self, records: list[Record]) -> None:
        """Keep the records for the next shipment, then show them at once."""
        self.keep(records)
        self.show(records)

    def keep(self, records: list[Record]) -> None:
        """Keep the records for the next shipment. Before they show: what the terminal showed is
        in the log, even when an interrupt strikes right after. The job's reader thread keeps the
        container's lines as it reads them, so an interrupt of the main thread loses none."""
        printed = sum(1 for record in records if record[1] is not Stream.SYSTEM)  # once per line, as kept
        with self._lock:
            self._buffer.extend(records)
            self._printed += printed

    def show(self, records: list[Record], pieces: list[Piece] = ()) -> None:
        """Show the records, then the pieces of lines not yet whole (to a sink with a `piece`, as
        the CLI's: it shows a progress bar as it is drawn; its line comes whole in a later batch).
        A sink with a `flush`, as the CLI's, gets one after the batch."""
        for record in records:
            self.sink(*record)
        for piece in pieces:
            self._show_piece(*piece)
        self._flush_sink()

    def _loop(self) -> None:
        """Ship on the cadence. A shipment that fails (the database busy past its timeout, a full
        disk) keeps its lines (ship) and is tried again a second later, and the thread goes on:
        a dead shipper would hold every later line until the job's end."""
        next_ship = time.monotonic() + self.cadence
        while not self._stop.wait(max(0.0, min(BACKLOG_SECONDS, next_ship - time.monotonic()))):
            if time.monotonic() >= next_ship:
                try:
                    self.ship()
                    next_ship = time.monotonic() + self.cadence
                except Exception:  # noqa: BLE001 - see above; close() ships them or says why not
                    next_ship = time.monotonic() + BACKLOG_SECONDS
            else:
                self._record_backlog()

    def ship(self) -> None:
        """Append the kept lines to the job's log. When that fails, they go back in front of any
        kept since, in order, and the error is raised: a line leaves the buffer only once stored.
        Any thread (the cadence's, a move's)."""
        with self._shipping:
            with self._lock:
                batch, printed, self._buffer, self._printed = self._buffer, self._printed, [], 0
            if batch:
                try:
                    self.store.append_logs(self.job_id, batch)
                except BaseException:
                    with self._lock:
                        self._buffer[:0] = batch
                        self._printed += printed
                    raise
            self._record_backlog()

    def _record_backlog(self) -> None:
        """Record how many lines wait for the next shipment, when that changed. Best effort: the
        count only words a hint, so a write that fails (the database busy past its timeout, a
        full disk) is tried again next second instead of ending the shipper's thread, which
        would hold every later line until the job's end."""
        with self._lock:
            waiting = self._printed  # a count kept as lines come: the buffer holds up to 600 s of them
        if waiting == self._recorded_backlog:
            return
        try:
            self.store.record_log_backlog(self.job_id, waiting)
        except Exception:  # noqa: BLE001 - see above
            return
        self._recorded_backlog = waiting

    def close(self) -> None:
        """Ship what is left; called when the job ends (or moves, or is cancelled). A shipment that
        fails is tried again (CLOSE_ATTEMPTS, a second apart) before its error is raised."""
        self._stop.set()
        self._thread.join(timeout=5)
        for attempt in range(CLOSE_ATTEMPTS):
            try:
                self.ship()
                return
            except Exception:
                if attempt + 1 == CLOSE_ATTEMPTS:
                    raise
                time.sleep(BACKLOG_SECONDS)
