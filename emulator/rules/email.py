"""Whether a job that ended gets an email. Pure."""

from __future__ import annotations

from cycle.api.models import JobState


def wants_email(state: JobState, on_success: bool, on_failure: bool) -> bool:
    """`email_on_success` covers FINISHED, `email_on_failure` covers FAILED; a CANCELLED job (the
    user's own doing) and an unfinished one never send."""
    return (state is JobState.FINISHED and on_success) or (state is JobState.FAILED and on_failure)
