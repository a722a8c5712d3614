"""What a LogView reads: one job's stored log through the Platform, with a filter (one stream,
or only the lines matching the search), applied by the store like the rest of the query.

The view holds a window of the log (a few pages) and asks the source for the page before or after
it, the first page, the page around a line, a line's position and the ids of the lines matching a
search, so any line of a 10,000,000-line log is one or two queries away."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MATCHES = "matches"  # the filter that keeps only the lines holding the current search
STREAMS = (None, "stdout", "stderr", "system", MATCHES)  # the filters `s` cycles through (None: all)


@dataclass(frozen=True)
class LogFilter:
    """What a view shows: one stream (None: all) and, with `matching`, only the lines holding it."""

    stream: str | None = None
    matching: str = ""


def as_filter(value: LogFilter | str | None) -> LogFilter:
    return value if isinstance(value, LogFilter) else LogFilter(value)


class LogSource:
    """The Platform's log API for one job, each read filtered by the store (a LogFilter, or a stream
    name / None for all)."""

    def __init__(self, platform, job_name: str) -> None:
        self.platform = platform
        self.job_name = job_name

    @staticmethod
    def _args(log_filter: LogFilter | str | None) -> dict:
        log_filter = as_filter(log_filter)
        stream = None
        if log_filter.stream is not None:
            from cycle.api.models import Stream

            stream = Stream(log_filter.stream)
        return {"stream": stream, "matching": log_filter.matching} if log_filter.matching else {"stream": stream}

    def before(self, before_id: int | None, limit: int, log_filter: LogFilter | str | None = None) -> list:
        return self.platform.logs_before(self.job_name, before_id, limit, **self._args(log_filter))

    def after(self, after_id: int, limit: int, log_filter: LogFilter | str | None = None) -> list:
        return self.platform.logs_after(self.job_name, after_id, limit, **self._args(log_filter))

    def position(self, line_id: int | None, log_filter: LogFilter | str | None = None) -> int | None:
        return self.platform.log_position(self.job_name, line_id, **self._args(log_filter))

    def search(self, needle: str, log_filter: LogFilter | str | None = None) -> list[int] | None:
        stream = self._args(log_filter)["stream"]  # the matches of the matches are the matches
        return self.platform.search_logs(self.job_name, needle, stream)

    def live(self, after_id: int, log_filter: LogFilter | str | None = None) -> list:
        return self.platform.logs(self.job_name, after_id=after_id, **self._args(log_filter))


class PagesOnly:
    """A source that can only page backwards (a bare `(before_id, limit) -> records` callable):
    no first page, positions or server-side search. Kept for simple embeddings (benchmarks)."""

    def __init__(self, before: Callable[[int | None, int], list]) -> None:
        self._before = before

    def before(self, before_id: int | None, limit: int, stream: str | None = None) -> list:
        return self._before(before_id, limit)

    def after(self, after_id: int, limit: int, stream: str | None = None) -> list:
        return []

    def position(self, line_id: int | None, stream: str | None = None) -> int | None:
        return None

    def search(self, needle: str, stream: str | None = None) -> list[int] | None:
        return None


def as_source(source) -> LogSource | PagesOnly:
    return PagesOnly(source) if callable(source) and not hasattr(source, "before") else source
