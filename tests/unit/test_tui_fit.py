"""The one rule for a line narrower than its content (cycle.tui.fit): pure, no Textual, no Docker."""

from cycle.tui.fit import Part, fit


def test_with_no_limit_every_part_shows_its_longest_form():
    parts = [Part(0, ("alpha", "a")), Part(1, ("beta", "b"))]
    assert fit(parts, None, " ") == ["alpha", "beta"]


def test_the_least_important_part_gives_way_first_wherever_it_stands_and_the_order_stays():
    parts = [Part(2, ("low",)), Part(0, ("top",)), Part(1, ("mid",))]
    assert fit(parts, 11, " ") == ["low", "top", "mid"]
    assert fit(parts, 10, " ") == [None, "top", "mid"]
    assert fit(parts, 6, " ") == [None, "top", None]


def test_equal_priorities_give_way_from_the_right():
    parts = [Part(1, ("one",)), Part(1, ("two",)), Part(0, ("top",))]
    assert fit(parts, 7, " ") == ["one", None, "top"]


def test_a_part_takes_its_shorter_forms_before_it_goes_whole():
    parts = [Part(0, ("keep",)), Part(1, ("longest", "mid", "s"))]
    assert fit(parts, 11) == ["keep", "longest"]
    assert fit(parts, 10) == fit(parts, 7) == ["keep", "mid"]
    assert fit(parts, 6) == fit(parts, 5) == ["keep", "s"]
    assert fit(parts, 4) == ["keep", None]


def test_a_part_given_its_room_back_shows_its_longest_form_again():
    """The header's rule: the time shortens before the project goes, and has its seconds back after."""
    parts = [Part(0, ("lead",), droppable=False), Part(2, ("12:00:00", "12:00"), droppable=False),
             Part(1, ("project",))]
    assert fit(parts, 21, " ") == ["lead", "12:00:00", "project"]
    assert fit(parts, 20, " ") == fit(parts, 18, " ") == ["lead", "12:00", "project"]
    assert fit(parts, 17, " ") == fit(parts, 13, " ") == ["lead", "12:00:00", None]
    assert fit(parts, 12, " ") == ["lead", "12:00", None]


def test_a_part_that_may_not_be_dropped_stays_in_its_shortest_form_when_nothing_fits():
    parts = [Part(0, ("must stay", "must"), droppable=False), Part(1, ("may go",)),
             Part(2, ("also", "a"), droppable=False)]
    assert fit(parts, 0, " ") == ["must", None, "a"]
    assert fit([], 0) == []


def test_width_is_counted_in_terminal_cells_not_characters():
    """A wide character (CJK, most emoji) takes two cells: three characters of 漢字 need six."""
    parts = [Part(0, ("漢字語",)), Part(1, ("ab",))]
    assert fit(parts, 9, " ") == ["漢字語", "ab"]
    assert fit(parts, 8, " ") == ["漢字語", None]  # 3 characters + 1 + 2 would be 6: it does not fit


def test_a_caller_may_measure_its_forms_itself():
    """The footer's keys are widgets whose columns the footer knows; the separator is still text."""
    widths = {"back": 6, "help": 4}
    parts = [Part(0, ("back",)), Part(1, ("help",), droppable=False)]
    assert fit(parts, 10, cells=widths.__getitem__) == ["back", "help"]
    assert fit(parts, 12, "  ", cells=widths.__getitem__) == ["back", "help"]
    assert fit(parts, 11, "  ", cells=widths.__getitem__) == [None, "help"]

