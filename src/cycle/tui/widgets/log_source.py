"""What a LogView reads: one job's stored log through the Platform, with a stream filter.

The view holds a window of the log (a few pages) and asks the source for the page before or after
it, the first page, the page around a line, a line's position and the ids of the lines matching a
search, so any line of a 10,000,000-line log is one or two queries away."""

from __future__ import annotations

from collections.abc import Callable

STREAMS = (None, "stdout", "stderr", "system")  # the filter `s` cycles through (None: all)


class LogSource:
    """The Platform's log API for one job; `stream` is a stream name or None for all."""

    def __init__(self, platform, job_name: str) -> None:
        self.platform = platform
        self.job_name = job_name

    @staticmethod
    def _stream(stream: str | None):
        if stream is None:
            return None
        from cycle.api.models import Stream

        return Stream(stream)

    def before(self, before_id: int | None, limit: int, stream: str | None = None) -> list:
        return self.platform.logs_before(self.job_name, before_id, limit, self._stream(stream))

    def after(self, after_id: int, limit: int, stream: str | None = None) -> list:
        return self.platform.logs_after(self.job_name, after_id, limit, self._stream(stream))

    def position(self, line_id: int | None, stream: str | None = None) -> int | None:
        return self.platform.log_position(self.job_name, line_id, self._stream(stream))

    def search(self, needle: str, stream: str | None = None) -> list[int] | None:
        return self.platform.search_logs(self.job_name, needle, self._stream(stream))

    def live(self, after_id: int, stream: str | None = None) -> list:
        return self.platform.logs(self.job_name, self._stream(stream), after_id)


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
