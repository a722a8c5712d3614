"""RowTable: a virtual table that renders only the rows on screen (the jobs list, a folder of artifacts).

Textual's DataTable measures and stores every row as it is added (0.2-0.4 ms a row with its
layout, by the columns: four seconds for 10,000 jobs or for a folder of 20,000 files, on every
change of the list). Here the rows are plain tuples of strings; replacing them costs a list assignment, and
each repaint renders the ~20 visible lines (the Line API, as toolong's log view), whatever the
number of rows. The selection is a row key (a job name, a file's path): the screens keep it on
the same job or file when rows come, go or are filtered.

It answers the few DataTable calls the screens and their tests use (row_count, cursor_row,
cursor_coordinate, move_cursor, coordinate_to_cell_key, get_cell, get_row_index)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets.data_table import CellKey, ColumnKey, RowDoesNotExist, RowKey

CELL_PADDING = 2  # one blank column on either side of each cell


def shortened(cell: str, width: int) -> str:
    """The cell in `width` cells, ending in an ellipsis when cut, so a shortened name reads as one."""
    return cell if len(cell) <= width else cell[: max(0, width - 1)] + "…"


@dataclass(frozen=True)
class TableColumn:
    key: str
    label: str
    width: int
    index: int  # where the column's cell is in each row tuple (rows keep every column, shown or not)


class RowTable(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    RowTable {
        height: 1fr;
    }
    RowTable > .row-table--header {
        text-style: bold;
        background: $panel;
    }
    RowTable > .row-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    RowTable > .row-table--even-row {
        background: $surface-lighten-1 30%;
    }
    """
    COMPONENT_CLASSES = {"row-table--header", "row-table--cursor", "row-table--even-row"}
    BINDINGS = [
        Binding("up", "step(-1)", "Up", show=False),
        Binding("down", "step(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "edge(0)", "First", show=False),
        Binding("end,ctrl+end", "edge(1)", "Last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True)

    class Clicked(Message):
        """A row was clicked (twice: opened)."""

        def __init__(self, row: int, open: bool) -> None:
            super().__init__()
            self.row, self.open = row, open

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table_columns: list[TableColumn] = []
        self.keys: list[str] = []
        self.cells: list[tuple] = []  # one tuple of cells (strings) per row
        self._index: dict[str, int] = {}
        self.styler = lambda column, cell: Style()  # the style of one cell (the screen colours states)
        self._top_pending = False  # show_top's choice waits for the table's first height (on_resize)
        # the owner's keeper of the user's moves made before the rows came (True: kept, replayed by the owner)
        self.hold_moves: Callable[[Callable[[], None]], bool] | None = None

    # filling -----------------------------------------------------------------------------------
    def set_rows(self, columns: list[TableColumn], keys: list[str], cells: list[tuple]) -> None:
        """Replace every row (a new list, a filter); costs O(rows) list work, no measuring."""
        self.table_columns, self.keys, self.cells = columns, keys, cells
        self._index = {key: i for i, key in enumerate(keys)}
        width = sum(c.width + CELL_PADDING for c in columns)
        self.virtual_size = Size(width, len(keys) + 1)  # + the header line
        self.cursor_row = max(0, min(self.cursor_row, len(keys) - 1))
        self.refresh()

    def update_rows(self, changed: dict[str, tuple]) -> None:
        """Replace the cells of the rows named in `changed` (same keys, same order): a second's refresh."""
        for key, row in changed.items():
            self.cells[self._index[key]] = row
        if changed:
            self.refresh()

    # the DataTable calls the screen and its tests use --------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def columns(self) -> dict[ColumnKey, TableColumn]:
        return {ColumnKey(c.key): c for c in self.table_columns}

    @property
    def cursor_coordinate(self) -> Coordinate:
        return Coordinate(self.cursor_row, 0)

    def coordinate_to_cell_key(self, coordinate: Coordinate) -> CellKey:
        column = self.table_columns[coordinate.column].key
        return CellKey(RowKey(self.keys[coordinate.row]), ColumnKey(column))

    def get_row_index(self, key: str) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise RowDoesNotExist(key) from None

    def get_cell(self, row_key: str, column_key: str | ColumnKey):
        name = column_key.value if isinstance(column_key, ColumnKey) else column_key
        column = next(c for c in self.table_columns if c.key == name)
        return self.cells[self.get_row_index(row_key)][column.index]

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        self.cursor_row = max(0, min(row, len(self.keys) - 1))

    def show_top(self, row: int) -> None:
        """Show the list's start (a new order): the cursor stays on `row` if that row shows there, else
        goes to the first row. A table not laid out yet (a tab just shown, keys typed ahead of the
        screen's update) has no height to tell which rows show: the choice waits for it (on_resize),
        unless the user moves the cursor first; judged against no height, every row but the first
        counted as off screen, and the selection fell to the first row."""
        self._top_pending = not self.size.height
        if not self._top_pending and row >= self.rows_shown:
            row = 0
        self.move_cursor(row=row)
        # after the cursor's own scroll (a row of the first screen: it stays shown); forced, as that scroll
        # is: unforced, Textual skips it while a relayout has the scrollbar hidden
        self.scroll_home(animate=False, immediate=True, force=True)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._keep_cursor_shown()
        self.refresh()

    def on_resize(self) -> None:
        """A lower terminal shows fewer rows: the cursor's stays among them. The first height decides
        a show_top that waited for it."""
        if self._top_pending and self.size.height:
            self.show_top(self.cursor_row)
        self._keep_cursor_shown()

    def _keep_cursor_shown(self) -> None:
        """Scroll so the cursor's row shows below the header line. (Scrolling the row's line into
        view, as for any widget, stopped one short going up: the header always covers the top line,
        so the first row stayed hidden under it.)"""
        if not self.keys:
            return
        row, shown = self.cursor_row, self.rows_shown
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, force=True, immediate=True)
        elif row >= top + shown:
            self.scroll_to(y=row - shown + 1, animate=False, force=True, immediate=True)

    @property
    def rows_shown(self) -> int:
        """How many rows show at once, under the header line."""
        return max(1, self.scrollable_content_region.height - 1)

    def _user_move(self, row: int) -> None:
        """The user's own move: it takes over from a show_top still waiting for the table's height."""
        self._top_pending = False
        self.move_cursor(row=row)

    def action_step(self, step: int) -> None:
        if not self._held(lambda: self.action_step(step)):
            self._user_move(self.cursor_row + step)

    def action_edge(self, last: int) -> None:
        if not self._held(lambda: self.action_edge(last)):
            self._user_move(len(self.keys) - 1 if last else 0)

    def action_page(self, direction: int) -> None:
        if not self._held(lambda: self.action_page(direction)):
            self._user_move(self.cursor_row + direction * max(1, self.size.height - 2))

    def _held(self, move: Callable[[], None]) -> bool:
        """Whether the owner keeps `move` for later (hold_moves): its rows are not there yet."""
        return self.hold_moves is not None and self.hold_moves(move)

    def on_click(self, event) -> None:
        """A click selects its row; a double click, or a click on the row already selected (as in
        Textual's DataTable), opens it. The header line is no row (it covers the row scrolled
        under it)."""
        row = event.y + int(self.scroll_offset.y) - 1
        if event.y >= 1 and 0 <= row < len(self.keys):
            selected = row == self.cursor_row
            self._user_move(row)
            self.post_message(self.Clicked(row, open=event.chain >= 2 or selected))

    # rendering ---------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("row-table--header")
            strip = self._strip((), style, header=True)
        else:
            row = scroll_y + y - 1
            if row >= len(self.keys):
                return Strip.blank(width, self.rich_style)
            if row == self.cursor_row:
                style = self.get_component_rich_style("row-table--cursor")
            elif row % 2:
                style = self.get_component_rich_style("row-table--even-row")
            else:
                style = self.rich_style
            strip = self._strip(self.cells[row], style, header=False, cursor=row == self.cursor_row)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)

    def _strip(self, cells, style: Style, header: bool, cursor: bool = False) -> Strip:
        segments = []
        for column in self.table_columns:
            cell = column.label if header else cells[column.index]
            text = shortened(cell, column.width).ljust(column.width)
            cell_style = style if header or cursor else style + self.styler(column.key, cell)
            segments.append(Segment(" " + text + " ", cell_style))
        return Strip(segments)
