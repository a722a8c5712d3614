"""The `cycle` command line: `main()` is the entry point (pyproject.toml [project.scripts]).

The typer app (cycle/cli/root.py) costs ~60 ms of imports before any command runs, so `main()`
first offers the command line to the fast path (cycle/cli/fast.py, `cycle job logs JOB --tail N`
without typer) and imports the app only when that does not take it. `from cycle.cli import app`
still gives the typer app (imported on first use)."""

from __future__ import annotations

import gc
import sys


def main() -> None:
    pass_bytes_through()
    try:
        from cycle.cli.fast import fast_job_logs

        if fast_job_logs(sys.argv[1:]):
            return
        from cycle.cli.root import run

        run()
    finally:
        skip_exit_collections()


def pass_bytes_through() -> None:
    """A job's line may hold bytes that are not UTF-8: its log keeps them (as surrogateescape's lone
    surrogates in the text), and stdout and stderr write them back as those bytes, as `docker logs`
    does, instead of failing on them or replacing them."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def skip_exit_collections() -> None:
    """The interpreter's garbage collections at exit walk every object the imports made (typer,
    the emulator, watchdog, boto3 where storage is S3: ~25 ms of a `cycle project test` here, ~5 ms of a `job list`), to
    free memory the process is about to give back anyway. Freezing them (gc.freeze: moved to a
    generation no collection visits) skips that walk; objects still freed by reference counting
    are freed as before, and nothing of ours waits on a collection to finish its work: files are
    closed by `with`, records committed before the command returns, threads joined."""
    gc.freeze()


def __getattr__(name: str):
    """`cycle.cli.app`: the typer app (tests drive it with click's CliRunner), imported on first use."""
    if name == "app":
        from cycle.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
