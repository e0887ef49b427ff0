"""What a check is: a name, the stages it judges, and a pure verdict on one snapshot.

The gate composes the checks of an evaluation from :data:`verifier.checks.REGISTRY` alone, so a
new check is one class implementing :class:`Check` plus one line there; mypy holds every entry
to this protocol.
"""

from __future__ import annotations

import enum
from typing import Protocol

from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

__all__ = ["Check", "Phase"]


class Phase(enum.Enum):
    """When in an evaluation a check is judged."""

    SNAPSHOT = "snapshot"  # on the objects the evaluation read
    PROBES = "probes"  # on connectivity probes, run only once the data plane is as expected


class Check(Protocol):
    """One postcondition or precondition of a stage, judged without I/O, sleeps or retries."""

    name: str
    phase: Phase

    def applies(self, expect: Expectation) -> bool:
        """Whether this check judges the stage `expect` describes."""
        ...

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        """PASSED, PENDING (may still heal) or FAILED (will not heal), with evidence."""
        ...
