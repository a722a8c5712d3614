"""The TUI's jobs table: a job waiting for a machine reads as waiting, not as failed. Pure."""

from __future__ import annotations


def test_the_tui_shows_a_waiting_reason_as_pending_not_as_a_failure():
    from rich.style import Style

    from cycle.tui.screens.jobs import cell_style

    assert cell_style("reason", "WAITING_FOR_MACHINE") == Style(color="yellow")
    assert cell_style("reason", "REASSIGNED_FROM_local-0") == Style(color="yellow")
    assert cell_style("reason", "WAITING_FOR_SCHEDULER") == Style(color="yellow")
    assert cell_style("reason", "OUT_OF_MEMORY") == Style(color="red", bold=True)
