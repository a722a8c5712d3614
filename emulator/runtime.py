"""Moved to emulator.engine.docker; this shim keeps old imports working until the merge."""

from emulator.engine.docker import *  # noqa: F401,F403
from emulator.engine.docker import (  # noqa: F401
    _all_frames,
    _epoch_seconds,
    _first_line,
    _undelivered,
)
