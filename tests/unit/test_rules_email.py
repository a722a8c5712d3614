from __future__ import annotations

from emulator.models import JobState
from emulator.rules.email import wants_email


def test_each_flag_covers_its_own_end():
    assert wants_email(JobState.FINISHED, True, False) and not wants_email(JobState.FINISHED, False, True)
    assert wants_email(JobState.FAILED, False, True) and not wants_email(JobState.FAILED, True, False)


def test_cancelled_and_unfinished_never_send():
    for state in (JobState.CANCELLED, JobState.PENDING, JobState.RUNNING):
        assert not wants_email(state, True, True)
