"""A container's attach stream as log lines: pure (bytes in, records out), no engine, no clock.

Docker's attach stream carries each stdout/stderr read of the container as one frame (an 8-byte
header: stream, 3 zero bytes, big-endian length; then the payload), so a frame holds many lines
or part of one. `FrameReader` cuts frames out of whatever the socket returned (a header or payload
may be split across reads anywhere); `LineSplitter` joins each stream's bytes into whole lines,
keeps a line's first-arrival time, and gives the last line even without its newline.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2
Record = tuple[int, bool, str]  # (ts ns, from stderr, line)


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
        self._partial: dict[bool, tuple[int, bytes]] = {}

    def feed(self, stream: int, payload: bytes, ts_ns: int) -> list[Record]:
        if not payload:
            return []
        stderr = stream == STDERR
        last_newline = payload.rfind(b"\n")
        if last_newline < 0:
            first_ts, head = self._partial.get(stderr, (ts_ns, b""))
            self._partial[stderr] = (first_ts, head + payload)
            return []
        first_ts, head = self._partial.pop(stderr, (ts_ns, b""))
        lines = (head + payload[:last_newline]).decode("utf-8", errors="replace").split("\n")
        if last_newline + 1 < len(payload):
            self._partial[stderr] = (ts_ns, payload[last_newline + 1:])
        records = [(ts_ns, stderr, line) for line in lines]
        records[0] = (first_ts, stderr, lines[0])
        return records

    def finish(self) -> list[Record]:
        """The last line of each stream printed without a newline (a job killed mid-line)."""
        records = [(ts, stderr, head.decode("utf-8", errors="replace")) for stderr, (ts, head) in self._partial.items()]
        self._partial.clear()
        return sorted(records)
