"""Where the emulator home is: $CYCLE_HOME, or ~/.cycle when it is unset or empty.

The one copy of that rule. It imports only `os`, because two very different callers need it: the
settings (emulator/settings.py, behind every command) and the direct read of an ended job's log
(emulator/store/direct.py), which must answer `cycle job logs JOB --tail N` without importing the
contract's models or pathlib (issue 14)."""

from __future__ import annotations

import os
from collections.abc import Mapping

HOME_ENV = "CYCLE_HOME"


def home_folder(env: Mapping[str, str] = os.environ) -> str:
    """$CYCLE_HOME, else .cycle in $HOME (else the user's home from the password database, as
    Path.home() finds it); an empty value counts as unset, as for every setting."""
    return env.get(HOME_ENV) or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cycle")
