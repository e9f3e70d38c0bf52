"""`service.settle_gc`: after start-up, requests in flight must not set off full collections.

The load is what a busy HSS holds: a window of requests in flight (each a few container objects that live
a little while, then die without cycles) over a heap of long-lived cached objects. With CPython's default
young threshold (700) the in-flight objects get promoted and full collections follow, each walking the
whole cache; after `settle_gc` none runs, while cyclic garbage is still collected.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator

import pytest

from sigcore.service import YOUNG_GC_THRESHOLD, settle_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def full_collections_under_load(requests: int = 200_000, in_flight: int = 2_000) -> int:
    cache = [{"profile": [i, str(i)]} for i in range(20_000)]  # long-lived, like cached keys and profiles
    counted = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            counted[0] += 1

    gc.callbacks.append(count)
    try:
        window: deque[list[object]] = deque()
        for n in range(requests):  # bursts: a read brings many requests, their answers go out together
            window.append([{"avp": n}, [n, n], (n, [n])])
            if len(window) > in_flight:
                window.clear()
    finally:
        gc.callbacks.remove(count)
    del cache
    return counted[0]


def test_default_thresholds_run_full_collections_under_load(restored_gc: None) -> None:
    """The reference: what settle_gc did before it raised the threshold (freeze, default thresholds)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 10)
    assert full_collections_under_load() > 0


def test_after_settle_gc_requests_in_flight_set_off_no_full_collection(restored_gc: None) -> None:
    settle_gc()
    assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD
    assert full_collections_under_load() == 0


def test_after_settle_gc_cyclic_garbage_is_still_collected(restored_gc: None) -> None:
    settle_gc()
    collected = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected[0] += info["collected"]

    gc.callbacks.append(count)
    try:
        for _ in range(2 * YOUNG_GC_THRESHOLD):
            cycle: list[object] = []
            cycle.append(cycle)
    finally:
        gc.callbacks.remove(count)
    assert collected[0] >= YOUNG_GC_THRESHOLD // 2
