"""Work a screen repeats (a listing rebuilt, a store read on every poll) paced by its own cost. Pure.

A job with 100,000 artifacts made the job screen rebuild its artifact table (seconds of the
screen's thread) and read every artifact record (a second of the GIL) on each 0.5 s poll: the
header, the log and the keys waited behind it. Paced, such work runs again only once some
multiple of its last cost has passed, so it takes a bounded share of the time however large the
job grows, while small jobs (work of a few ms) still refresh on every poll.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pacer:
    """`ready` once `factor` times the last run's cost has passed since it ended, and `floor`
    seconds since it began (a poll every `floor` seconds then runs quick work every time): the work
    takes at most 1 / (1 + factor) of the time."""

    floor: float = 0.0
    factor: float = 4.0
    due: float = 0.0  # a monotonic time; 0: never ran

    def ready(self, now: float) -> bool:
        return now >= self.due

    def ran(self, started: float, ended: float) -> None:
        self.due = max(started + self.floor, ended + self.factor * (ended - started))
