"""The emulator behind the Platform protocol: what the CLI, the SDK and the TUI call.

Composed of one part per concern (emulator/service/): starting jobs, reading them, acting on them,
and the catalog of volumes, usage and mail. Opening it reads nothing but sqlite: each part
imports the engine, storage or runner when a method needs them, so read-only commands start lean
(tests/unit/test_imports.py keeps it so)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from emulator.config import emulator_home
from emulator.service.acting import Acting
from emulator.service.catalog import Catalog
from emulator.service.reading import Reading
from emulator.service.starting import Starting
from emulator.store import StateStore

if TYPE_CHECKING:
    from emulator.storage import StoreCache


class EmulatorPlatform(Starting, Reading, Acting, Catalog):
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or emulator_home()
        self.store = StateStore(self.home / "state.db")
        self._stores: StoreCache | None = None


def existing_home(home: Path | None = None) -> Path | None:
    """The emulator home (`home`, else the settings') when it already holds a state.db, else None;
    creates nothing (unlike emulator_home()), so shell completion and read-only commands leave no
    ~/.cycle behind."""
    from emulator.settings import load

    home = home or load().home
    return home if (home / "state.db").is_file() else None
