"""The Debian base image against the real engine: made by set-up, real (python3, apt-get), trusting
the host's CA certificates, and enough for the platform's default build.sh with no flags.

Marked `network`: they reach PyPI and the Debian mirror. The first run builds the image with
mmdebstrap (~1-2 min); later runs reuse it (seconds).
"""

from __future__ import annotations

import json
import shutil

import pytest

from cycle.api.manifest import UBUNTU_VERSIONS
from emulator.config import image_for
from emulator.engine.baseimage import DEBIAN_TAG, DEFAULT_TAG, provide_base_images
from emulator.models import JobState

from helpers import cli

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def debian_image(engine):
    """The Debian image, made the way set-up makes it (reused when it exists)."""
    provided = provide_base_images(engine, list(UBUNTU_VERSIONS), "debian")
    assert provided.stand_in == DEBIAN_TAG
    return DEBIAN_TAG


def run_in(client, image: str, script: str) -> tuple[int, str]:
    """Run `script` in a throwaway container on the host's network (this engine has no bridge)."""
    container = client.containers.create(image, ["bash", "-c", script], network_mode="host",
                                         labels={"cycleswap.emulator": "1", "cycleswap.kind": "test"})
    try:
        container.start()
        code = container.wait(timeout=120)["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def test_base_image_maps_every_version_to_debian(home, monkeypatch, debian_image):
    monkeypatch.delenv("CYCLE_BASE_IMAGE")
    result = cli("emulator", "base-image", "--no-pull")
    assert result.exit_code == 0, result.output
    assert {image_for(v, home).image for v in UBUNTU_VERSIONS} == {DEBIAN_TAG}
    listed = cli("emulator", "images").output
    assert "Debian bookworm root filesystem built with mmdebstrap, standing in for ubuntu:24.04" in listed
    rows = json.loads(cli("emulator", "images", "--json").output)
    assert [(row["version"], row["image"], row["present"]) for row in rows] == [(v, DEBIAN_TAG, True)
                                                                              for v in UBUNTU_VERSIONS]


def test_the_image_is_real_debian_with_python_and_apt(docker_client, debian_image):
    code, out = run_in(docker_client, debian_image, "grep ^ID= /etc/os-release; python3 -m venv /tmp/v && "
                       "command -v apt-get pip curl; echo $UV_SYSTEM_CERTS $LANG; "
                       "ls /usr/share/man 2>/dev/null | wc -l")
    assert code == 0, out
    assert "ID=debian" in out and "/usr/bin/apt-get" in out and "/usr/bin/pip" in out and "/usr/bin/curl" in out
    assert "1 C.UTF-8" in out and out.strip().endswith("0")  # uv told to use the system store; no man pages


def test_the_image_trusts_the_host_ca(docker_client, debian_image):
    code, out = run_in(docker_client, debian_image,
                       "curl -sSI https://pypi.org/simple/ | head -1 && pip download -q --no-deps -d /tmp/w six && ls "
                       "/tmp/w")
    assert code == 0, out
    assert "200" in out.splitlines()[0] and "six-" in out


def test_apt_get_update_in_build_sh_works_with_no_flags(project, monkeypatch, debian_image):
    monkeypatch.setenv("CYCLE_BASE_IMAGE", debian_image)
    project.write(".cycleswap/build.sh", "set -e\napt-get update -qq\necho apt-ok\n")
    run = project.test()
    assert run.job.state is JobState.FINISHED, run.output
    assert "[build] apt-ok" in run.output
    assert "standing in for ubuntu:24.04" in run.output


def test_busybox_is_the_last_resort_and_said_loudly(engine, monkeypatch, tmp_path):
    """No registry tried, no mmdebstrap: busybox, with a WARNING paragraph."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    said = []
    provided = provide_base_images(engine, ["24.04"], "auto", pull=False, say=said.append,
                                   debian_tag="cycle/test-never-built:1")
    assert provided.stand_in == DEFAULT_TAG
    assert any("mmdebstrap is missing" in line for line in said)
    assert any(line.startswith("WARNING:") and "no apt-get and no Python" in line for line in said)
