"""Moved to emulator/job/ (one module per stage; runner.py chains them, agent_main.py is the
detached agent). This shim keeps old imports and `python -m emulator.agent` working."""

import sys

from emulator.job.agent_main import main
from emulator.job.container import MEMORY_SHARE, PIDS_LIMIT  # noqa: F401
from emulator.job.context import RestoreFailed, RunOptions, Sink, StartFailed, Stay  # noqa: F401
from emulator.job.guard import Interrupts, describe_error  # noqa: F401
from emulator.job.machine import machine_names  # noqa: F401
from emulator.rules.moves import MoveRequest  # noqa: F401
from emulator.job.move import (RESTORE_ATTEMPTS, RESTORE_BACKOFF_SECONDS, backoff_delays,  # noqa: F401
                               restore_settings, with_retries)
from emulator.job.runner import JobRunner  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
