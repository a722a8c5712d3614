"""The one factory that opens a platform for the clients (CLI, TUI, SDK).

Clients import the contract (cycle.api) and this module, never the emulator: this is the only
client module that reaches into `emulator` (import-linter checks that; pyproject.toml). Importing it
is cheap: the emulator (docker-py, sqlite) is imported only when a command opens it.
"""

from __future__ import annotations

from pathlib import Path

from cycle.api import EmulatorAdmin, Platform


def open_platform(home: Path | None = None) -> Platform:
    """Jobs, logs, artifacts, volumes: today the local emulator (home: $CYCLE_HOME or ~/.cycle)."""
    from emulator.platform import EmulatorPlatform

    return EmulatorPlatform(home)


def existing_platform() -> Platform | None:
    """The platform when its home already exists, else None (nothing is created): for shell
    completion, which must stay quick and leave no ~/.cycle behind."""
    from emulator.platform import existing_home

    home = existing_home()
    return None if home is None else open_platform(home)


def open_admin(home: Path | None = None) -> EmulatorAdmin:
    """The local emulator's own set-up and state: engine, base images, doctor, storage, machines."""
    from emulator.admin import Admin

    return Admin(home)
