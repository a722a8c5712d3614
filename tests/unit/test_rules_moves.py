from __future__ import annotations

from emulator.models import Machine
from emulator.rules.moves import MoveRequest, move_trigger

HERE = Machine("local-0", "available", None, 1, 1)


def test_a_request_comes_first():
    assert move_trigger((None, 2.0, None), HERE, 0, None) == MoveRequest("requested by `cycle job reassign`", None, 2.0)
    assert move_trigger(("local-3", None, "`cycle tui`"), Machine("local-0", "offline", None, 1, 1), 99, 1) == \
        MoveRequest("requested by `cycle tui`: to local-3", "local-3", None)


def test_machine_going_offline_or_busy():
    for state in ("offline", "busy"):
        found = move_trigger(None, Machine("local-0", state, None, 1, 1), 0, None)
        assert found == MoveRequest(f"machine local-0 went {state}", None, None)


def test_running_too_long():
    assert move_trigger(None, HERE, 10.0, None) is None
    assert move_trigger(None, HERE, 10.0, 10.0) is None
    assert move_trigger(None, HERE, 10.5, 10.0) == MoveRequest("ran longer than 10 s on machine local-0", None, None)
    assert move_trigger(None, HERE, 0.1, 0.0) is not None  # a zero limit is a limit, not "none"
