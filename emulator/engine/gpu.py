"""GPUs: which CUDA version the host's driver supports, and the device request a job gets.

Correct by construction and honest about what is here: the driver's CUDA version comes from
`nvidia-smi` (its header says "CUDA Version: X.Y"), a machine's capability can also be declared
with $CYCLE_MACHINE_CUDA (for machines without a GPU, and for tests), and a job whose
`[job] cuda` no machine satisfies waits PENDING with a reason instead of running without its GPU.

`machine_cuda()` is the ONE place the capability is decided (`cycle emulator machines`, the
doctor, `project test` and every claim ask it). A claim polls every 0.2 s, so the driver's answer
is cached per process for DRIVER_TTL_SECONDS, keyed on which nvidia-smi answers (a different
binary on PATH, as in tests, is asked afresh). The clock is injectable for tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

from emulator.settings import load

CUDA_LINE = re.compile(r"CUDA Version:\s*(\d+)\.(\d+)")
DRIVER_TTL_SECONDS = 30.0


class DriverCache:
    """The last answer of each nvidia-smi binary, kept for `ttl` seconds of `clock`."""

    def __init__(self, ttl: float = DRIVER_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._answers: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, smi: str, ask: Callable[[str], str | None]) -> str | None:
        now = self.clock()
        with self._lock:
            found = self._answers.get(smi)
            if found is not None and now - found[0] < self.ttl:
                return found[1]
        answer = ask(smi)
        with self._lock:
            self._answers[smi] = (now, answer)
        return answer

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


DRIVER_CACHE = DriverCache()


def driver_cuda_version() -> str | None:
    """The CUDA version the host's NVIDIA driver supports, or None when there is no usable driver
    (nvidia-smi's answer, cached per binary for DRIVER_TTL_SECONDS)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    return DRIVER_CACHE.get(smi, ask_nvidia_smi)


def ask_nvidia_smi(smi: str) -> str | None:
    """Run `smi` once and read the CUDA version from its header."""
    try:
        out = subprocess.run([smi], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = CUDA_LINE.search(out)
    return f"{found.group(1)}.{found.group(2)}" if found else None


def machine_cuda() -> tuple[str | None, str]:
    """The CUDA capability the simulated machines get, and where it came from."""
    declared = load().machine_cuda
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


def device_requests() -> list[dict]:
    """All GPUs of the machine, as the Engine API asks for them (`docker run --gpus all`)."""
    return [{"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}]
