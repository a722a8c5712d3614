"""`cycle doctor` against the real Docker engine (the checks on injected probes are in tests/unit/test_doctor.py)."""

from __future__ import annotations

import json

from emulator.doctor import FAIL, OK

from helpers import cli


def test_doctor_json_against_the_real_engine(home, docker_client, monkeypatch):
    monkeypatch.delenv("CYCLE_BASE_IMAGE")  # home maps busybox for speed; the doctor probes a real image
    from emulator.config import map_versions
    from emulator.engine.baseimage import DEBIAN_TAG

    map_versions(DEBIAN_TAG, ["24.04"], home)
    result = cli("emulator", "doctor", "--json")
    found = {c["name"]: c for c in json.loads(result.output)}
    assert found["engine"]["status"] == OK
    debian_present = bool(docker_client.images.list(name=DEBIAN_TAG))
    assert found["base image 24.04"]["status"] == (OK if debian_present else FAIL)
    if debian_present:  # a probe container from it reaches PyPI through this machine's proxy
        assert found["build network"]["status"] == OK, found["build network"]
    assert {"build network", "artifact store", "disk", "inotify", "gpu"} <= set(found)
    assert result.exit_code == (1 if any(c["status"] == FAIL for c in found.values()) else 0)
