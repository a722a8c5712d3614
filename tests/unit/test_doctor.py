"""`cycle emulator doctor`: pure checks on stubbed facts, and one real run against the engine."""

from __future__ import annotations

from pathlib import Path

from emulator import doctor
from emulator.doctor import FAIL, OK, WARN, Check, Facts, ImageFact, Probe
from emulator.engine import gpu

DEBIAN = {"cycleswap.base": "debian-bookworm-mmdebstrap"}
BUSYBOX = {"cycleswap.base": "busybox-bash-static"}


def healthy(**changes) -> Facts:
    facts = Facts(engine_version="27.1.0", engine_info={"Runtimes": {"runc": {}}},
                  images=[ImageFact("24.04", "cycle/base:bookworm", "config.toml [images]", True, DEBIAN)],
                  probe=Probe("cycle/base:bookworm", "host", 0, "reached"), storage="local folder /h/storage",
                  home=Path("/h"), free_bytes=100 * 10**9, inotify_watches=524288,
                  cuda=(None, "no NVIDIA driver found"))
    for name, value in changes.items():
        setattr(facts, name, value)
    return facts


def by_name(facts: Facts) -> dict[str, Check]:
    return {c.name: c for c in doctor.checks(facts)}


def test_a_healthy_machine_is_all_ok_and_exits_0():
    found = doctor.checks(healthy())
    assert [c.status for c in found] == [OK] * len(found)
    assert [c.name for c in found] == ["engine", "base image 24.04", "build network", "artifact store", "disk",
                                       "inotify", "gpu"]
    assert doctor.exit_code(found) == 0


def test_no_engine_fails_with_the_fix_and_skips_engine_checks():
    found = doctor.checks(healthy(engine_version=None, engine_error="connection refused"))
    assert found[0] == Check("engine", FAIL, "no Docker engine answers (connection refused)", found[0].fix)
    assert "cycle emulator engine start" in found[0].fix
    assert not any(c.name.startswith(("base image", "build network")) for c in found)
    assert doctor.exit_code(found) == 1


def test_base_images_say_whether_they_are_real():
    facts = healthy(images=[ImageFact("22.04", "ubuntu:22.04", "default", True),
                            ImageFact("24.04", "cycle/base:busybox", "x", True, BUSYBOX),
                            ImageFact("25.04", "cycle/base:bookworm", "x", False)])
    checks = by_name(facts)
    assert checks["base image 22.04"].status == OK and "real Ubuntu" in checks["base image 22.04"].detail
    assert checks["base image 24.04"].status == WARN and "mmdebstrap" in checks["base image 24.04"].fix
    assert checks["base image 25.04"].status == FAIL and "cycle emulator base-image" in checks["base image 25.04"].fix


def test_a_base_image_reference_the_engine_cannot_parse_fails_naming_its_setting():
    problem = "`Bad:1` is not an image reference the Docker engine accepts (invalid reference format)"
    checks = by_name(healthy(images=[ImageFact("24.04", "Bad:1", "$CYCLE_BASE_IMAGE", False, problem=problem)]))
    assert checks["base image 24.04"] == Check("base image 24.04", FAIL, problem,
                                               "map [ubuntu] 24.04 to a valid image ($CYCLE_BASE_IMAGE)")


def test_build_network_probe_results():
    assert by_name(healthy(probe=None))["build network"].status == WARN
    failed = by_name(healthy(probe=Probe("img", "host", 1,
                                         "urllib.error.URLError: <urlopen error CERTIFICATE_VERIFY_FAILED>\n")))
    assert failed["build network"].status == FAIL
    network = failed["build network"]
    assert "CERTIFICATE_VERIFY_FAILED" in network.detail and "ca-certificates" in network.fix


def test_storage_disk_and_inotify_limits():
    checks = by_name(healthy(storage_error="connection refused", free_bytes=10 * 10**9, inotify_watches=8192))
    assert checks["artifact store"].status == FAIL
    assert checks["disk"].status == WARN and "10.0 GB" in checks["disk"].detail
    assert checks["inotify"].status == WARN and "max_user_watches=524288" in checks["inotify"].fix
    assert by_name(healthy(free_bytes=10**9))["disk"].status == FAIL


def test_text_shows_fixes_only_for_problems():
    said = doctor.text([Check("disk", OK, "fine", "never shown"), Check("inotify", WARN, "low", "raise it")])
    assert "never shown" not in said and "fix: raise it" in said


def test_gpu_driver_and_nvidia_runtime(fake_gpu):
    cuda = gpu.machine_cuda()
    without = by_name(healthy(cuda=cuda, engine_info={"Runtimes": {"runc": {}, "io.containerd.runc.v2": {}}}))
    assert without["gpu"] == Check("gpu", OK, "machines support CUDA 12.4 (nvidia-smi)")
    assert without["nvidia runtime"].status == WARN and "nvidia-ctk runtime configure" in without["nvidia runtime"].fix
    present = by_name(healthy(cuda=cuda, engine_info={"Runtimes": {"runc": {}, "nvidia": {}}}))
    assert present["nvidia runtime"].status == OK


def test_a_declared_cuda_needs_no_runtime_check(monkeypatch):
    monkeypatch.setenv("CYCLE_MACHINE_CUDA", "12.2")
    assert "nvidia runtime" not in by_name(healthy(cuda=gpu.machine_cuda()))
