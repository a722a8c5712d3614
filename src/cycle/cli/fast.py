"""The fast path of `cycle job logs JOB [--tail N]`: answered without importing typer.

Why: `cycle job logs JOB --tail 100` is the command people run in a loop, and issue 14 asks it to
take at most 3x `docker logs --tail 100` (~17 ms here, so ~50 ms). Importing typer (and the click
it vendors, inspect, typing...) alone costs ~60 ms, so no typer command can get there. Measured
interleaved on the 2-core machine, 200,000-line job: 160 ms before this path, 102 ms with it
through the platform (`import emulator.platform` ~90 ms: the contract's dataclass models), and
34.6 ms (2.3x `docker logs` at 15.1 ms; `python -c pass` 12.9 ms) for an ENDED job, whose log is
read straight from state.db without the platform (print_ended_log; cycle.platform.ended_job_log_tail).
A running job still opens the platform: its reads run the reaper, which marks it LOST if its agent died.

Only the exact read-only form takes it: `job logs`, one job name and at most one of `--tail N`,
`-n N`, `--tail=N`, `-nN` (N a plain whole number, 1 or more), nothing else on the line and no shell
completion under way. Anything else, and any error while reading (an unknown job, a bad name, a
database it cannot read yet), goes to the typer command, which reads again (reading is safe to
repeat) and says what is wrong with typer's own messages and exit codes. So this module holds no
message of its own: the reading and printing is `print_log`, which the typer command calls too.
"""

from __future__ import annotations

import os
import sys

INTERRUPTED = 130
"""Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""

TAIL_OPTIONS = ("--tail", "-n")


def fast_job_logs(argv: list[str]) -> bool:
    """Print the log when `argv` (after `cycle`) is the fast form; False (nothing printed) when the
    typer command must handle it."""
    request = logs_request(argv)
    if request is None or "_CYCLE_COMPLETE" in os.environ:
        return False
    name, tail = request
    try:
        if not print_ended_log(name, tail):
            from cycle.platform import reading_platform

            print_log(reading_platform(), name, tail)
    except BrokenPipeError:
        quiet_closed_stdout()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        raise SystemExit(INTERRUPTED) from None
    except Exception:
        return False
    return True


def logs_request(argv: list[str]) -> tuple[str, int | None] | None:
    """(job name, tail or None) when argv is `job logs NAME` with at most one tail option, in any
    order; None for anything else, a doubtful N included (typer then explains it)."""
    if argv[:2] != ["job", "logs"]:
        return None
    names, tails = [], []
    words = iter(argv[2:])
    for word in words:
        if word in TAIL_OPTIONS:
            tails.append(next(words, ""))
        elif word.startswith("--tail="):
            tails.append(word.removeprefix("--tail="))
        elif word.startswith("-n") and not word.startswith("--"):
            tails.append(word.removeprefix("-n"))
        elif word.startswith("-"):
            return None
        else:
            names.append(word)
    if len(names) != 1 or len(tails) > 1 or not all(plain_count(tail) for tail in tails):
        return None
    return names[0], int(tails[0]) if tails else None


def plain_count(text: str) -> bool:
    """A count as a user types it (plain_digits) and not zero."""
    return plain_digits(text) and int(text) >= 1


def plain_digits(text: str) -> bool:
    """ASCII digits only: int() would also take a sign, spaces, `_` and other scripts' digits."""
    return text.isascii() and text.isdigit()


def print_ended_log(name: str, tail: int | None) -> bool:
    """Print the log of an ENDED job read straight from the store (no contract models, ~5x
    quicker to start); False, nothing printed, for any other job (cycle.platform.ended_job_log_tail)."""
    from cycle.logline import log_line
    from cycle.platform import ended_job_log_tail

    lines = ended_job_log_tail(name, tail)
    if lines is None:
        return False
    sys.stdout.write("".join(log_line(ts_ns, stream, text) + "\n" for ts_ns, stream, text in lines))
    sys.stdout.flush()
    return True


def print_log(platform, name: str, tail: int | None = None, stream=None, since_ns: int = 0,
              follow: bool = False) -> list:
    """Print the job's log (its last `tail` lines, or all of it; one stream, lines from `since_ns`
    on) to stdout, one formatted line each, and return the records (--follow goes on after the
    last; `follow` picks its variant of the hint). Everything is read, then written in one call (a
    line that cannot be encoded fails before any byte goes out), so when the fast path hands an
    error over to typer nothing was printed."""
    from cycle.pull import format_line

    if tail is not None:  # the last `tail` lines from `since_ns` on: only those are read
        records = platform.logs_before(name, None, tail, stream, since_ns=since_ns)
    else:
        records = platform.logs(name, stream, since_ns=since_ns)
    sys.stdout.write("".join(format_line(record) + "\n" for record in records))
    sys.stdout.flush()
    job = platform.job(name)
    one_stream = stream is not None and getattr(stream, "value", stream) != "system"
    hint = log_lag_hint(job, follow, one_stream=one_stream) or (not_started_hint(job, follow) if not records else None)
    if hint:
        sys.stderr.write(hint + "\n")
    return records


def log_lag_hint(job, follow: bool = False, saved: str | None = None, one_stream: bool = False) -> str | None:
    """One line for stderr when a running job printed lines its log does not hold yet, so an empty
    `job logs` is not a mystery; None otherwise. The lines reach the log only at the job's next log
    upload (the spec: "Logs upload on a 600-second cadence"; the cadence its agent recorded, which
    $CYCLE_LOG_CADENCE_SECONDS changes) or at its end: -f prints them then, not as the job prints
    them, so neither variant promises more. Both paths print it (an ended job's log is complete:
    the fast path has no hint). `saved`: the file the log so far was saved to (`job pull`);
    `one_stream`: the reader asked for one stream, and the count is of stdout's and stderr's lines
    together (the agent counts them as they come, not by stream)."""
    if job.state.value != "RUNNING" or not job.log_backlog:
        return None
    both = " (stdout and stderr together)" if one_stream else ""
    waiting = f"job {job.name} is running: {job.log_backlog} line(s) it printed{both} are not in its log yet"
    upload = f"its next log upload (every {job.log_cadence_text()})"
    if follow:
        return f"{waiting}; waiting for {upload} or its end, then printing them (Ctrl-C stops)."
    if saved:
        return (f"{waiting}, so {saved} holds what the log held: they reach it at {upload} or when the job ends "
                f"(`cycle job tail {job.name}` follows it).")
    return (f"{waiting}: they reach it at {upload} or when the job ends. `cycle job logs {job.name} -f` "
            "waits for them and prints each upload as it lands.")


def not_started_hint(job, follow: bool = False) -> str | None:
    """One line for stderr when the log of a job that has not started is empty (a user test: `job
    logs` of a PENDING job printed nothing at all); None for any other job."""
    if job.state.value != "PENDING":
        return None
    then = ("printing its lines as they reach its log (Ctrl-C stops)" if follow
            else f"`cycle job status {job.name}` says why")
    return f"job {job.name} is PENDING: it has not started yet (its build, or a machine, is still to come); {then}."


def quiet_closed_stdout() -> None:
    """The reader of our stdout left (`cycle job list | head -1`): that is what it asked for, so
    exit 0 quietly like gh and docker, with stdout pointed at /dev/null so the interpreter's last
    flush at exit does not fail again (Python's documented recipe for SIGPIPE)."""
    point_at_devnull(sys.stdout)


def point_at_devnull(stream) -> None:
    """`stream` (stdout or stderr, whose reader left) writes to /dev/null from now on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)
