"""Pacer: repeated screen work paced by its own cost (cycle.tui.pacing). Pure, no app."""

from __future__ import annotations

from cycle.tui.pacing import Pacer


def test_quick_work_runs_on_every_poll_and_slow_work_waits_for_a_multiple_of_its_cost():
    pacer = Pacer(floor=0.25, factor=4)
    assert pacer.ready(0.0)
    pacer.ran(10.0, 10.01)  # 10 ms: the floor decides, counted from the start: the next 0.5 s poll runs it
    assert not pacer.ready(10.24) and pacer.ready(10.25) and pacer.ready(10.499)
    pacer.ran(20.0, 22.0)  # 2 s: waits 8 s
    assert not pacer.ready(29.9) and pacer.ready(30.0)


def test_the_share_of_time_stays_bounded_however_slow_the_work_gets():
    pacer, now, busy = Pacer(floor=0.0, factor=4), 0.0, 0.0
    for cost in (0.1, 0.5, 2.0, 3.0, 3.0):
        assert pacer.ready(pacer.due) and not pacer.ready(pacer.due - 1e-9)
        now = max(now, pacer.due)
        pacer.ran(now, now + cost)
        busy += cost
        now += cost
    assert busy / pacer.due <= 1 / 5 + 1e-9
