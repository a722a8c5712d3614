"""The parts of the emulator's Platform, one concern each (emulator/platform.py composes them)."""
