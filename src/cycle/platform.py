"""The one factory that opens a platform for the clients (CLI, TUI, SDK).

Clients import the contract (cycle.api) and this module, never the emulator: this is the only
client module that reaches into `emulator` (import-linter checks that; pyproject.toml). Importing it
is cheap: the emulator (its engine client, sqlite) is imported only when a command opens it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms; issue 14)

if TYPE_CHECKING:  # not at run time: ended_job_log_tail answers without the contract's models
    from pathlib import Path

    from cycle.api import EmulatorAdmin, Platform


def open_platform(home: Path | None = None) -> Platform:
    """Jobs, logs, artifacts, volumes: today the local emulator (home: $CYCLE_HOME or ~/.cycle)."""
    from emulator.platform import EmulatorPlatform

    return EmulatorPlatform(home)


def ended_job_log_tail(name: str, limit: int | None) -> list[tuple[int, str, str]] | None:
    """(ts_ns, stream, text) of the last `limit` lines (None: all) of the ENDED job `name`, read
    straight from the store without opening the platform (stdlib only: `cycle job logs JOB --tail
    N`, issue 14). None when that cannot answer: no home, an unknown or unfinished job (a running
    one may need the reaper), a schema of another version; then open the platform, which answers
    or says what is wrong. An ended job's log no longer changes, so both ways print the same."""
    from emulator.home import home_folder
    from emulator.store.direct import ended_job_log_tail as read

    return read(home_folder(), name, limit)


def existing_platform() -> Platform | None:
    """The platform when its home already exists, else None (nothing is created): for shell
    completion, which must stay quick and leave no ~/.cycle behind."""
    from emulator.platform import existing_home

    home = existing_home()
    return None if home is None else open_platform(home)


def reading_platform() -> Platform:
    """The platform for commands that only read or name a job (`job list|status|logs|cancel`,
    `volume versions`, the TUI), which must not create the home's files: until a job has run there
    (no state.db) it answers that there are no jobs, and opens the platform the moment one appears
    (the TUI stays open while jobs start elsewhere)."""
    return _OpenedOnceItExists()  # type: ignore[return-value]  (the rest via __getattr__)


JOB_NAMED_CALLS = frozenset({
    "job", "logs", "logs_before", "logs_after", "log_position", "search_logs", "artifacts", "queued_artifacts",
    "artifact_versions", "moves", "cancel", "reassign", "archive",
})
"""Platform calls whose first argument is a job name: on a home where no job ever ran, each can
only answer "no job named NAME" (opening the platform to say so would create state.db)."""


def no_job_named(name: str) -> Exception:
    """The paragraph for a job name on a home where no job ever ran (no state.db), with how to start
    one. Once jobs exist the opened platform answers instead (Reading.job: the close names, or the
    pointer to `cycle job list` without this hint)."""
    from cycle.errors import BadInput

    return BadInput(f"No job named {name!r}. `cycle job list` shows the jobs (none has run here yet: "
                    "`cycle project test` in a project starts one).")


class _OpenedOnceItExists:
    """A Platform opened lazily: while the home has no state.db the list reads say "no jobs" and a job
    named anywhere is unknown; every other call opens it."""

    def __init__(self) -> None:
        self._platform: Platform | None = None

    def _existing(self) -> Platform | None:
        if self._platform is None:
            self._platform = existing_platform()
        return self._platform

    def jobs(self, *args, **kwargs):
        platform = self._existing()
        return [] if platform is None else platform.jobs(*args, **kwargs)

    def count_jobs(self, *args, **kwargs) -> int:
        platform = self._existing()
        return 0 if platform is None else platform.count_jobs(*args, **kwargs)

    def job_summaries(self, *args, **kwargs):
        platform = self._existing()
        return [] if platform is None else platform.job_summaries(*args, **kwargs)

    def volumes(self):
        platform = self._existing()
        return [] if platform is None else platform.volumes()

    def volume_versions(self, name: str):
        """The platform's own answer (the name checked, then "never uploaded", the same words with or
        without a state.db); a platform opened only for it is not kept, so the list reads above stay
        empty, creating nothing, until a state.db appears."""
        return (self._existing() or open_platform()).volume_versions(name)

    def __getattr__(self, name: str):
        platform = self._existing()
        if platform is None and name in JOB_NAMED_CALLS:
            return _unknown_job
        return getattr(platform or self._opened(), name)

    def _opened(self) -> Platform:
        self._platform = open_platform()
        return self._platform


def _unknown_job(name: str, *args, **kwargs):
    """What a job-named call answers on a home where no job has run."""
    from cycle.api.keys import check_job_name

    check_job_name(name)  # a name no job could have says why, as the opened platform would
    raise no_job_named(name)


def open_admin(home: Path | None = None) -> EmulatorAdmin:
    """The local emulator's own set-up and state: engine, base images, doctor, storage, machines."""
    from emulator.admin import Admin

    return Admin(home)
