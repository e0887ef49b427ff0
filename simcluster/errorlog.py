"""Log an error once per new error, not once per sync interval (like Argo CD's conditions)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["ErrorLog"]


class ErrorLog:
    """Warns about each message of a batch that the previous batch did not already hold."""

    def __init__(self, logger: logging.Logger, prefix: str = "") -> None:
        self.logger = logger
        self.prefix = prefix
        self._last: frozenset[str] = frozenset()

    def report(self, messages: Iterable[str]) -> None:
        """Log the new messages of this round; an empty round forgets (a recurrence is news)."""
        batch = list(dict.fromkeys(messages))
        for message in batch:
            if message not in self._last:
                self.logger.warning("%s%s", self.prefix, message)
        self._last = frozenset(batch)
