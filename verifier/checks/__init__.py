"""The checks, and the one registry the gate composes them from (in report order).

Each check is pure: it takes a snapshot and the plan's expectation and returns a CheckResult.
Only `verifier.runner` waits and decides; a check never sleeps, retries or talks to the cluster.
To add a check: write a class that implements :class:`Check` and add one line to REGISTRY.
"""

from __future__ import annotations

from verifier.checks.base import Check, Phase
from verifier.checks.cleanup import CleanupSafety
from verifier.checks.connectivity import Connectivity
from verifier.checks.controlplane import ControlPlanes
from verifier.checks.dataplane import DataPlane
from verifier.checks.flavoured import only
from verifier.checks.gatewayroutes import GatewayRoutes
from verifier.checks.gateways import Gateways
from verifier.checks.gitops import GitOpsSync
from verifier.checks.helm_cleanup import HelmCleanupSafety
from verifier.checks.helm_cni import HelmNodeAgents
from verifier.checks.helm_controlplane import HelmControlPlanes
from verifier.checks.helm_dataplane import HelmDataPlane
from verifier.checks.helm_gateways import HelmGateways
from verifier.checks.helm_namespaces import HelmNamespaceLabels
from verifier.checks.helm_tags import RevisionTags
from verifier.checks.helm_webhooks import WebhookHygiene
from verifier.checks.namespaces import NamespaceLabels
from verifier.checks.pullrequest import PullRequestMatchesStage
from verifier.checks.sail_cleanup import SailCleanupSafety
from verifier.checks.sail_cni import SailCNI
from verifier.checks.sail_controlplane import SailControlPlanes
from verifier.checks.sail_inuse import SailInUse
from verifier.checks.sail_shared import SailDataPlane, SailGateways, SailNamespaceLabels
from verifier.checks.sail_tags import SailRevisionTags
from verifier.expectation import Expectation

__all__ = ["REGISTRY", "Check", "Phase", "checks_for"]

REGISTRY: tuple[Check, ...] = (
    PullRequestMatchesStage(),
    GitOpsSync(),
    only("banzai", ControlPlanes()),
    only("helm", HelmControlPlanes()),
    only("helm", RevisionTags()),
    only("helm", WebhookHygiene()),
    only("banzai", DataPlane()),
    only("helm", HelmDataPlane()),
    only("helm", HelmNodeAgents()),
    only("banzai", NamespaceLabels()),
    only("helm", HelmNamespaceLabels()),
    only("banzai", Gateways()),
    only("helm", HelmGateways()),
    only("banzai", CleanupSafety()),
    only("helm", HelmCleanupSafety()),
    only("sail", SailControlPlanes()),
    only("sail", SailInUse()),
    only("sail", SailRevisionTags()),
    only("sail", SailCNI()),
    only("sail", SailDataPlane()),
    only("sail", SailNamespaceLabels()),
    only("sail", SailGateways()),
    only("sail", SailCleanupSafety()),
    Connectivity(),
    GatewayRoutes(),
)


def checks_for(expect: Expectation, phase: Phase | None = None) -> list[Check]:
    """The registered checks that judge this stage (of one phase, if given), in report order."""
    return [c for c in REGISTRY if c.applies(expect) and (phase is None or c.phase is phase)]
