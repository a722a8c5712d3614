"""HTTP/1.1 on a socket, as much as the Docker engine's API needs: one request per connection.

Why not http.client: it imports the email package (to parse headers) and ssl, 13.5 ms of a cached
`cycle project test` measured in-process, where issue 14's goal leaves ~10 ms to spare; the
engine's answers need none of that. What is here: a request with a bytes or file body (a file goes
by sendfile, with its length), and an answer's status line, headers and body, whichever way the
engine sends it (Content-Length, chunked, or until it closes), plus the bytes after a 101 answer
for a hijacked stream (the attach endpoint).
"""

from __future__ import annotations

import os
import socket
from typing import Any, BinaryIO

READ_SIZE = 64 * 1024
MAX_HEAD = 64 * 1024  # an answer's status line and headers; the engine's are a few hundred bytes


class ProtocolError(ConnectionError):
    """The peer's answer is not HTTP/1.1 as we read it (or it closed before answering)."""


def send_request(sock: socket.socket, method: str, target: str, headers: dict[str, str],
                 body: bytes | BinaryIO | None) -> None:
    """Write the request; `Connection: close` unless `headers` say otherwise (one request per
    connection), so an answer with neither a length nor chunks ends when the engine closes."""
    size = _body_size(body)
    fields = {"Host": "docker", "Connection": "close", **headers, "Content-Length": str(size)}
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in fields.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if isinstance(body, bytes | bytearray):
        sock.sendall(body)
    elif body is not None:
        body.flush()  # a temporary file's last writes may still sit in its buffer
        sock.sendfile(body, offset=body.tell(), count=size)  # os.sendfile for a real file, else in blocks


def _body_size(body: bytes | BinaryIO | None) -> int:
    if body is None:
        return 0
    if isinstance(body, bytes | bytearray):
        return len(body)
    start = body.tell()
    end = body.seek(0, os.SEEK_END)
    body.seek(start)
    return end - start


class Response:
    """An answer read from `sock`: `status`, `headers` (lower-case names) and `read()`."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._eof = False
        head = self._read_head()
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.1 answer: {status_line[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        no_body = method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._left: int | None = 0 if no_body else (None if self._chunked or length is None else _number(length, 10))
        self._chunk_left = 0
        self._done = self._left == 0

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def leftover(self) -> bytes:
        """The bytes that came after the head (of a 101 answer: the start of the hijacked stream)."""
        data, self._buffer = bytes(self._buffer), bytearray()
        return data

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the body (all of it for -1); b"" at its end."""
        if size < 0:
            parts = []
            while part := self.read(READ_SIZE):
                parts.append(part)
            return b"".join(parts)
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        if self._left is not None:
            data = self._take(min(size, self._left))
            if not data:
                raise ProtocolError(f"the engine closed the connection {self._left} byte(s) before the answer's end")
            self._left -= len(data)
            self._done = self._left == 0
            return data
        data = self._take(size)  # until the engine closes
        self._done = not data
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._readline()
            self._chunk_left = _number(line.split(b";", 1)[0].strip().decode("latin-1"), 16)  # ";ext" ignored
            if self._chunk_left == 0:  # the last chunk, then trailers up to an empty line
                while self._readline():
                    pass
                self._done = True
                return b""
        data = self._take(min(size, self._chunk_left))
        if not data:
            raise ProtocolError("the engine closed the connection inside a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._readline()  # the CRLF after the chunk's data
        return data

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._sock.recv(READ_SIZE)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def _take(self, size: int) -> bytes:
        """Up to `size` bytes: what is buffered, else one read of the socket."""
        if not self._buffer and not self._fill():
            return b""
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _readline(self) -> bytes:
        return self._read_until(b"\r\n", "the engine's answer ended inside a line")

    def _read_head(self) -> bytes:
        return self._read_until(b"\r\n\r\n", "the engine closed the connection before answering")

    def _read_until(self, separator: bytes, cut_short: str) -> bytes:
        """The bytes up to `separator` (dropped); ProtocolError (`cut_short`) at EOF or past MAX_HEAD."""
        while (end := self._buffer.find(separator)) < 0:
            if len(self._buffer) > MAX_HEAD or not self._fill():
                raise ProtocolError(cut_short)
        data = bytes(self._buffer[:end])
        del self._buffer[:end + len(separator)]
        return data

def _number(text: str, base: int) -> int:
    """A length in the answer's head or a chunk's size line; ProtocolError when it is not one."""
    try:
        value = int(text, base)
    except ValueError:
        raise ProtocolError(f"not a length in the engine's answer: {text[:40]!r}") from None
    if value < 0:
        raise ProtocolError(f"a negative length in the engine's answer: {text[:40]!r}")
    return value


def request(sock: socket.socket, method: str, target: str, headers: dict[str, str] | None = None,
            body: Any = None) -> Response:
    """Send one request on a connected socket and read its answer's head. An engine that refuses a
    request early (a bad import's `changes`) answers and closes before taking the whole body: its
    answer is still read, so its words, not a broken pipe, say why."""
    try:
        send_request(sock, method, target, headers or {}, body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # no answer behind it: Response says the engine closed before answering
    return Response(sock, method)
