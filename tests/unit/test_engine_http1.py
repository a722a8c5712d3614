"""cycle's HTTP/1.1 to the Docker engine (emulator/engine/http1.py, engine/api.py), against a peer
on a socket pair that answers as the engine does: by length, in chunks cut anywhere, until it
closes, with a 101 and the hijacked stream right behind it, or with an error."""

from __future__ import annotations

import json
import socket
import tempfile
import threading

import pytest

from emulator.engine import http1
from emulator.engine.api import EngineAPI, EngineError, NotFound, Unreachable, UnsupportedHost


def answered(answer: bytes, pieces: int = 1):
    """A socket whose peer reads the request, then sends `answer` in `pieces` writes and closes;
    returns (our socket, a function giving the request the peer read)."""
    ours, peer = socket.socketpair()
    seen = bytearray()

    def serve():
        while b"\r\n\r\n" not in seen:
            seen.extend(peer.recv(65536))
        head, _, body = bytes(seen).partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        while len(body) < length:
            body += peer.recv(65536)
            seen[:] = head + b"\r\n\r\n" + body
        step = max(1, len(answer) // pieces)
        for at in range(0, len(answer), step):
            peer.sendall(answer[at:at + step])
        peer.close()

    thread = threading.Thread(target=serve)
    thread.start()
    return ours, lambda: (thread.join(5), bytes(seen))[1]


def chunked(*parts: bytes, extension: bytes = b"", trailer: bytes = b"") -> bytes:
    return (b"".join(b"%x%s\r\n%s\r\n" % (len(part), extension, part) for part in parts)
            + b"0\r\n" + trailer + b"\r\n")


@pytest.mark.parametrize("pieces", [1, 3, 97])
def test_a_body_by_length_by_chunks_or_until_close_reads_the_same_however_the_bytes_arrive(pieces):
    body = b'{"Id": "abc"}' * 50
    answers = [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body[:7], body[7:300], body[300:]),
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, extension=b";name=v",
                                                                                  trailer=b"X-Checksum: 1\r\n"),
               b"HTTP/1.1 200 OK\r\n\r\n" + body]
    for answer in answers:
        sock, _request = answered(answer, pieces)
        response = http1.request(sock, "GET", "/x")
        assert response.status == 200 and response.read() == body and response.read() == b""
        sock.close()


def test_a_request_says_its_length_and_sends_a_file_body_whole():
    sock, request = answered(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    with tempfile.TemporaryFile() as body:
        body.write(b"skip this:" + b"tar bytes" * 1000)
        body.seek(10)  # from where it stands, its last writes perhaps still in its buffer
        assert http1.request(sock, "PUT", "/containers/c/archive?path=%2F", {"Content-Type": "application/x-tar"},
                             body).status == 200
    sent = request()
    head, _, payload = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"PUT /containers/c/archive?path=%2F HTTP/1.1\r\n")
    assert b"Content-Length: 9000" in head and b"Connection: close" in head and payload == b"tar bytes" * 1000
    sock.close()


def test_a_101_answer_hands_over_the_bytes_that_came_with_it():
    frame = b"\x01\x00\x00\x00\x00\x00\x00\x02hi"  # stdout, 2 bytes
    sock, _ = answered(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame)
    response = http1.request(sock, "POST", "/containers/c/attach", {"Connection": "Upgrade", "Upgrade": "tcp"})
    assert response.status == 101 and response.read() == b""
    assert response.leftover() == frame
    sock.close()


def test_an_answer_that_is_not_http_or_ends_early_is_a_protocol_error():
    for answer in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-",
                   b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"):
        sock, _ = answered(answer)
        with pytest.raises(http1.ProtocolError):
            http1.request(sock, "GET", "/x")
        sock.close()
    for cut in (b"Transfer-Encoding: chunked\r\n\r\n5\r\nab", b"Transfer-Encoding: chunked\r\n\r\n\r\n",
                b"Content-Length: 100\r\n\r\nshort"):
        sock, _ = answered(b"HTTP/1.1 200 OK\r\n" + cut)
        with pytest.raises(http1.ProtocolError):
            http1.request(sock, "GET", "/x").read()
        sock.close()


def test_an_empty_answer_by_length_does_not_wait_for_the_engine_to_close():
    ours, peer = socket.socketpair()
    ours.settimeout(2)
    peer.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert http1.request(ours, "POST", "/containers/c/start").read() == b""  # a wait would time out
    peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert http1.request(ours, "POST", "/containers/c/kill").read() == b""
    ours.close()
    peer.close()


