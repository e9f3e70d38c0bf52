"""``sigcore.periodic.Periodic``: a loop that ends when asked, after the step in progress, and never by a
cancellation that the code it runs could lose."""

from __future__ import annotations

import asyncio

from sigcore.periodic import Periodic


async def test_stop_waits_for_the_step_in_progress_and_no_step_starts_after() -> None:
    started = 0
    finished = 0
    in_step = asyncio.Event()
    release = asyncio.Event()

    async def step() -> None:
        nonlocal started, finished
        started += 1
        in_step.set()
        await release.wait()
        finished += 1

    loop = Periodic(step, 0.001, "test-periodic")
    loop.start()
    await in_step.wait()
    stopping = asyncio.ensure_future(loop.stop())
    await asyncio.sleep(0.02)
    assert not stopping.done()  # the step in progress is not abandoned midway
    release.set()
    await stopping
    await asyncio.sleep(0.02)
    assert (started, finished) == (1, 1)


class CountingStep:
    def __init__(self) -> None:
        self.ran = 0

    async def __call__(self) -> None:
        self.ran += 1


async def test_steps_repeat_every_interval_until_stopped() -> None:
    step = CountingStep()
    loop = Periodic(step, 0.005, "test-periodic")
    loop.start()
    while step.ran < 3:
        await asyncio.sleep(0.005)
    await loop.stop()
    at_stop = step.ran
    await asyncio.sleep(0.03)
    assert step.ran == at_stop >= 3


async def test_a_stop_before_the_first_step_runs_none() -> None:
    step = CountingStep()
    loop = Periodic(step, 3600, "test-periodic")
    loop.start()
    await asyncio.sleep(0)
    async with asyncio.timeout(1):
        await loop.stop()
    assert step.ran == 0


async def test_first_at_start_runs_a_step_before_the_first_interval() -> None:
    step = CountingStep()
    loop = Periodic(step, 3600, "test-periodic", first_at_start=True)
    loop.start()
    while step.ran < 1:
        await asyncio.sleep(0.001)
    async with asyncio.timeout(1):
        await loop.stop()
    assert step.ran == 1
