"""cycle: command line, terminal UI and local emulator for the Cycleswap GPU job platform."""

__version__ = "0.1.0"
