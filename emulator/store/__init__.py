"""The emulator's state, in sqlite, one module per aggregate sharing db.py's connection and schema.

`StateStore` is the facade every caller uses: it composes the aggregates (each a table group with
its own queries) over one database, so `store.job(…)`, `store.claim_machine(…)` keep working.

The facade is imported on first use (PEP 562 `__getattr__`): importing this package alone costs
nothing, so emulator/store/direct.py (stdlib only, the direct read of an ended job's log) does not
pay for the aggregates and the contract's models they convert rows into (issue 14).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms; issue 14)

if TYPE_CHECKING:
    from emulator.store.db import ADDED_COLUMNS, SCHEMA, Database
    from emulator.store.requests import Request
    from emulator.store.state import StateStore

LAZY = {"StateStore": "emulator.store.state", "Request": "emulator.store.requests",
        "ADDED_COLUMNS": "emulator.store.db", "SCHEMA": "emulator.store.db", "Database": "emulator.store.db"}


def __getattr__(name: str):
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(LAZY[name]), name)


__all__ = ["ADDED_COLUMNS", "SCHEMA", "Database", "Request", "StateStore"]
