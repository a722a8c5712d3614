"""Moved to emulator/store/ (one module per aggregate); this shim keeps old imports working."""

from emulator.store import ADDED_COLUMNS, SCHEMA, StateStore  # noqa: F401
from emulator.store.db import _retry_locked  # noqa: F401
from emulator.store.jobs import _job  # noqa: F401
from emulator.store.logs import _log, _log_filter  # noqa: F401
