"""Waiting in tests: ask again until the answer is right or a deadline passes.

Tests never sleep a fixed time to let something happen; they poll with `wait_for` (or
`wait_for_async` on an event loop), which fails with a message naming what was awaited, how long,
and the last answer seen. The clock and the sleep are parameters, so the helper itself is tested
on a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["PollTimeout", "wait_for", "wait_for_async"]

T = TypeVar("T")
Description = str | Callable[[], str]


class PollTimeout(AssertionError):
    """The awaited condition did not hold before the deadline (a test failure, not an error)."""


def _timed_out(what: Description, timeout: float, value: object) -> PollTimeout:
    said = what() if callable(what) else what
    return PollTimeout(f"timed out after {timeout:g} s waiting for {said}; last seen: {value!r}")


def wait_for(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    what: Description,
    timeout: float = 10.0,
    interval: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call `probe` every `interval` s until `until(answer)` is true; return that answer.

    Past `timeout` s it raises PollTimeout naming `what` (a string, or a function called at the
    deadline for a description of the state then) and the last answer.
    """
    deadline = clock() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if clock() > deadline:
            raise _timed_out(what, timeout, value)
        sleep(interval)


async def wait_for_async(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    what: Description,
    timeout: float = 5.0,
    interval: float = 0.01,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """`wait_for` for code on an event loop: it yields to the loop between answers (the loop's
    own clock by default), so the tasks being awaited keep running."""
    now = clock or asyncio.get_running_loop().time
    deadline = now() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if now() > deadline:
            raise _timed_out(what, timeout, value)
        await sleep(interval)
