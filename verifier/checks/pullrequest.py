"""The pull request is exactly the stage: what `istio-canary next` writes on top of the base.

The gate recomputes the stage from the base branch (`verifier.review`) before it polls; this check
reports that comparison with every evaluation, so the report names each extra, missing or
different object (and a plan edited beyond the stage pointer). A different change will not heal
by waiting, so it fails at once.
"""

from __future__ import annotations

from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "pr-matches-stage"


class PullRequestMatchesStage:
    """Judged by a gate: the change under review against the stage recomputed from the base."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.review is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        r = expect.review
        if r is None:
            return CheckResult.pending(NAME, "no review of the pull request was made")
        evidence = [
            {"base": r.base.commit, "chosen": r.base.how, "recomputed": r.command or "(nothing)"},
            *r.evidence,
        ]
        if r.problems:
            return CheckResult.failed(
                NAME,
                "the PR differs from the stage recomputed from the base "
                f"({r.base.how}, {r.base.commit[:12]}): " + "; ".join(r.problems),
                evidence,
            )
        if not r.command:
            return CheckResult.passed(
                NAME, f"nothing under review: HEAD is the base ({r.base.commit[:12]})", evidence
            )
        return CheckResult.passed(
            NAME,
            f"the PR is exactly `istio-canary {r.command}` on the base {r.base.commit[:12]}",
            evidence,
        )
