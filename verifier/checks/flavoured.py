"""A check that judges the plans of one flavour only.

The Banzai checks read `Istio` and `MeshGateway` CRs, which a Helm install has none of; the Helm
checks read webhook configurations and chart releases. Wrapping a check in :func:`only` keeps
the registry one list, in report order, with each entry saying which plans it judges.
"""

from __future__ import annotations

from verifier.checks.base import Check, Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

__all__ = ["only"]


class _Only:
    def __init__(self, check: Check, flavour: str) -> None:
        self.check, self.flavour = check, flavour
        self.name: str = check.name
        self.phase: Phase = check.phase

    def applies(self, expect: Expectation) -> bool:
        return expect.plan.flavour == self.flavour and self.check.applies(expect)

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return self.check.evaluate(snap, expect)


def only(flavour: str, check: Check) -> Check:
    """`check`, judged only for plans of `flavour`."""
    return _Only(check, flavour)
