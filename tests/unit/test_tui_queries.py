"""The read-only log queries behind the viewer (emulator/queries.py), on a real StateStore: the
first page by id, a line's position and the log's length, and a case-insensitive search whose
pattern characters are literal. Pure sqlite: no Docker."""

from __future__ import annotations

from emulator.models import Stream
from emulator.queries import log_position, logs_after, search_logs
from emulator.store import StateStore


def make_store(tmp_path):
    store = StateStore(tmp_path / "state.db")
    job = store.create_job("demo")
    other = store.create_job("demo")
    store.append_logs(
        job.id, [(i, Stream.SYSTEM if i % 10 == 0 else Stream.STDOUT, f"line {i} 100%_done") for i in range(1, 101)]
    )
    store.append_logs(other.id, [(i, Stream.STDOUT, f"line {i}") for i in range(1, 50)])
    return store, job


def test_logs_after_reads_the_first_page_and_the_page_after_a_cursor(tmp_path):
    store, job = make_store(tmp_path)
    first = logs_after(store, job.id, 0, 5)
    assert [r.text.split()[1] for r in first] == ["1", "2", "3", "4", "5"]
    assert [r.id for r in logs_after(store, job.id, first[-1].id, 3)] == [
        first[-1].id + 1,
        first[-1].id + 2,
        first[-1].id + 3,
    ]
    assert [r.text.split()[1] for r in logs_after(store, job.id, 0, 2, Stream.SYSTEM)] == ["10", "20"]


def test_log_position_counts_the_lines_before_a_line_and_the_whole_log(tmp_path):
    store, job = make_store(tmp_path)
    records = store.logs(job.id)
    assert log_position(store, job.id, None) == 100
    assert log_position(store, job.id, records[41].id) == 41
    assert log_position(store, job.id, None, Stream.SYSTEM) == 10
    assert log_position(store, job.id, records[41].id, Stream.SYSTEM) == 4


def test_search_is_case_insensitive_and_takes_percent_and_underscore_literally(tmp_path):
    store, job = make_store(tmp_path)
    records = {r.id: r.text for r in store.logs(job.id)}
    assert [records[i] for i in search_logs(store, job.id, "LINE 7 ")] == ["line 7 100%_done"]
    assert len(search_logs(store, job.id, "100%_done")) == 100  # literal, and only this job's lines
    assert search_logs(store, job.id, "100_%") == [] and search_logs(store, job.id, "") == []
    assert len(search_logs(store, job.id, "done", Stream.SYSTEM)) == 10


def test_every_log_read_can_keep_only_the_lines_matching_a_needle(tmp_path):
    """The viewer's "only matches" filter runs in sqlite like the stream filter: pages, the page
    after a cursor, positions and live reads agree, and LIKE's wildcards are literal."""
    from emulator.queries import log_position, logs_after

    store, job = make_store(tmp_path)
    store.append_logs(job.id, [(200, Stream.STDOUT, "line 200 100Xxdone")])  # `%_` must not match `Xx`
    matching = [r.id for r in store.logs(job.id) if "%_done" in r.text]
    assert len(matching) == 100
    assert [r.id for r in store.logs(job.id, matching="%_DONE")] == matching
    assert [r.id for r in store.logs_before(job.id, None, 5, matching="%_done")] == matching[-5:]
    assert [r.id for r in logs_after(store, job.id, matching[9], 3, matching="%_done")] == matching[10:13]
    assert log_position(store, job.id, matching[50], matching="%_done") == 50
    assert log_position(store, job.id, None, Stream.SYSTEM, matching="%_done") == 10
    assert [r.id for r in store.logs(job.id, matching="line 1 ")] == [matching[0]]


def interleaved_store(tmp_path):
    """Job A's log: a stretch it writes alone (dense ids), then batches interleaved with job B's
    (sparse ids), so a search meets both kinds of chunk."""
    store = StateStore(tmp_path / "state.db")
    job, other = store.create_job("demo"), store.create_job("demo")
    texts = ["Epoch %d LOSS 50%%_x" % i if i % 3 == 0 else f"epoch {i} ok" for i in range(400)]
    streams = [Stream.STDERR if i % 4 == 0 else Stream.STDOUT for i in range(400)]
    store.append_logs(job.id, [(i, streams[i], texts[i]) for i in range(200)])
    for start in range(200, 400, 10):
        store.append_logs(job.id, [(i, streams[i], texts[i]) for i in range(start, start + 10)])
        store.append_logs(other.id, [(i, Stream.STDOUT, "epoch LOSS 50%_x") for i in range(30)])
    return store, job


def test_a_chunked_search_answers_exactly_what_one_query_does(tmp_path):
    """The whole-log search cuts the job's id range into chunks scanned in parallel: for every
    chunk size (borders falling on and between matches, dense and interleaved stretches), every
    limit and stream, the ids are those of one plain query, in log order, and only the job's."""
    store, job = interleaved_store(tmp_path)
    records = store.logs(job.id)
    for needle, stream in [("loss 50%_", None), ("LOSS", Stream.STDERR), ("epoch 1", Stream.STDOUT), ("%", None),
                           ("nowhere", None)]:
        wanted = [r.id for r in records if needle.lower() in r.text.lower() and stream in (None, r.stream)]
        assert search_logs(store, job.id, needle, stream, chunk_ids=10**9) == wanted
        for chunk_ids in (5, 64, 250):
            for limit in (1, 34, 10**6):
                assert search_logs(store, job.id, needle, stream, limit=limit, chunk_ids=chunk_ids) == wanted[:limit]
    assert search_logs(store, store.create_job("demo").id, "loss", chunk_ids=3) == []  # a job with no lines


def test_a_chunked_position_counts_exactly_what_one_query_does(tmp_path):
    """A line's position is counted in chunks of the job's id range in parallel: for every chunk
    size, line (the first, one on a chunk border, one of another job's, past the end) and filter,
    it is the number of the job's lines before it that pass the filter."""
    store, job = interleaved_store(tmp_path)
    records = store.logs(job.id)
    lines = [None, records[0].id, records[150].id, records[-1].id, records[-1].id + 5, records[250].id + 11]
    for stream, matching in [(None, ""), (Stream.STDERR, ""), (None, "loss 50%_"), (Stream.STDOUT, "EPOCH 1")]:
        for line_id in lines:
            wanted = sum(1 for r in records if (line_id is None or r.id < line_id) and stream in (None, r.stream)
                         and matching.lower() in r.text.lower())
            for chunk_ids in (5, 64, 10**9):
                assert log_position(store, job.id, line_id, stream, matching, chunk_ids=chunk_ids) == wanted
    assert log_position(store, store.create_job("demo").id, None, chunk_ids=3) == 0  # a job with no lines
