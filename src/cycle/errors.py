"""Errors a user can act on.

Every failure a user can cause or fix is raised as a CycleError: the CLI prints its message as one
paragraph and exits with its code, never a traceback. Exit code 2 is bad input (a manifest, a flag,
a name, a folder, a base image the manifest's [ubuntu] version maps to but the engine lacks); 1 is
everything else the user has to act on (no engine answers); 130 is Ctrl-C. README "Exit codes" is
the table scripts rely on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cycle.api.models import Job


class CycleError(Exception):
    """An error with a message meant for the user and the exit code to leave with."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadInput(CycleError):
    """Input the user wrote is wrong: a manifest field, a flag, a job name."""

    exit_code = 2


class ManifestError(BadInput):
    """One or more problems in .cycleswap/manifest.toml, each naming file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class EngineUnavailable(CycleError):
    """No Docker engine answers."""


class ImageMissing(BadInput):
    """A base image the job needs is not in the engine, and we never pull implicitly: bad input like a
    manifest field, since the user fixes it by choosing or providing the image the manifest asks for."""


class JobCancelled(CycleError):
    """A foreground job was cancelled: by Ctrl-C in this terminal (`by` None: exit 130, as shells
    report SIGINT), or from elsewhere, `by` naming who (`cycle job cancel` in another terminal, a
    SIGTERM): exit 1, "CANCELLED elsewhere" in README's exit codes, since this command was not
    interrupted; it was told its job ended."""

    exit_code = 130

    def __init__(self, job: Job, by: str | None = None) -> None:
        # a job cancelled while it waited for a machine (or built) never had a run container
        after = "its container was removed" if job.started_ns else "it had not started running"
        if by is None:
            message = f"job {job.name}: CANCELLED (Ctrl-C); {after}."
        else:
            message = f"job {job.name}: CANCELLED by {by}; {after}."
        super().__init__(message, exit_code=None if by is None else 1)
        self.job = job
        self.by = by


class DrillInterrupted(CycleError):
    """`cycle drill` stopped by Ctrl-C (exit 130) or a SIGTERM (exit 1, as a foreground `project
    test` whose job a SIGTERM cancelled): it cancelled its job first, so an interrupted drill
    leaves no job running on a machine (its agent is detached and would have run on)."""

    def __init__(self, message: str, ctrl_c: bool) -> None:
        super().__init__(message, exit_code=130 if ctrl_c else 1)
