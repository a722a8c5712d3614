"""GPU driver detection on a fake nvidia-smi: no engine needed."""

from __future__ import annotations

import os
import stat

from emulator.engine import gpu


def test_driver_version_parsing_and_matching(fake_gpu, monkeypatch):
    assert gpu.driver_cuda_version() == "12.4"
    assert gpu.machine_cuda() == ("12.4", "nvidia-smi")
    monkeypatch.setenv("CYCLE_MACHINE_CUDA", "13.0")
    assert gpu.machine_cuda() == ("13.0", "$CYCLE_MACHINE_CUDA")
    assert gpu.satisfies("12.4", "12.2") and gpu.satisfies("12.10", "12.9") and not gpu.satisfies("12.4", "13.0")
    assert not gpu.satisfies(None, "11.0") and gpu.satisfies(None, None)


def test_no_driver_means_no_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CYCLE_MACHINE_CUDA", raising=False)
    assert gpu.driver_cuda_version() is None and gpu.machine_cuda()[0] is None


def test_claim_polls_ask_nvidia_smi_once_per_ttl(tmp_path, monkeypatch):
    """A claim polls every 0.2 s; the driver's answer is cached, so nvidia-smi runs once, not per poll."""
    folder = tmp_path / "countbin"
    folder.mkdir()
    calls = tmp_path / "calls"
    smi = folder / "nvidia-smi"
    smi.write_text(f'#!/bin/sh\necho run >> {calls}\necho "| Driver Version: 550.54.14   CUDA Version: 12.4 |"\n')
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.delenv("CYCLE_MACHINE_CUDA", raising=False)
    assert all(gpu.machine_cuda() == ("12.4", "nvidia-smi") for _ in range(20))
    assert calls.read_text().count("run") == 1
