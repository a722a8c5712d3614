"""GPUs: which CUDA version the host's driver supports, and the device request a job gets.

Correct by construction and honest about what is here: the driver's CUDA version comes from
`nvidia-smi` (its header says "CUDA Version: X.Y"), a machine's capability can also be declared
with $CYCLE_MACHINE_CUDA (for machines without a GPU, and for tests), and a job whose
`[job] cuda` no machine satisfies waits PENDING with a reason instead of running without its GPU.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

CUDA_LINE = re.compile(r"CUDA Version:\s*(\d+)\.(\d+)")


def driver_cuda_version() -> str | None:
    """The CUDA version the host's NVIDIA driver supports, or None when there is no usable driver."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = CUDA_LINE.search(out)
    return f"{found.group(1)}.{found.group(2)}" if found else None


def machine_cuda() -> tuple[str | None, str]:
    """The CUDA capability the simulated machines get, and where it came from."""
    declared = os.environ.get("CYCLE_MACHINE_CUDA")
    if declared:
        return declared, "$CYCLE_MACHINE_CUDA"
    detected = driver_cuda_version()
    return (detected, "nvidia-smi") if detected else (None, "no NVIDIA driver found (nvidia-smi)")


def version_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def satisfies(machine: str | None, wanted: str | None) -> bool:
    """True when a machine whose driver supports CUDA `machine` may run a job that needs `wanted`."""
    if wanted is None:
        return True
    return machine is not None and version_tuple(machine) >= version_tuple(wanted)


def device_requests():
    """All GPUs of the machine, as docker-py asks for them (`docker run --gpus all`)."""
    from docker.types import DeviceRequest

    return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
