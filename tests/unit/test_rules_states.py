from __future__ import annotations

import pytest

from emulator.models import JobState
from emulator.rules.states import IllegalTransition, is_queued, is_unfinished, state_for_exit, transition


def test_final_states_never_change():
    for final in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED):
        for new in JobState:
            with pytest.raises(IllegalTransition):
                transition(final, new)


def test_a_reassignment_sends_a_running_job_back_to_the_queue():
    assert transition(JobState.RUNNING, JobState.PENDING) is JobState.PENDING
    with pytest.raises(IllegalTransition):
        transition(JobState.PENDING, JobState.FINISHED)


def test_upload_error_only_when_the_script_succeeded():
    assert state_for_exit(0, False, upload_failed=True) == (JobState.FAILED, "UPLOAD_ERROR")
    assert state_for_exit(3, False, upload_failed=True) == (JobState.FAILED, "EXIT_CODE_3")
    assert state_for_exit(137, True) == (JobState.FAILED, "OUT_OF_MEMORY")


def test_queued_is_pending_only_and_unfinished_adds_running():
    assert [s for s in JobState if is_queued(s)] == [JobState.PENDING]
    assert {s for s in JobState if is_unfinished(s)} == {JobState.PENDING, JobState.RUNNING}


def test_old_import_path_still_works():
    from emulator import models

    assert models.transition is transition and models.state_for_exit is state_for_exit
