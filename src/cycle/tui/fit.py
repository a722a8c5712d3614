"""ONE rule for a line narrower than its content (the job header, the log's status line, the
footer's keys): parts with forms from longest to shortest and a priority. The part with the highest
`priority` number gives way first: it takes its shorter forms, then goes whole if droppable, then
the next. When a part goes, those that had shortened before it get their room back (the header's
start time shows its seconds again once the project has gone). Measured in terminal cells (rich's
cell_len: a wide character takes two). Pure: no Textual, no IO."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len

Measure = Callable[[Any], int]  # the cells a form takes

SEPARATOR = " · "


@dataclass(frozen=True)
class Part:
    """One part of a line: `priority` 0 is the most important (equal ones give way from the right);
    `forms` longest first; a part not `droppable` always shows, if need be in its shortest form."""

    priority: int
    forms: tuple[Any, ...]
    droppable: bool = True


def fit(parts: Sequence[Part], room: int | None, separator: str = "", cells: Measure = cell_len) -> list[Any]:
    """The chosen form of each part in display order, None for a part that gave way, in `room` cells
    (None: no limit). `cells` measures a form (text by default). When nothing fits, only the parts
    that may not be dropped stay, in their shortest forms: the screen cuts what is still too wide."""
    for chosen in _fullest_first(parts):
        shown = [form for form in chosen if form is not None]
        if room is None or sum(map(cells, shown)) + cell_len(separator) * max(len(shown) - 1, 0) <= room:
            break
    return chosen


def fit_line(parts: Sequence[Part], room: int | None, cells: Measure = cell_len) -> str:
    """`fit`'s shown forms joined by SEPARATOR: the job header's and the status line's text."""
    return SEPARATOR.join(form for form in fit(parts, room, SEPARATOR, cells) if form is not None)


def _fullest_first(parts: Sequence[Part]) -> Iterator[list[Any]]:
    """Every way the parts may show, fullest first: before the next droppable part goes, those that
    give way no later than it take their shorter forms one by one, each from its longest again."""
    order = sorted(range(len(parts)), key=lambda index: (parts[index].priority, index), reverse=True)
    dropped: set[int] = set()

    def forms() -> list[Any]:
        return [part.forms[step[index]] if index in step else None for index, part in enumerate(parts)]

    for place in [place for place, index in enumerate(order) if parts[index].droppable] + [len(order)]:
        step = {index: 0 for index in range(len(parts)) if index not in dropped}
        yield forms()
        for index in (index for index in order[:place + 1] if index in step):
            for step[index] in range(1, len(parts[index].forms)):
                yield forms()
        if place < len(order):
            dropped.add(order[place])
