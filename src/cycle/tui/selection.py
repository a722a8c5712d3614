"""Selections that follow identity (a job name, a file path), not a row number."""

from __future__ import annotations

from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist


def keep_row(table: DataTable, key: str | None, old_row: int) -> int:
    """The row of `key` after the table was rebuilt, so a refresh or a filter never moves the
    selection to another job or file; `old_row` (clamped) when that row is gone."""
    if key is not None:
        try:
            return table.get_row_index(key)
        except RowDoesNotExist:  # filtered out or gone
            pass
    return max(0, min(old_row, table.row_count - 1))
