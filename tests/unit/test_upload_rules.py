"""The stability rule and the upload order, property-tested with hypothesis (pure, no IO)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cycle.api.keys import natural_key
from emulator.rules.stability import StabilityTracker, Stable, in_write_order
from emulator.rules.upload_queue import FIFO, LIFO, UploadQueue

WINDOW = 500  # ms: the spec's 500 ms, in integer milliseconds so the oracle is exact
TICK = 50


@given(st.lists(st.one_of(st.tuples(st.just("push"), st.integers(0, 5)), st.just(("pop",))), max_size=60),
       st.sampled_from([FIFO, LIFO]))
def test_queue_pops_in_write_order_or_newest_first(ops, order):
    queue = UploadQueue(order)
    reference: dict[str, int] = {}
    seq = 0
    for op in ops:
        if op[0] == "push":
            seq += 1
            path = f"f{op[1]}"
            queue.push(Stable(path, (seq, seq), seq), now=seq)
            reference[path] = seq  # a re-pushed file moves to its newest place
        else:
            item = queue.pop()
            if not reference:
                assert item is None
                continue
            pick = min if order == FIFO else max
            expected = pick(reference, key=reference.get)
            assert item.path == expected and item.seq == reference.pop(expected)
        assert len(queue) == len(reference)


@given(st.lists(st.one_of(st.tuples(st.just("push"), st.integers(0, 5)),
                          st.tuples(st.just("many"), st.sets(st.integers(0, 9), max_size=8)),
                          st.just(("pop",))), max_size=40),
       st.sampled_from([FIFO, LIFO]))
def test_many_pushed_at_once_pop_as_if_pushed_one_by_one(ops, order):
    """push_many (a job's end queues every waiting file at once) against push() of each: the same
    pops, whichever of its two ways it takes (heap rebuilt, or a push each onto a longer queue)."""
    at_once, one_by_one = UploadQueue(order), UploadQueue(order)
    seq = 0
    for op in ops:
        if op[0] == "pop":
            first, second = at_once.pop(), one_by_one.pop()
            assert (first and (first.path, first.seq)) == (second and (second.path, second.seq))
            continue
        items = []
        for number in ([op[1]] if op[0] == "push" else sorted(op[1])):
            seq += 1
            items.append(Stable(f"f{number}", (seq, seq), seq))
        at_once.push_many(items, now=seq)
        for item in items:
            one_by_one.push(item, now=seq)
        assert len(at_once) == len(one_by_one) and at_once.pushes == one_by_one.pushes
        assert at_once.nonempty_since == one_by_one.nonempty_since


@given(st.lists(st.tuples(st.integers(0, 8), st.booleans()), max_size=30), st.sampled_from([FIFO, LIFO]),
       st.integers(1, 6))
def test_a_run_is_the_next_items_in_queue_order_while_they_fit(pushes, order, limit):
    """pop_run takes what pops would, in the same order: the next item always, and after a small
    one the small ones that follow, up to `limit`; it stops before a large one (it goes alone)."""
    queue, reference = UploadQueue(order), UploadQueue(order)
    for seq, (name, small) in enumerate(pushes, start=1):
        item = Stable(f"f{name}", (1 if small else 100, seq), seq)
        queue.push(item, now=seq)
        reference.push(item, now=seq)
    fits = lambda item: item.signature[0] == 1  # noqa: E731
    while len(reference):
        expected = [reference.pop()]
        while fits(expected[0]) and len(expected) < limit and (after := reference._next()) is not None and fits(after):
            expected.append(reference.pop())
        assert queue.pop_run(limit, fits) == expected
        assert len(queue) == len(reference)
    assert queue.pop_run(limit, fits) == []


@given(st.lists(st.tuples(st.integers(0, 8), st.booleans()), max_size=30), st.sampled_from([FIFO, LIFO]),
       st.integers(1, 4), st.integers(1, 40))
def test_upcoming_is_what_pops_next_that_fits_and_leaves_the_queue_as_it_was(pushes, order, limit, within):
    """upcoming names the items that fit among the next `within` pops, in pop order (the large
    files whose snapshot may start early), and pops nothing."""
    queue = UploadQueue(order)
    for seq, (name, small) in enumerate(pushes, start=1):
        queue.push(Stable(f"f{name}", (1 if small else 100, seq), seq), now=seq)
    large = lambda item: item.signature[0] == 100  # noqa: E731
    found = queue.upcoming(limit, large, within)
    entries, before = len(queue._heap), len(queue)
    popped = [queue.pop() for _ in range(len(queue))]
    assert before == len(popped)
    expected = [item for item in popped[:within] if large(item)][:limit]
    assert found == expected[:len(found)]  # never another item, nor out of order
    if entries <= 4 * within:  # it looks no further than that many heap entries
        assert found == expected


def test_queue_age_counts_the_file_in_flight():
    queue = UploadQueue(FIFO)
    assert queue.age(10) == 0
    queue.push(Stable("a", (1, 1), 1), now=100)
    assert queue.pop().path == "a"
    assert queue.age(700) == 600  # popped but still uploading: the queue is not yet empty
    assert not queue.warning_due(700) and queue.warning_due(700.5)
    queue.settle()
    assert queue.age(800) == 0 and not queue.warning_due(800)


writes_strategy = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1200)), min_size=1, max_size=25)


@settings(max_examples=300)
@given(writes_strategy)
def test_every_stable_version_uploads_exactly_once(writes):
    """Writes at random gaps; the uploader is instant. A version uploads iff some tick falls at least
    WINDOW after it was written and before it was overwritten; never twice; finals always."""
    timeline, now = [], 0
    for path_index, gap in writes:
        now += gap
        timeline.append((now, f"file{path_index}"))
    tracker, queue = StabilityTracker(WINDOW), UploadQueue(FIFO)
    fs: dict[str, tuple[int, int]] = {}
    versions: list[tuple[str, tuple[int, int], int]] = []  # (path, signature, written at)
    uploaded: list[tuple[str, tuple[int, int]]] = []
    stored: dict[str, tuple[int, int]] = {}
    end = timeline[-1][0] + 2 * WINDOW
    pending = list(timeline)
    for tick in range(0, end + TICK, TICK):
        while pending and pending[0][0] <= tick:
            at, path = pending.pop(0)
            signature = (len(versions), at)
            fs[path] = signature
            versions.append((path, signature, at))
            tracker.touch(path, at, signature)
        for item in tracker.due(tick, fs.get):
            if stored.get(item.path) != item.signature:
                queue.push(item, tick)
        while (item := queue.pop()) is not None:
            uploaded.append((item.path, item.signature))
            stored[item.path] = item.signature
        queue.settle()
    assert len(uploaded) == len(set(uploaded)), "a version was uploaded twice"
    for index, (path, signature, at) in enumerate(versions):
        overwritten = next((v[2] for v in versions[index + 1:] if v[0] == path), None)
        ticks = [t for t in range(0, end + TICK, TICK) if t >= at + WINDOW and (overwritten is None or t < overwritten)]
        assert ((path, signature) in uploaded) == bool(ticks), (path, signature, at, overwritten)
    for path, signature in fs.items():
        assert (path, signature) in uploaded, "the final version of every file must reach storage"


def test_a_change_without_an_event_restarts_the_window():
    tracker = StabilityTracker(WINDOW)
    tracker.touch("a", 0, (1, 1))
    assert tracker.due(600, lambda p: (2, 2)) == []  # changed silently (polling missed it)
    assert tracker.due(1000, lambda p: (2, 2)) == []  # 400 ms since the change was seen
    assert [s.path for s in tracker.due(1100, lambda p: (2, 2))] == ["a"]


def test_vanished_files_leave_the_tracker():
    tracker = StabilityTracker(WINDOW)
    tracker.touch(".tmp-ckpt", 0, (1, 1))
    tracker.touch("ckpt", 10, (1, 2))  # renamed into place
    ready = tracker.due(600, lambda p: None if p == ".tmp-ckpt" else (1, 2))
    assert [s.path for s in ready] == ["ckpt"] and len(tracker) == 0


def test_flush_returns_pending_in_write_order_as_last_seen():
    """At the job's end: every pending file in write order, with the signature it was last seen
    with (the uploader checks it again before reading); only a file seen without one is stat'ed."""
    tracker = StabilityTracker(WINDOW)
    tracker.touch("b", 0, (1, 1))
    tracker.touch("a", 5, (2, 2))
    tracker.touch("late", 6, None)  # its event came before the file was there
    tracker.touch("never", 7, None)
    asked = []

    def stat(path):
        asked.append(path)
        return (3, 3) if path == "late" else None

    assert [(s.path, s.signature) for s in tracker.flush(stat)] == [("b", (1, 1)), ("a", (2, 2)), ("late", (3, 3))]
    assert asked == ["late", "never"] and len(tracker) == 0


_NAMES = st.text(alphabet="ab-9012.", min_size=1, max_size=8)


@given(st.lists(st.tuples(_NAMES, st.integers(0, 4)), max_size=40, unique_by=lambda pair: pair[0]))
def test_a_scan_orders_files_by_mtime_and_ties_by_natural_name(files):
    """in_write_order sorts by mtime and compares names only within a tie: the same order as one
    sort by (mtime, natural name), including names natural order counts as equal (kept in the
    scan's order), with few mtimes (many ties) or none alike."""
    found = [(name, (len(name), mtime, 0)) for name, mtime in files]
    assert in_write_order(found) == sorted(found, key=lambda pair: (pair[1][1], natural_key(pair[0])))


def test_a_tie_of_write_time_goes_by_natural_name():
    found = [("step-10", (1, 7, 0)), ("step-9", (1, 7, 0)), ("late", (1, 9, 0)), ("early", (1, 2, 0))]
    assert [name for name, _signature in in_write_order(found)] == ["early", "step-9", "step-10", "late"]
