"""Every byte a job prints reaches its log: a line holding bytes that are not UTF-8 is kept as
those bytes (a BLOB in the logs table) and every reader gives them back byte for byte; only a
screen that must draw them shows U+FFFD. sqlite only, no Docker."""

from __future__ import annotations

from emulator.models import JobState, LogRecord, Stream
from emulator.queries import logs_after
from emulator.store import StateStore
from emulator.store.direct import ended_job_log_tail

PRINTED = [b"plain ascii", b"bad \xff\xfe end", "caf\u00e9 \u2588\u2588 50%".encode(), b"\xed\xa0\x80 and \x80"]
TEXTS = [line.decode("utf-8", "surrogateescape") for line in PRINTED]  # as the attach stream's splitter gives them


def stored_job(tmp_path):
    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p")
    store.append_logs(job.id, [(i + 1, Stream.STDOUT, text) for i, text in enumerate(TEXTS)])
    return store, job


def test_lines_that_are_not_utf8_are_stored_and_read_back_byte_for_byte(tmp_path):
    store, job = stored_job(tmp_path)
    for records in (store.logs(job.id), store.logs_before(job.id, None, 10), logs_after(store, job.id, 0, 10)):
        assert [r.text.encode("utf-8", "surrogateescape") for r in records] == PRINTED
    store.end_abandoned(job.id, JobState.FAILED, "LOST", "its agent died")
    tail = ended_job_log_tail(str(tmp_path), job.name, None)  # `cycle job logs` of an ended job, read directly
    assert [text.encode("utf-8", "surrogateescape") for _ts, _stream, text in tail[:4]] == PRINTED


def test_a_search_finds_a_line_that_is_not_utf8_by_its_text(tmp_path):
    """Such a line is a BLOB, which sqlite's LIKE never matches: `job logs --grep`, the TUI's
    search and a filtered view all missed it."""
    from emulator.queries import search_logs

    store, job = stored_job(tmp_path)
    found = search_logs(store, job.id, "END")
    assert [r.text for r in store.logs(job.id) if r.id in found] == [TEXTS[1]]
    assert [r.text for r in store.logs(job.id, matching=" and ")] == [TEXTS[3]]


def test_the_tuis_in_window_search_agrees_with_the_stores_on_lines_that_are_not_utf8(tmp_path):
    """The TUI matches the lines it holds (live ones too) itself: its strict encode raised on such
    a line, on the screen's thread, where the store's search matched it."""
    from cycle.tui.widgets.log_search import holds
    from emulator.queries import search_logs

    store, job = stored_job(tmp_path)
    for needle in ("END", " and ", "BAD", "caf", "50%"):
        found = set(search_logs(store, job.id, needle))
        assert {r.id for r in store.logs(job.id) if holds(r.text, needle)} == found, needle


def test_output_log_holds_the_jobs_bytes(tmp_path):
    from cycle.pull import write_output_log

    records = [LogRecord(i, 1, 1_700_000_000_000_000_000, Stream.STDOUT, text) for i, text in enumerate(TEXTS)]
    data = write_output_log(tmp_path / "job", records).read_bytes()
    assert [line.split(b"[stdout] ", 1)[1] for line in data.splitlines()] == PRINTED


def test_a_screen_shows_bytes_that_are_not_utf8_as_the_replacement_character():
    from cycle.api.wording import displayable

    assert [displayable(text) for text in TEXTS] == [
        "plain ascii", "bad \ufffd\ufffd end", "caf\u00e9 \u2588\u2588 50%", "\ufffd\ufffd\ufffd and \ufffd"]
    assert all(displayable(text).encode("utf-8") for text in TEXTS)  # a terminal can draw each


def test_an_email_quoting_a_line_that_is_not_utf8_is_sent(tmp_path):
    """The end-of-job email quotes the log's last lines: one holding a byte that is not UTF-8 made
    composing it raise UnicodeEncodeError (a traceback, no email, no event)."""
    from cycle.api.wording import displayable
    from emulator.mail import compose

    store = StateStore(tmp_path / "state.db")
    job = store.create_job("p")
    message = compose(job, [f"[stdout] {displayable(text)}" for text in TEXTS], "me@example.com")
    body = message.get_content()
    assert "[stdout] bad \ufffd\ufffd end" in body and "caf\u00e9" in body and message.as_bytes()
