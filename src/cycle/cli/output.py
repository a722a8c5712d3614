"""How live job output is written to the terminal: stdout to stdout, stderr to stderr, system
events to stderr marked [system] (dim italics on a terminal), so a pipe gets the job's stdout only."""

from __future__ import annotations

import sys


def live_sink():
    system_style = ("\x1b[2;3m", "\x1b[0m") if sys.stderr.isatty() else ("", "")

    def sink(ts_ns: int, stream, text: str) -> None:
        kind = getattr(stream, "value", stream)
        if kind == "stdout":
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        elif kind == "stderr":
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        else:
            sys.stderr.write(f"{system_style[0]}[system] {text}{system_style[1]}\n")
            sys.stderr.flush()

    return sink


def fail(message: str, code: int = 2) -> None:
    """Stop a command with a one-paragraph message and an exit code."""
    from cycle.errors import CycleError

    raise CycleError(message, exit_code=code)


def table_lines(rows: list[tuple[str, ...]], gap: int = 3) -> list[str]:
    """Rows as aligned columns, each as wide as its longest cell (as `docker ps` does), so a long
    name widens its column instead of pushing the rest of its row out of line."""
    widths = [max(len(cell) for cell in column) for column in zip(*rows)]
    return [(" " * gap).join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def job_exit_code(job) -> int:
    """What a command that waited for a job exits with (`project test`, `job tail`): 0 when it
    FINISHED, else the job's own exit code (run.sh's, build.sh's), or 1 when it has none or it is 0
    (UPLOAD_ERROR, CANCELLED, LOST)."""
    if job.state.value == "FINISHED":
        return 0
    return job.exit_code or 1


def progress_bar(*columns):
    """A transient progress bar (rich) for uploads and pulls, drawn on stderr only when it is a
    terminal: stdout keeps only the command's result, with no stray empty line from the bar's
    stop (rich ends a bar it cannot redraw with a newline)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, transient=True, console=console, disable=not console.is_terminal)
