"""The demo's running commentary: `[ n] kind    what ... ✔ outcome (seconds)`, as each step ends."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from core.errors import CanaryError

__all__ = ["Echo", "Progress", "Step"]

Echo = Callable[[str], None]


class Step:
    """What a step says when it ends well (set by the step's body)."""

    def __init__(self) -> None:
        self.note = ""

    def done(self, note: str) -> None:
        self.note = note


class Progress:
    """Numbered steps, printed as each starts and ends; a CanaryError ends a step with ✘."""

    def __init__(self, echo: Echo, clock: Callable[[], float] = time.monotonic) -> None:
        self.echo = echo
        self.clock = clock
        self.count = 0
        self.started = clock()

    def section(self, title: str) -> None:
        self.echo(f"-- {title}")

    @contextlib.contextmanager
    def step(self, kind: str, what: str) -> Iterator[Step]:
        self.count += 1
        prefix = f"[{self.count:>2}] {kind:<7}"
        self.echo(f"{prefix} {what} ...")
        step, t0 = Step(), self.clock()
        try:
            yield step
        except CanaryError as err:
            self.echo(f"{prefix} ✘ {err}  ({self.clock() - t0:.1f}s)")
            raise
        total = self.clock() - self.started
        self.echo(f"{prefix} ✔ {step.note}  ({self.clock() - t0:.1f}s, {total:.0f}s total)")
