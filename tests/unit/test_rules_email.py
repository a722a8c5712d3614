from __future__ import annotations

from emulator.models import JobState
from emulator.rules.email import wants_email


def test_each_flag_covers_its_own_end():
    assert wants_email(JobState.FINISHED, True, False) and not wants_email(JobState.FINISHED, False, True)
    assert wants_email(JobState.FAILED, False, True) and not wants_email(JobState.FAILED, True, False)


def test_cancelled_and_unfinished_never_send():
    for state in (JobState.CANCELLED, JobState.PENDING, JobState.RUNNING):
        assert not wants_email(state, True, True)


def message_body(started_ns, finished_ns, state=JobState.FAILED) -> str:
    from emulator.mail import compose
    from emulator.models import Job

    job = Job(id=1, name="demo-1", project="demo", state=state, reason=None, machine=None, image=None,
              created_ns=1, started_ns=started_ns, finished_ns=finished_ns, exit_code=1)
    return compose(job, [], "me@example.com").get_content()


def test_the_duration_is_the_one_job_status_shows():
    assert "Duration: 2.5 s" in message_body(10_000_000_000, 12_500_000_000)
    # a job that ended before it started (a refused build) ran for no measurable time: "-", as `job status`
    assert "Duration: -\n" in message_body(None, 12_500_000_000)
