"""Every CYCLE_* setting the job's flow needs, read once into a frozen object.

Interim copy written by the `stages` branch: the `rules` branch owns this module and its version
(with every field) replaces this one; the field names below are the agreed ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = env.get(name)
    return int(value) if value else default


def _float(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    value = env.get(name)
    return float(value) if value else default


@dataclass(frozen=True)
class Settings:
    machines: int = 4
    memory_limit: int | None = None
    max_run_seconds: float | None = None
    restore_attempts: int = 5
    restore_backoff_seconds: float = 1.0
    email_to: str = "you@localhost"
    storage_quota_bytes: int | None = None
    machine_cuda: str | None = None
    home: Path = Path.home() / ".cycle"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            machines=_int(env, "CYCLE_MACHINES", 4) or 0,
            memory_limit=_int(env, "CYCLE_MEMORY_LIMIT", None),
            max_run_seconds=_float(env, "CYCLE_MAX_RUN_SECONDS", None),
            restore_attempts=_int(env, "CYCLE_RESTORE_ATTEMPTS", 5) or 0,
            restore_backoff_seconds=_float(env, "CYCLE_RESTORE_BACKOFF_SECONDS", 1.0) or 0.0,
            email_to=env.get("CYCLE_EMAIL_TO", "you@localhost"),
            storage_quota_bytes=_int(env, "CYCLE_STORAGE_QUOTA_BYTES", None),
            machine_cuda=env.get("CYCLE_MACHINE_CUDA") or None,
            home=Path(env["CYCLE_HOME"]) if env.get("CYCLE_HOME") else Path.home() / ".cycle",
        )


@lru_cache(maxsize=1)
def load() -> Settings:
    """The process-wide settings (read once)."""
    return Settings.from_env()
