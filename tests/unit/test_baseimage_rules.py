"""Pure rules behind the base images and the network default: no Docker, no network."""

from __future__ import annotations

from pathlib import Path

from emulator.engine.baseimage import (
    DEBIAN_ENV,
    AptSource,
    debian_sources,
    explain,
    mmdebstrap_command,
    parse_apt_sources,
)
from emulator.engine.dockerd import network_for

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_sources_are_read_without_deb_src():
    assert parse_apt_sources(DEB822) == [
        AptSource("http://mirror.example/debian", "bookworm", "main contrib"),
        AptSource("http://mirror.example/debian", "bookworm-updates", "main contrib"),
        AptSource("http://mirror.example/debian-security", "bookworm-security", "main"),
    ]


def test_one_line_sources_are_read_with_options():
    text = ("# comment\ndeb [arch=amd64] http://m.example/debian bookworm main\n"
            "deb-src http://m.example/debian bookworm main\n")
    assert parse_apt_sources(text) == [AptSource("http://m.example/debian", "bookworm", "main")]


def test_the_image_reuses_the_machines_mirror_for_its_suite_only(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.list").write_text("deb https://packages.example/apt cloud-sdk main\n")
    suites = [s.suite for s in debian_sources("bookworm", tmp_path)]
    assert suites == ["bookworm", "bookworm-updates", "bookworm-security"]
    default = [AptSource("http://deb.debian.org/debian", "bookworm", "main")]
    assert debian_sources("bookworm", tmp_path / "nothing") == default


def test_mmdebstrap_trims_trusts_the_host_cas_and_lists_the_sources(tmp_path: Path):
    sources = [AptSource("http://m.example/debian", "bookworm", "main")]
    command = mmdebstrap_command("bookworm", sources, [Path("/ca/corp.crt")], tmp_path / "rootfs.tar")
    assert command[:2] == ["mmdebstrap", "--variant=minbase"]
    assert "--include=python3,python3-venv,python3-pip,curl,ca-certificates" in command
    assert "--dpkgopt=path-exclude=/usr/share/doc/*" in command and "--dpkgopt=path-exclude=/usr/share/man/*" in command
    assert "--customize-hook=copy-in /ca/corp.crt /usr/local/share/ca-certificates" in command
    assert '--customize-hook=chroot "$1" update-ca-certificates' in command
    assert command[-3:] == ["bookworm", str(tmp_path / "rootfs.tar"), "deb http://m.example/debian bookworm main"]
    no_ca = mmdebstrap_command("bookworm", sources, [], tmp_path / "rootfs.tar")
    assert not any("update-ca-certificates" in part for part in no_ca)


def test_uv_is_told_to_use_the_system_trust_store():
    assert {"UV_SYSTEM_CERTS=1", "UV_NATIVE_TLS=1", "LANG=C.UTF-8"} <= set(DEBIAN_ENV)


def test_a_run_says_what_its_stand_in_is():
    said = explain("24.04", "cycle/base:bookworm", "config.toml [images]",
                   {"cycleswap.base": "debian-bookworm-mmdebstrap"})
    assert said == ("cycle/base:bookworm (Debian bookworm root filesystem built with mmdebstrap, standing in for "
                    "ubuntu:24.04; chosen by config.toml [images])")
    busybox = explain("24.04", "cycle/base:busybox", "x", {"cycleswap.base": "busybox-bash-static"})
    assert "without apt-get or Python" in busybox
    assert explain("24.04", "ubuntu:24.04", "default", {}) == "ubuntu:24.04 (default)"


def test_auto_network_is_the_bridge_or_the_host_and_explicit_choices_stand():
    assert network_for("auto", has_bridge=True) == "bridge"
    assert network_for("auto", has_bridge=False) == "host"
    assert network_for("none", has_bridge=True) == "none"
    assert network_for("my-net", has_bridge=False) == "my-net"
