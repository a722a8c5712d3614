"""The emulator's state, in sqlite, one module per aggregate sharing db.py's connection and schema.

`StateStore` is the facade every caller uses: it composes the aggregates (each a table group with
its own queries) over one database, so `store.job(…)`, `store.claim_machine(…)` keep working.
"""

from __future__ import annotations

from emulator.store.artifacts import ArtifactsTable
from emulator.store.catalog import CatalogTables
from emulator.store.db import ADDED_COLUMNS, SCHEMA, Database
from emulator.store.jobs import JobsTable
from emulator.store.logs import LogsTable
from emulator.store.machines import MachinesTable
from emulator.store.requests import Request, RequestsTable


class StateStore(JobsTable, LogsTable, ArtifactsTable, MachinesTable, CatalogTables, RequestsTable):
    """All reads and writes of emulator state. One connection per thread (see db.Database)."""


__all__ = ["ADDED_COLUMNS", "SCHEMA", "Database", "Request", "StateStore"]
