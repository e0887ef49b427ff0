"""Live progress while the runner polls, on stderr: a refreshed block on a TTY, log lines otherwise.

On a terminal the block is redrawn in place after each evaluation (what is pending and why); in CI
logs each evaluation prints a timestamped summary and only the checks whose status or message
changed, so a long wait does not flood the log.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from verifier.result import Status
from verifier.runner import Evaluation

__all__ = ["Progress"]

_ICON = {Status.PASSED: "✔", Status.PENDING: "…", Status.FAILED: "✘"}


class Progress:
    def __init__(self, stream: TextIO, successes: int, tty: bool | None = None) -> None:
        self.stream = stream
        self.successes = successes
        self.tty = stream.isatty() if tty is None else tty
        self._drawn = 0
        self._seen: dict[str, tuple[Status, str]] = {}
        self._count = 0

    def __call__(self, checked: str, ev: Evaluation, consecutive: int) -> None:
        self._count += 1
        if self.tty:
            self._redraw(checked, ev, consecutive)
        else:
            self._log(checked, ev, consecutive)

    def _summary(self, checked: str, ev: Evaluation, consecutive: int) -> str:
        return (
            f"evaluation {self._count}: {ev.status.value} "
            f"({consecutive}/{self.successes} consecutive passes) - {checked}"
        )

    def _redraw(self, checked: str, ev: Evaluation, consecutive: int) -> None:
        width = max(
            40, shutil.get_terminal_size((160, 24)).columns - 1
        )  # no wrapping: redraw counts lines
        lines = [self._summary(checked, ev, consecutive)]
        if ev.error:
            lines.append(f"  ! {ev.error}")
        for r in ev.results:
            lines.append(f"  {_ICON[r.status]} {r.name}: {r.message}")
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self.stream.write("\n".join(line[:width] for line in lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def _log(self, checked: str, ev: Evaluation, consecutive: int) -> None:
        stamp = ev.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out = [f"{stamp} {self._summary(checked, ev, consecutive)}"]
        if ev.error:
            out.append(f"{stamp}   cluster: {ev.error}")
        for r in ev.results:
            state = (r.status, r.message)
            if self._seen.get(r.name) != state:
                out.append(f"{stamp}   {r.name}: {r.status.value}: {r.message}")
                self._seen[r.name] = state
        self.stream.write("\n".join(out) + "\n")
        self.stream.flush()
