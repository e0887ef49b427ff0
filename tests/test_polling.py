"""The shared polling helper, on a fake clock: it returns the first good answer, waits the
interval between answers, and fails past its deadline naming what it waited for."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.polling import PollTimeout, wait_for, wait_for_async


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def answers(*values: int) -> Iterator[int]:
    yield from values
    while True:
        yield values[-1]


def test_returns_the_first_answer_that_holds_after_waiting_the_interval() -> None:
    clock, seen = FakeClock(), answers(1, 2, 3, 4)

    got = wait_for(
        lambda: next(seen),
        lambda n: n >= 3,
        what="three",
        interval=0.5,
        clock=clock,
        sleep=clock.sleep,
    )

    assert got == 3 and clock.sleeps == [0.5, 0.5]


def test_fails_past_the_deadline_naming_what_it_awaited_and_the_last_answer() -> None:
    clock, seen = FakeClock(), answers(1, 2)

    with pytest.raises(PollTimeout) as err:
        wait_for(lambda: next(seen), lambda n: n > 5, what="n > 5", timeout=2, interval=0.5,
                 clock=clock, sleep=clock.sleep)  # fmt: skip

    assert str(err.value) == "timed out after 2 s waiting for n > 5; last seen: 2"
    assert clock.now - 100.0 == pytest.approx(2.5)  # it asked once more after the deadline
    assert isinstance(err.value, AssertionError)


def test_a_callable_description_is_read_at_the_deadline() -> None:
    clock, state = FakeClock(), {"busy": "starting"}

    def probe() -> bool:
        state["busy"] = f"at {clock.now:g}"
        return False

    with pytest.raises(PollTimeout, match=r"waiting for idle \(busy at 101.2\); last seen: False"):
        wait_for(probe, what=lambda: f"idle (busy {state['busy']})", timeout=1, interval=0.4,
                 clock=clock, sleep=clock.sleep)  # fmt: skip


def test_the_async_form_yields_between_answers_and_fails_the_same_way() -> None:
    clock, seen = FakeClock(), answers(0, 0, 1)

    async def run() -> tuple[int, PollTimeout | None]:
        got = await wait_for_async(
            lambda: next(seen), what="one", clock=clock, sleep=clock.async_sleep
        )
        try:
            await wait_for_async(lambda: 0, what="never", timeout=0.05, clock=clock,
                                 sleep=clock.async_sleep)  # fmt: skip
        except PollTimeout as err:
            return got, err
        return got, None

    got, err = asyncio.run(run())

    assert got == 1 and clock.sleeps[:2] == [0.01, 0.01]
    assert err is not None and "waiting for never; last seen: 0" in str(err)
