"""Moved to emulator.engine.gpu; this shim keeps old imports working until the merge."""

from emulator.engine.gpu import *  # noqa: F401,F403
