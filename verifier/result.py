"""What a check says about the cluster: passed, pending (may still heal) or failed (will not heal).

Checks return these; only the runner turns them into an outcome and an exit code. `unverifiable`
marks a PENDING result whose cause is that the cluster could not be asked (exec channel broken,
API errors), so a deadline reached on it ends as "could not verify" (exit 3), not "failed".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "Status", "worst"]


class Status(enum.Enum):
    """Ordered so that `max` picks the worst: PASSED < PENDING < FAILED."""

    PASSED = "passed"
    PENDING = "pending"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return {"passed": 0, "pending": 1, "failed": 2}[self.value]


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict for one evaluation, with the evidence a reviewer needs."""

    name: str
    status: Status
    message: str
    evidence: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    unverifiable: bool = False

    @classmethod
    def passed(
        cls, name: str, message: str, evidence: Sequence[Mapping[str, Any]] = ()
    ) -> CheckResult:
        return cls(name, Status.PASSED, message, tuple(evidence))

    @classmethod
    def pending(
        cls,
        name: str,
        message: str,
        evidence: Sequence[Mapping[str, Any]] = (),
        unverifiable: bool = False,
    ) -> CheckResult:
        return cls(name, Status.PENDING, message, tuple(evidence), unverifiable)

    @classmethod
    def failed(
        cls, name: str, message: str, evidence: Sequence[Mapping[str, Any]] = ()
    ) -> CheckResult:
        return cls(name, Status.FAILED, message, tuple(evidence))


def worst(results: Sequence[CheckResult]) -> Status:
    """The overall status of an evaluation; an empty evaluation is never a pass."""
    if not results:
        return Status.PENDING
    return max((r.status for r in results), key=lambda s: s.rank)
