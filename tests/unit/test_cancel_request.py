"""`cycle job cancel` reaches a live agent as a 'cancel' request, not a signal: the agent alone
writes its job's state. No Docker: a thread plays the agent's pump, a child process its pid."""

from __future__ import annotations

import subprocess
import threading
import time

from emulator.models import JobState
from emulator.platform import EmulatorPlatform


def test_cancel_asks_the_live_agent_through_the_requests_table_and_sends_no_signal(tmp_path):
    platform = EmulatorPlatform(tmp_path)
    agent = subprocess.Popen(["sleep", "30"])  # a live agent pid that a SIGTERM would end
    try:
        job = platform.store.create_job("p", agent_pid=agent.pid)
        platform.store.set_state(job.id, JobState.RUNNING)
        stop = threading.Event()

        def pump() -> None:  # what the agent's log pump does with a cancel request
            while not stop.is_set():
                request = platform.store.take_request(job.id)
                if request is not None and request.kind == "cancel":
                    platform.store.set_state(job.id, JobState.CANCELLED, reason="CANCELLED_BY_USER")
                    return
                time.sleep(0.05)

        agent_thread = threading.Thread(target=pump, daemon=True)
        agent_thread.start()
        ended = platform.cancel(job.name)
        stop.set()
        assert (ended.state, ended.reason) == (JobState.CANCELLED, "CANCELLED_BY_USER")
        assert agent.poll() is None, "the agent was signalled instead of asked"
    finally:
        agent.kill()
        agent.wait()


def test_the_cancel_line_mentions_a_container_only_when_one_ran():
    from emulator.job.finish import cancel_line

    by = "`cycle job cancel`"
    assert cancel_line(by, JobState.PENDING, had_container=False) == \
        "job cancelled while PENDING (requested by `cycle job cancel`)"
    assert cancel_line(by, JobState.RUNNING, had_container=True) == \
        "job cancelled (requested by `cycle job cancel`); container removed"
    assert cancel_line(None, JobState.PENDING, had_container=False) == \
        "job cancelled while PENDING by the user (Ctrl-C)"
