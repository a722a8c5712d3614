"""A container's attach stream as log lines: pure (bytes in, records out), no engine, no clock.

Docker's attach stream carries each stdout/stderr read of the container as one frame (an 8-byte
header: stream, 3 zero bytes, big-endian length; then the payload), so a frame holds many lines
or part of one. `FrameReader` cuts frames out of whatever the socket returned (a header or payload
may be split across reads anywhere); `LineSplitter` joins each stream's bytes into whole lines,
keeps a line's first-arrival time, and gives the last line even without its newline; for a live
echo it also gives, as it comes, the text of each stream's line not yet ended by a newline (a
progress bar redrawn with `\r`), so a terminal shows it before the line is whole.

Bytes that are not UTF-8 are kept, not replaced: decoded with `surrogateescape` (each such byte a
lone surrogate U+DC80-U+DCFF), they are stored as the bytes they were (store/direct.py
storable_text) and written back as those bytes (`cycle job logs`, output.log, the terminal), as
`docker logs` passes them through; only a screen that must draw them shows U+FFFD.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass, field

HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2
Record = tuple[int, bool, str]  # (ts ns, from stderr, line)
Piece = tuple[bool, str]  # (from stderr, text of a line not yet whole, since the previous piece)


@dataclass
class OutputBatch:
    """What one read of a container's output gave: its whole lines (for the log and the terminal)
    and then, per stream, the text of the line still unfinished that arrived with it (for a live
    echo only: the line reaches `lines` of a later batch whole, the pieces included)."""

    lines: list[Record]
    pieces: list[Piece] = field(default_factory=list)


class FrameReader:
    """Multiplexed frames from raw reads: `feed(bytes)` gives the (stream, payload) frames completed."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buffer = self._buffer
        buffer += data
        frames, at = [], 0
        while len(buffer) - at >= HEADER.size:
            stream, size = HEADER.unpack_from(buffer, at)
            end = at + HEADER.size + size
            if end > len(buffer):
                break
            frames.append((stream, bytes(buffer[at + HEADER.size:end])))
            at = end
        del buffer[:at]
        return frames


class LineSplitter:
    """Whole lines of stdout and stderr from their payloads, each stamped when its first byte came."""

    def __init__(self) -> None:
        self._partial: dict[bool, tuple[int, bytearray]] = {}  # per stream: (first byte's time, the line so far)
        self._shown: dict[bool, tuple[int, codecs.IncrementalDecoder]] = {}  # bytes given as pieces, decoder

    def feed(self, stream: int, payload: bytes, ts_ns: int) -> list[Record]:
        if not payload:
            return []
        stderr = stream == STDERR
        last_newline = payload.rfind(b"\n")
        if last_newline < 0:  # grown in place: a bar redrawn for hours without a newline is one long line
            if (partial := self._partial.get(stderr)) is None:
                self._partial[stderr] = (ts_ns, bytearray(payload))
            else:
                partial[1].extend(payload)
            return []
        first_ts, head = self._partial.pop(stderr, (ts_ns, b""))
        self._shown.pop(stderr, None)
        lines = (head + payload[:last_newline]).decode("utf-8", errors="surrogateescape").split("\n")
        if last_newline + 1 < len(payload):
            self._partial[stderr] = (ts_ns, bytearray(payload[last_newline + 1:]))
        records = [(ts_ns, stderr, line) for line in lines]
        records[0] = (first_ts, stderr, lines[0])
        return records

    def pieces(self) -> list[Piece]:
        """Per stream, the text its unfinished line gained since the previous call. Decoded
        incrementally (a character cut between reads waits for its last byte), so a stream's
        pieces joined are the start of its whole line as feed() or finish() gives it later."""
        pieces = []
        for stderr, (_ts, head) in self._partial.items():
            shown, decoder = self._shown.get(stderr) or (0, codecs.getincrementaldecoder("utf-8")("surrogateescape"))
            if len(head) > shown:
                self._shown[stderr] = (len(head), decoder)
                if text := decoder.decode(head[shown:]):
                    pieces.append((stderr, text))
        return pieces

    def finish(self) -> list[Record]:
        """The last line of each stream printed without a newline (a job killed mid-line)."""
        records = [(ts, stderr, head.decode("utf-8", errors="surrogateescape"))
                   for stderr, (ts, head) in self._partial.items()]
        self._partial.clear()
        self._shown.clear()
        return sorted(records)
