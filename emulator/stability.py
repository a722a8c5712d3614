"""Moved to emulator.rules.stability; this shim keeps old imports working until the merge."""

from emulator.rules.stability import *  # noqa: F401,F403
from emulator.rules.stability import _Pending  # noqa: F401
