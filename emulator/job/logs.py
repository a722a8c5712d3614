"""Stage 5, logs: copy the container's stdout and stderr into the job's log until it exits, and
between batches answer the agent's requests (cancel, reassign) and the platform's move triggers.

This pump is the one place a running job hears from outside: `cycle job cancel` and `cycle job
reassign` write a row in the requests table, and the pump takes it, so only the job's agent ever
writes a running job's state."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import replace

from emulator.job import artifacts
from emulator.job.context import CancelRequested, JobContext, Stay
from emulator.models import Stream
from emulator.rules.moves import MoveRequest, move_trigger

REQUEST_CHECK_SECONDS = 0.2
FLUSH_RECORDS = 2000


def pump(ctx: JobContext, stay: Stay) -> MoveRequest | None:
    """Ship the container's output until it exits (None) or the job must move (the request);
    CancelRequested when a cancel request arrives. Called again on the same stay after a refused
    move: its reader goes on (the stream's end is still queued, as a move is only asked while it is open)."""
    if not stay.readers:  # a stay's output is read once: a refused move goes back to the same readers
        _start_readers(ctx, stay)
    open_streams = len(stay.readers)
    next_check = 0.0
    while open_streams:
        batch, pieces, closed = _next_batch(stay)
        open_streams -= closed
        if batch or pieces:
            ctx.shipper.show(batch, pieces)  # the reader kept the lines for the log
        artifacts.note_first_write(ctx, stay)
        if open_streams and time.monotonic() >= next_check:
            next_check = time.monotonic() + REQUEST_CHECK_SECONDS
            request = next_request(ctx, stay)
            if request is not None:
                return request
    return None


def _start_readers(ctx: JobContext, stay: Stay) -> None:
    """The thread that reads the stay's output (once per stay: its output is one stream)."""
    stay.records, stay.done = queue.Queue(), object()
    stay.readers = [threading.Thread(target=_read, args=(stay, ctx.shipper.keep), daemon=True)]
    for thread in stay.readers:
        thread.start()


def _read(stay: Stay, keep) -> None:
    """Keep the container's output (attached before it started) for the log as it arrives, here,
    so that no interrupt of the main thread between taking a batch and keeping it loses lines;
    and queue it for the live echo and the pump: one queue item per read of the engine's stream,
    not per line: its whole lines, then the pieces of lines not yet whole (for the echo only)."""
    out, err = Stream.STDOUT, Stream.STDERR  # looked up once: enum members are slow attributes
    try:
        for batch in stay.output:
            records = [(ts, err if stderr else out, line) for ts, stderr, line in batch.lines]
            keep(records)
            stay.records.put((records, [(err if stderr else out, text) for stderr, text in batch.pieces]))
    finally:
        stay.records.put(stay.done)


def _next_batch(stay: Stay) -> tuple[list, list, int]:
    """What the readers queued (waiting up to REQUEST_CHECK_SECONDS for the first batch), about
    FLUSH_RECORDS of it, and how many streams closed meanwhile. A read's pieces of unfinished lines
    end the batch: they come after its lines and before the next read's (which may complete them)."""
    try:
        item = stay.records.get(timeout=REQUEST_CHECK_SECONDS)
    except queue.Empty:
        return [], [], 0
    batch, pieces, closed = [], [], 0
    while item is not None:
        if item is stay.done:
            closed += 1
        else:
            batch.extend(item[0])
            pieces = item[1]
        if pieces or len(batch) >= FLUSH_RECORDS:
            break
        try:
            item = stay.records.get_nowait()
        except queue.Empty:
            item = None
    return batch, pieces, closed


def drain(ctx: JobContext, stay: Stay) -> None:
    """After a kill or removal: wait for the reader to keep what the container printed before it
    died, its last lines printed without a newline included (given at the stream's end), and show
    what was not shown yet. Starts the reader when the pump never did (an interrupt right after
    the start)."""
    if not stay.readers and stay.output is not None:
        _start_readers(ctx, stay)
    if stay.records is None:  # no output to read (a test's stay)
        return
    for thread in stay.readers:
        thread.join(timeout=10)
    batch = []
    while True:
        try:
            item = stay.records.get_nowait()
        except queue.Empty:
            break
        if item is not stay.done:
            batch.extend(item[0])  # the pieces are left out: the lines they belong to come whole
    ctx.shipper.show(batch)


def next_request(ctx: JobContext, stay: Stay) -> MoveRequest | None:
    """A cancel request raises CancelRequested; otherwise the move the platform's triggers ask
    for: a reassign request (`cycle job reassign`, a drill), the machine going offline or busy
    with its owner's work, or the job running too long there."""
    request = ctx.store.take_request(ctx.job.id)
    if request is not None and request.kind == "cancel":
        raise CancelRequested(request.requester)
    taken = (request.target, request.grace, request.requester) if request is not None else None
    move = move_trigger(taken, ctx.store.machine(stay.machine), time.monotonic() - stay.started,
                        ctx.settings.max_run_seconds)
    if move is not None and request is not None:
        move = replace(move, request_id=request.id)  # the answer to it, a refusal included, goes to the requester
    return move
