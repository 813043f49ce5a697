"""The dashboard aggregate cache: fresh entries served as they are, one computation for many
callers of a missing key, a stale entry served while exactly one caller recomputes it."""
import threading
import time

from camnet.aggregates import AggregateCache


def test_many_callers_of_a_missing_key_share_one_computation():
    cache, calls, gate = AggregateCache(60, 60), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return "tổng hợp"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", compute))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == ["tổng hợp"] * 8 and len(calls) == 1


def test_a_stale_entry_is_served_while_one_caller_refreshes_it():
    cache = AggregateCache(0.05, 60)
    assert cache.get("k", lambda: "cũ") == "cũ"
    time.sleep(0.1)  # now stale, still within the grace period
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(5)
        return "mới"

    refresher = threading.Thread(target=lambda: cache.get("k", slow))
    refresher.start()
    assert started.wait(5)
    # meanwhile others get the stale value at once, and do not compute themselves
    assert cache.get("k", lambda: "không được gọi") == "cũ"
    release.set()
    refresher.join(5)
    assert cache.get("k", lambda: "không được gọi") == "mới"


def test_expired_entries_are_recomputed_and_the_size_is_bounded():
    cache = AggregateCache(0, 0, max_entries=3)
    assert [cache.get("k", lambda i=i: i) for i in range(3)] == [0, 1, 2]  # 0 s fresh: every call computes
    for i in range(5):
        cache.get(("key", i), lambda i=i: i)
    assert len(cache._entries) == 3 and cache.computed == 8


def test_a_failed_refresh_keeps_the_last_good_answer_but_a_first_failure_is_raised():
    import pytest

    cache = AggregateCache(0.05, 60)
    assert cache.get("k", lambda: "tốt") == "tốt"
    time.sleep(0.1)

    def broken():
        raise RuntimeError("database down")

    assert cache.get("k", broken) == "tốt"
    with pytest.raises(RuntimeError):
        cache.get("other", broken)
