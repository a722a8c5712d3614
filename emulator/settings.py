"""Every setting the emulator takes from its environment, read in this one module.

`Settings.from_env(env)` turns the environment into one frozen, typed object: one field per
`CYCLE_*` variable (plus `LOCALSTACK_HOST`), defaulted as the platform's own numbers. A value that
is not a number where one is needed is bad input: one paragraph naming the variable (BadInput,
exit code 2), never a traceback.

Why `load()` caches on the environment's items rather than once per process: the CLI, the agent
and the tests all change settings through the environment (tests with `monkeypatch.setenv` between
two calls in the same process). `load()` keys its cache on the relevant items (every `CYCLE_*`
variable, `LOCALSTACK_HOST`, and `HOME` for the default home), so reading it is a dictionary scan
plus a cache hit, and a changed variable is seen by the next call without anyone remembering to
reset a global. Code that runs a job should call `load()` once where the job starts and hand the
object down; helpers that are called from many places may call `load()` themselves.

The variables that only tests and operators use (stability window, retries, cadences) are
documented in README.md; the defaults here are the spec's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from cycle.errors import BadInput
from emulator.home import home_folder

PREFIX = "CYCLE_"
IMAGE_PREFIX = "CYCLE_IMAGE_UBUNTU_"
EXTRA_NAMES = ("LOCALSTACK_HOST", "HOME")


@dataclass(frozen=True)
class Settings:
    """The emulator's settings; see the module docstring for where each comes from."""

    machines: int = 4  # CYCLE_MACHINES
    memory_limit: int | None = None  # CYCLE_MEMORY_LIMIT (bytes; None: the manifest's own)
    max_run_seconds: float | None = None  # CYCLE_MAX_RUN_SECONDS
    restore_attempts: int = 5  # CYCLE_RESTORE_ATTEMPTS
    restore_backoff_seconds: float = 1.0  # CYCLE_RESTORE_BACKOFF_SECONDS
    log_cadence_seconds: float = 600.0  # CYCLE_LOG_CADENCE_SECONDS
    email_to: str = "you@localhost"  # CYCLE_EMAIL_TO
    smtp_host: str | None = None  # CYCLE_SMTP_HOST ("host[:port]")
    storage_quota_bytes: int | None = None  # CYCLE_STORAGE_QUOTA_BYTES
    machine_cuda: str | None = None  # CYCLE_MACHINE_CUDA (declared capability)
    scheduler_seconds: float = 60.0  # CYCLE_SCHEDULER_SECONDS
    stability_ms: float = 500.0  # CYCLE_STABILITY_MS
    queue_warning_seconds: float = 600.0  # CYCLE_QUEUE_WARNING_SECONDS
    upload_retries: int = 5  # CYCLE_UPLOAD_RETRIES
    upload_backoff: float = 0.5  # CYCLE_UPLOAD_BACKOFF
    watcher_polling: bool = False  # CYCLE_WATCHER=polling
    home: Path = field(default_factory=lambda: Path(home_folder({})))  # CYCLE_HOME (emulator/home.py)
    base_image: str | None = None  # CYCLE_BASE_IMAGE
    pull_ubuntu: bool = False  # CYCLE_PULL_UBUNTU=1
    storage: str | None = None  # CYCLE_STORAGE (local|s3)
    localstack_host: str | None = None  # LOCALSTACK_HOST
    flatten_depth: int = 100  # CYCLE_FLATTEN_DEPTH
    # CYCLE_IMAGE_UBUNTU_24_04 and the like: version ("24.04") -> image
    image_overrides: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def stability_seconds(self) -> float:
        return self.stability_ms / 1000

    def image_override(self, version: str) -> str | None:
        """The image $CYCLE_IMAGE_UBUNTU_<version> names for an [ubuntu] version, if any."""
        return self.image_overrides.get(version)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        read = _Reader(env)
        return cls(
            machines=read.integer("CYCLE_MACHINES", 4, least=1),
            memory_limit=read.optional_integer("CYCLE_MEMORY_LIMIT"),
            max_run_seconds=read.optional_number("CYCLE_MAX_RUN_SECONDS"),
            restore_attempts=read.integer("CYCLE_RESTORE_ATTEMPTS", 5, least=1),
            restore_backoff_seconds=read.number("CYCLE_RESTORE_BACKOFF_SECONDS", 1.0, least=0),
            log_cadence_seconds=read.number("CYCLE_LOG_CADENCE_SECONDS", 600.0, least=0),
            email_to=read.text("CYCLE_EMAIL_TO") or "you@localhost",
            smtp_host=read.text("CYCLE_SMTP_HOST"),
            storage_quota_bytes=read.optional_integer("CYCLE_STORAGE_QUOTA_BYTES"),
            machine_cuda=read.text("CYCLE_MACHINE_CUDA"),
            scheduler_seconds=read.number("CYCLE_SCHEDULER_SECONDS", 60.0, least=0),
            stability_ms=read.number("CYCLE_STABILITY_MS", 500.0, least=0),
            queue_warning_seconds=read.number("CYCLE_QUEUE_WARNING_SECONDS", 600.0, least=0),
            upload_retries=read.integer("CYCLE_UPLOAD_RETRIES", 5, least=0),
            upload_backoff=read.number("CYCLE_UPLOAD_BACKOFF", 0.5, least=0),
            watcher_polling=read.text("CYCLE_WATCHER") == "polling",
            home=Path(home_folder(env)),
            base_image=read.text("CYCLE_BASE_IMAGE"),
            pull_ubuntu=read.text("CYCLE_PULL_UBUNTU") == "1",
            storage=read.text("CYCLE_STORAGE"),
            localstack_host=read.text("LOCALSTACK_HOST"),
            flatten_depth=read.integer("CYCLE_FLATTEN_DEPTH", 100),
            image_overrides=_image_overrides(env),
        )


