"""Moved to emulator.rules.upload_queue; this shim keeps old imports working until the merge."""

from emulator.rules.upload_queue import *  # noqa: F401,F403
