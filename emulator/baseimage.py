"""Moved to emulator.engine.baseimage; this shim keeps old imports working until the merge."""

from emulator.engine.baseimage import *  # noqa: F401,F403
from emulator.engine.baseimage import _add_dir, _need  # noqa: F401
