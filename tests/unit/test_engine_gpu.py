from __future__ import annotations

from emulator.engine.gpu import DriverCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_driver_is_asked_once_per_ttl_per_binary():
    clock, asked = Clock(), []
    cache = DriverCache(ttl=30.0, clock=clock)

    def ask(smi: str) -> str | None:
        asked.append(smi)
        return "12.4"

    for _ in range(150):  # 30 s of claim polls every 0.2 s
        assert cache.get("/usr/bin/nvidia-smi", ask) == "12.4"
        clock.now += 0.2
    assert asked == ["/usr/bin/nvidia-smi"]
    clock.now += 0.1
    cache.get("/usr/bin/nvidia-smi", ask)
    cache.get("/tmp/fake/nvidia-smi", ask)  # another binary on PATH is asked afresh
    assert asked == ["/usr/bin/nvidia-smi", "/usr/bin/nvidia-smi", "/tmp/fake/nvidia-smi"]
