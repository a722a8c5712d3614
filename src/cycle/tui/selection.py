"""Selections that follow identity (a job name, a file path), not a row number."""

from __future__ import annotations

from typing import Protocol

from textual.widgets.data_table import RowDoesNotExist


class Table(Protocol):
    """What keep_row needs of a table: RowTable (jobs, artifacts) has it, as Textual's DataTable does."""

    @property
    def row_count(self) -> int: ...

    def get_row_index(self, key, /) -> int: ...


def keep_row(table: Table, key: str | None, old_row: int) -> int:
    """The row of `key` after the table was rebuilt, so a refresh or a filter never moves the
    selection to another job or file; `old_row` (clamped) when that row is gone."""
    if key is not None:
        try:
            return table.get_row_index(key)
        except RowDoesNotExist:  # filtered out or gone
            pass
    return max(0, min(old_row, table.row_count - 1))