def version_env_name(version: str) -> str:
    """The variable that maps one [ubuntu] version to an image: 24.04 -> CYCLE_IMAGE_UBUNTU_24_04."""
    return IMAGE_PREFIX + version.replace(".", "_")


def _image_overrides(env: Mapping[str, str]) -> dict[str, str]:
    return {name[len(IMAGE_PREFIX):].replace("_", "."): value
            for name, value in env.items() if name.startswith(IMAGE_PREFIX) and value}


class _Reader:
    """Typed reads of one environment; an empty value counts as unset."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str | None:
        return self.env.get(name) or None

    def number(self, name: str, default: float, least: float | None = None) -> float:
        found = self.optional_number(name)
        return default if found is None else _at_least(name, found, least)

    def integer(self, name: str, default: int, least: int | None = None) -> int:
        found = self.optional_integer(name)
        return default if found is None else _at_least(name, found, least)

    def optional_number(self, name: str) -> float | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            raise _not_a_number(name, raw, "a number (e.g. 1.5)") from None

    def optional_integer(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise _not_a_number(name, raw, "a whole number (e.g. 4)") from None


_Number = TypeVar("_Number", int, float)


def _at_least(name: str, value: _Number, least: float | None) -> _Number:
    """`value`, refused (one paragraph) below `least`: `CYCLE_MACHINES=0` left every job waiting for
    good, `CYCLE_SCHEDULER_SECONDS=-5` ran queued jobs at once with no word."""
    if least is not None and value < least:
        raise BadInput(f"${name} is {value:g}, but it must be at least {least:g}. Fix or unset it (`unset {name}`) "
                       "and run again.")
    return value


def _not_a_number(name: str, raw: str, wanted: str) -> BadInput:
    return BadInput(f"${name} is {raw!r}, but it must be {wanted}. Fix or unset it (`unset {name}`) and run again.")


def _relevant(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(PREFIX) or k in EXTRA_NAMES))


@lru_cache(maxsize=16)
def _cached(items: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(items))


def load() -> Settings:
    """The settings of the current environment (cached per set of relevant variables; see above)."""
    return _cached(_relevant(os.environ))
