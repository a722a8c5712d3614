"""StateStore: the facade over every aggregate of the store (emulator/store/__init__.py exports it)."""

from __future__ import annotations

from emulator.store.artifacts import ArtifactsTable
from emulator.store.catalog import CatalogTables
from emulator.store.jobs import JobsTable
from emulator.store.logs import LogsTable
from emulator.store.machines import MachinesTable
from emulator.store.requests import RequestsTable
from emulator.store.usage import UsageQueries


class StateStore(JobsTable, LogsTable, ArtifactsTable, MachinesTable, CatalogTables, RequestsTable,
                 UsageQueries):
    """All reads and writes of emulator state. One connection per thread (see db.Database)."""