class PairedAPI(EngineAPI):
    """EngineAPI whose every connection is a socket pair answered with the next of `answers`."""

    def __init__(self, *answers: bytes) -> None:
        super().__init__("unix:///nowhere")
        self.answers = list(answers)
        self.requests: list = []

    def _connect(self, timeout):
        sock, request = answered(self.answers.pop(0))
        self.requests.append(request)
        return sock


def test_the_engine_s_errors_become_its_own_explanation_and_404_is_not_found():
    missing = json.dumps({"message": "No such image: nope:1"}).encode()
    refused = json.dumps({"message": "could not select device driver"}).encode()
    api = PairedAPI(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(missing) + missing,
                    b"HTTP/1.1 500 Server Error\r\nContent-Length: %d\r\n\r\n" % len(refused) + refused,
                    b"HTTP/1.1 301 Moved Permanently\r\nLocation: /images/b/json\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(NotFound, match="No such image: nope:1"):
        api.image("nope:1")
    with pytest.raises(EngineError, match="could not select device driver") as error:
        api.start("c")
    assert error.value.status == 500 and not isinstance(error.value, NotFound)
    assert error.value.message.startswith("the Docker engine refused the request (HTTP 500)")  # what the CLI says
    with pytest.raises(EngineError) as moved:
        api.image("a/../b")
    assert moved.value.status == 301


def test_a_progress_stream_with_an_error_inside_a_200_raises_it():
    stream = b'{"status":"Pulling from library/ubuntu"}\r\n{"errorDetail":{"message":"no registry"},"error":"x"}\r\n'
    api = PairedAPI(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(stream))
    with pytest.raises(EngineError, match="no registry"):
        api.pull("ubuntu", "24.04", timeout=5)


def test_filters_go_as_json_and_lists_repeat_their_key():
    url = EngineAPI.url("/containers/json", {"all": "1", "filters": {"label": ["a=1", "b=2"]}, "skip": None})
    assert url == "/containers/json?all=1&filters=%7B%22label%22%3A+%5B%22a%3D1%22%2C+%22b%3D2%22%5D%7D"
    assert EngineAPI.url("/commit", {"changes": ["LABEL a=1", "LABEL b=2"]}) == \
        "/commit?changes=LABEL+a%3D1&changes=LABEL+b%3D2"


def test_no_engine_at_the_address_is_unreachable_not_a_traceback(tmp_path):
    with pytest.raises(Unreachable, match="no Docker engine answers"):
        EngineAPI(f"unix://{tmp_path}/docker.sock").ping()


@pytest.mark.parametrize("host", ["ssh://builder@far-away", "tcp://10.0.0.7:2375", "https://127.0.0.1:2376",
                                  "tcp://127.0.0.1:abc"])
def test_an_engine_elsewhere_is_refused_as_bad_input_saying_why(host):
    with pytest.raises(UnsupportedHost, match="bind-mounts this machine's folders") as refused:
        EngineAPI(host)
    assert refused.value.exit_code == 2 and not isinstance(refused.value, Unreachable)


def test_local_addresses_are_read_as_docker_reads_them():
    assert EngineAPI("unix://var/run/docker.sock")._unix_path == "/var/run/docker.sock"
    assert EngineAPI("unix:///run/user/1000/docker.sock")._unix_path == "/run/user/1000/docker.sock"
    assert EngineAPI("tcp://127.0.0.1:2375")._tcp == ("127.0.0.1", 2375)
    assert EngineAPI("tcp://localhost")._tcp == ("localhost", 2375)


def test_a_listener_that_never_answers_is_given_up_on_at_the_ping_s_timeout():
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        api = EngineAPI(f"tcp://127.0.0.1:{listener.getsockname()[1]}")  # 300 s for other requests
        started = time.monotonic()
        with pytest.raises(Unreachable, match="did not answer"):
            api.ping(timeout=0.3)
        assert time.monotonic() - started < 5


def test_a_job_s_engine_error_names_where_cycle_called_the_engine_not_the_client():
    from emulator.engine.docker import create_container_id
    from emulator.engine.protocol import ContainerSpec
    from emulator.job.guard import describe_error

    refusal = b'{"message":"Minimum memory limit allowed is 6MB"}'
    api = PairedAPI(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(refusal) + refusal)
    with pytest.raises(EngineError) as error:
        create_container_id(api, ContainerSpec(image="x", command=["true"], labels={}, mem_limit=1000))
    described = describe_error(error.value)
    assert described.startswith("EngineError: Minimum memory limit allowed is 6MB (in create_container_id, docker.py:")
