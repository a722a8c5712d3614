"""Issue 10, data items: nothing the job printed or wrote is lost, nothing hangs, nothing escapes.

Against the real Docker engine and, where storage matters, the real moto S3 server."""

from __future__ import annotations

import os

from emulator.models import JobState, Stream


def test_last_line_without_newline_reaches_live_output_and_stored_log(project):
    project.write(".cycleswap/run.sh", "echo first; echo err-first >&2; printf 'err-done' >&2; printf 'done'\n")
    missing = []
    for attempt in range(10):
        run = project.test()
        assert run.exit_code == 0, run.output
        stored = {(r.stream, r.text) for r in run.logs}
        for stream, text in ((Stream.STDOUT, "done"), (Stream.STDERR, "err-done")):
            if (stream, text) not in stored:
                missing.append(f"run {attempt}: stored log lacks {stream.value} {text!r}")
        if "done" not in run.output.replace("err-done", "") or "err-done" not in run.output:
            missing.append(f"run {attempt}: live output lacks a last line: {run.output[-300:]!r}")
        stdout = [r.text for r in run.logs if r.stream is Stream.STDOUT]
        if stdout != ["first", "done"]:
            missing.append(f"run {attempt}: stdout lines {stdout}")
    assert not missing, "\n".join(missing)


def test_a_reread_since_the_last_timestamp_drops_only_what_was_delivered():
    from emulator.runtime import DeliveredFrames

    delivered = DeliveredFrames()
    for frame in (b"2026-11-23T14:36:00.5Z a\n", b"2026-11-23T14:36:01.25Z b\n", b"2026-11-23T14:36:01.25Z c\n"):
        delivered.note(frame)
    reread = [b"2026-11-23T14:36:01.1Z x\n", b"2026-11-23T14:36:01.25Z b\n", b"2026-11-23T14:36:01.25Z c\n",
              b"2026-11-23T14:36:01.25Z tail", b"2026-11-23T14:36:01.3Z more"]
    assert list(delivered.new_frames(iter(reread))) == [b"2026-11-23T14:36:01.25Z tail", b"2026-11-23T14:36:01.3Z more"]
    assert list(DeliveredFrames().new_frames(iter([b"2026-11-23T14:36:00Z all"]))) == [b"2026-11-23T14:36:00Z all"]
