"""The attach stream's parser (engine/output.py): bytes in, records out, however the reads cut it."""

from __future__ import annotations

import socket
import struct

from emulator.engine.docker import _output_batches
from emulator.engine.output import STDERR, STDOUT, FrameReader, LineSplitter


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


# stdout and stderr interleaved; a line split over frames; a multi-byte character cut by a frame;
# an empty line; bad UTF-8 (kept as the byte it was: surrogateescape's U+DCFF); stderr's last line
# without a newline
STREAM = (frame(STDOUT, b"one\ntw") + frame(STDERR, b"err 1\n") + frame(STDOUT, b"o\n\nth\xc3")
          + frame(STDOUT, b"\xa9\xff\n") + frame(STDERR, b"cut mid-") + frame(STDOUT, b"") + frame(STDERR, b"line"))
EXPECTED = [(False, "one"), (True, "err 1"), (False, "two"), (False, ""), (False, "th\u00e9\udcff"),
            (True, "cut mid-line")]


def parse(reads: list[bytes]) -> list[tuple[int, bool, str]]:
    frames, lines, records = FrameReader(), LineSplitter(), []
    for ts, data in enumerate(reads):
        for stream, payload in frames.feed(data):
            records += lines.feed(stream, payload, ts)
    return records + lines.finish()


def test_frames_split_across_reads_at_every_offset_give_the_same_lines():
    for cut in range(len(STREAM) + 1):
        records = parse([STREAM[:cut], STREAM[cut:]])
        assert [(stderr, line) for _ts, stderr, line in records] == EXPECTED, cut


def test_byte_by_byte_reads_and_one_read_agree():
    one_read = parse([STREAM])
    assert [(stderr, line) for _ts, stderr, line in one_read] == EXPECTED
    assert [record[1:] for record in parse([bytes([b]) for b in STREAM])] == [record[1:] for record in one_read]
    assert lines_checking_pieces([bytes([b]) for b in STREAM]) == EXPECTED


def test_a_line_keeps_the_time_its_first_byte_arrived():
    reads = [frame(STDOUT, b"early "), frame(STDOUT, b"and late\nnext\n")]
    assert parse(reads) == [(0, False, "early and late"), (1, False, "next")]


def test_a_line_longer_than_a_read_is_whole():
    long_line = b"x" * 200_000
    data = frame(STDOUT, long_line[:70_000]) + frame(STDOUT, long_line[70_000:] + b"\n")
    reads = [data[at:at + 65_536] for at in range(0, len(data), 65_536)]
    assert [record[1:] for record in parse(reads)] == [(False, long_line.decode())]


def test_the_socket_is_read_to_its_end_and_closed():
    ours, engine = socket.socketpair()
    engine.sendall(STREAM)
    engine.close()  # EOF after the stream, as when the container exits
    batches = list(_output_batches(ours, clock=iter(range(100)).__next__))
    assert [(stderr, line) for batch in batches for _ts, stderr, line in batch.lines] == EXPECTED
    assert ours.fileno() == -1


def lines_checking_pieces(reads: list[bytes]) -> list[tuple[bool, str]]:
    """The whole lines of reads of frames, checking that each line's pieces, joined, start it."""
    frames, lines = FrameReader(), LineSplitter()
    shown, records = {False: "", True: ""}, []

    def whole(found):
        for _ts, stderr, line in found:
            assert line.startswith(shown[stderr]), (line, shown[stderr])
            shown[stderr] = ""
            records.append((stderr, line))

    for data in reads:
        for stream, payload in frames.feed(data):
            whole(lines.feed(stream, payload, 0))
        for stderr, text in lines.pieces():
            shown[stderr] += text
    whole(lines.finish())
    return records


def test_a_progress_bar_comes_as_pieces_while_its_line_is_unfinished():
    frames, lines = FrameReader(), LineSplitter()
    for stream, payload in frames.feed(frame(STDOUT, b"\rstep 1/3") + frame(STDERR, b"warn")):
        assert lines.feed(stream, payload, 0) == []
    assert lines.pieces() == [(False, "\rstep 1/3"), (True, "warn")]
    assert lines.pieces() == []  # nothing new: nothing given twice
    lines.feed(STDOUT, b"\rstep 2/3", 1)
    assert lines.pieces() == [(False, "\rstep 2/3")]
    assert lines.feed(STDOUT, b"\rstep 3/3\nnext", 2) == [(0, False, "\rstep 1/3\rstep 2/3\rstep 3/3")]
    assert lines.pieces() == [(False, "next")]  # the new unfinished line, from its start
    assert lines.finish() == [(0, True, "warn"), (2, False, "next")]


def test_pieces_joined_start_their_whole_line_however_the_reads_cut_it():
    # a multi-byte character and bad UTF-8 cut between reads: a piece never holds half a character,
    # and the bad byte stays the byte it was
    data = (frame(STDOUT, b"caf\xc3") + frame(STDOUT, b"\xa9 \xff ok") + frame(STDOUT, b" done\nta")
            + frame(STDOUT, b"il"))
    for cut in range(len(data) + 1):
        assert lines_checking_pieces([data[:cut], data[cut:]]) == [(False, "caf\u00e9 \udcff ok done"),
                                                                  (False, "tail")], cut
    assert lines_checking_pieces([bytes([b]) for b in data])[0] == (False, "caf\u00e9 \udcff ok done")


def test_a_read_with_pieces_only_is_a_batch():
    ours, engine = socket.socketpair()
    engine.sendall(frame(STDOUT, b"\r50%"))
    engine.close()
    batches = list(_output_batches(ours, clock=iter(range(100)).__next__))
    assert [(b.lines, b.pieces) for b in batches] == [([], [(False, "\r50%")]), ([(0, False, "\r50%")], [])]


def test_every_byte_a_job_prints_comes_back_from_its_lines():
    """Bytes that are not UTF-8 were replaced by U+FFFD: the log lost them. Each line's text now
    gives back, encoded with surrogateescape, exactly the bytes of that line."""
    printed = b"bad \xff\xfe end\n\xc3\x28 half\ncaf\xc3\xa9 \xed\xa0\x80 surrogate\nno newline \x80"
    records = parse([frame(STDOUT, printed[:7]), frame(STDOUT, printed[7:])])
    assert b"\n".join(line.encode("utf-8", "surrogateescape") for _ts, _err, line in records) == printed
