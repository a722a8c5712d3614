"""The emulator behind the Platform protocol: what the CLI, the SDK and the TUI call.

Composed of one part per concern (emulator/service/): starting jobs, reading them, acting on them,
and the catalog of volumes, usage and mail. Opening it reads nothing but sqlite: each part
imports the engine, storage or runner when a method needs them, so read-only commands start lean
(tests/unit/test_imports.py keeps it so)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from emulator.config import private_home
from emulator.service.acting import Acting
from emulator.service.catalog import Catalog
from emulator.service.reading import Reading
from emulator.service.starting import Starting
from emulator.settings import load
from emulator.store import StateStore

if TYPE_CHECKING:
    from emulator.storage import StoreCache


class EmulatorPlatform(Starting, Reading, Acting, Catalog):
    def __init__(self, home: Path | None = None) -> None:
        self.home = home or load().home
        self._store: StateStore | None = None
        self._stores: StoreCache | None = None

    @property
    def store(self) -> StateStore:
        """The state, opened (and the home created, private: emulator_home) on first use: a command
        whose input is refused before it reads or records anything leaves an empty home absent."""
        if self._store is None:
            private_home(self.home)
            self._store = StateStore(self.home / "state.db")
        return self._store

    def has_state(self) -> bool:
        """True once the home holds a state.db (a job, an upload or a volume was recorded here)."""
        return self._store is not None or (self.home / "state.db").is_file()


def existing_home(home: Path | None = None) -> Path | None:
    """The emulator home (`home`, else the settings') when it already holds a state.db, else None;
    creates nothing (unlike emulator_home()), so shell completion and read-only commands leave no
    ~/.cycle behind."""
    from emulator.settings import load

    home = home or load().home
    return home if (home / "state.db").is_file() else None
