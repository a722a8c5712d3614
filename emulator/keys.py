"""Moved to emulator.rules.keys; this shim keeps old imports working until the merge."""

from emulator.rules.keys import *  # noqa: F401,F403
from emulator.rules.keys import _encode_component, _readable  # noqa: F401
