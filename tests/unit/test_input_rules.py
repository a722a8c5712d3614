"""Pure rules for flags that reach the engine or config.toml: mount paths, S3 host and bucket. No Docker."""

from __future__ import annotations

import pytest

from cycle.errors import BadInput
from emulator.storage import check_bucket, check_host_port
from emulator.volumes import check_mount_path


@pytest.mark.parametrize("path", ["/data/prev", "/data/prev/", "/a" * 1000, "/" + "n" * 255, "/daten/é"])
def test_plain_mount_paths_pass(path):
    assert check_mount_path(path) == path.rstrip("/")


@pytest.mark.parametrize("path, words", [
    ("//", ["root"]), ("/", ["root"]), ("relative", ["absolute"]), ("/data:rw", ["':'"]),
    ("/a//b", ["'/a/b'"]), ("/a/./b", ["'/a/b'"]), ("/a/../b", ["'..'"]), ("/a\nb", ["control character"]),
    ("/" + "n" * 256, ["256-byte", "255"]), ("/" + "é" * 128, ["256-byte"]), ("/abc" * 1024, ["4096 bytes", "4095"]),
    ("/artifacts/x", ["collides with /artifacts"]),
])
def test_unusable_mount_paths_are_refused(path, words):
    with pytest.raises(BadInput) as caught:
        check_mount_path(path)
    assert all(word in caught.value.message for word in words), caught.value.message
    assert len(caught.value.message) < 400


@pytest.mark.parametrize("host", ["localhost:4566", "127.0.0.1:1", "a-b.c.example.:9000"])
def test_host_port_pass(host):
    assert check_host_port(host) == host


@pytest.mark.parametrize("host", ["not a host", "localhost", "localhost:", ":4566", "localhost:0", "localhost:65536",
                                  "host:12ab", "::1:4566", "[::1]", "-a.example:1", "a" * 64 + ".example:1",
                                  "1.2.3.999:80", "[::1]:65535", "http://localhost:4566", "local_host:4566"])
def test_bad_host_port_is_refused(host):
    with pytest.raises(BadInput):
        check_host_port(host)


def test_bucket_names_follow_s3():
    assert check_bucket("cycleswap") == "cycleswap"
    for bad in ("ab", "Upper", "under_score", "-lead", "a..b", "x" * 64):
        with pytest.raises(BadInput):
            check_bucket(bad)
