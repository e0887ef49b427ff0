"""Names a stage's pull request is found by: its branch, and the upgrade it belongs to."""

from __future__ import annotations

from core.plan import Plan, Stage

__all__ = ["BRANCH_PREFIX", "branch_name", "plan_id"]

BRANCH_PREFIX = "istio-canary"


def plan_id(plan: Plan) -> str:
    """The upgrade's short name: the new control plane's CR name is unique per upgrade."""
    return plan.target.name


def branch_name(plan: Plan, stage: Stage) -> str:
    """`istio-canary/<plan>/<stage>`, e.g. `istio-canary/istio-sample-v17x/namespaces-1`."""
    return f"{BRANCH_PREFIX}/{plan_id(plan)}/{stage.name}"
